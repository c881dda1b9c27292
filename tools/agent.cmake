add_executable(nest-agent ${CMAKE_CURRENT_LIST_DIR}/nest_agent.cc)
target_link_libraries(nest-agent PRIVATE nest_agent_guest nest_core CLI11::CLI11)
target_compile_definitions(nest-agent PRIVATE NEST_VERSION="${PROJECT_VERSION}")
# The agent ships inside every guest's initramfs, which the guest kernel
# unpacks and the init copies into a tmpfs at each boot: DWARF would make it
# 20x larger (16 MB vs 0.8 MB of code) for nothing a guest can use. The
# symbol table stays, so backtraces keep function names.
target_link_options(nest-agent PRIVATE -Wl,--strip-debug)

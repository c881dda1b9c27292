add_executable(nest-agent ${CMAKE_CURRENT_LIST_DIR}/nest_agent.cc)
target_link_libraries(nest-agent PRIVATE nest_agent_guest nest_core CLI11::CLI11)
target_compile_definitions(nest-agent PRIVATE NEST_VERSION="${PROJECT_VERSION}")

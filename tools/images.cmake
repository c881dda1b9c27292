# nest-image: a plain command-line entry point to the images library, for
# tests, the demo and operators (import, list, unpack, bundle, gc, disks).
add_executable(nest-image ${CMAKE_CURRENT_LIST_DIR}/nest_image.cc)
target_link_libraries(nest-image PRIVATE nest_images nest_core CLI11::CLI11)
target_compile_definitions(nest-image PRIVATE NEST_VERSION="${PROJECT_VERSION}")

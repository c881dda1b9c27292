# nestctl's commands live in cli/ (nest_cli); the main() stays here.
target_link_libraries(nestctl PRIVATE nest_cli)

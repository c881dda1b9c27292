// nestctl: the Nest command-line client (talks only to the nest.v1 API).
#include <string>

#include "CLI/CLI.hpp"

int main(int argc, char** argv) {
  CLI::App app{"nestctl: drive Nest over its gRPC API"};
  app.set_version_flag("--version", std::string("nestctl ") + NEST_VERSION);
  app.require_subcommand(1);
  CLI11_PARSE(app, argc, argv);
  return 0;
}

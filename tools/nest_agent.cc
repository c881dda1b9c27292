// nest-agent: runs inside each microVM and starts containers with crun.
#include <string>

#include "CLI/CLI.hpp"

int main(int argc, char** argv) {
  CLI::App app{"nest-agent: the in-guest agent that runs containers with crun"};
  app.set_version_flag("--version", std::string("nest-agent ") + NEST_VERSION);
  CLI11_PARSE(app, argc, argv);
  return 1;
}

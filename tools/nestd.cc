// nestd: the Nest control plane.
#include <cstdio>
#include <string>

#include "CLI/CLI.hpp"
#include "core/log.h"
#include "spdlog/spdlog.h"

int main(int argc, char** argv) {
  CLI::App app{"nestd: the Nest control plane (gRPC API, state, placement, "
               "reconcilers)"};
  app.set_version_flag("--version", std::string("nestd ") + NEST_VERSION);
  bool dev = false;
  std::string state_dir = "/var/lib/nest";
  std::string log_format = "text", log_level = "info";
  app.add_flag("--dev", dev,
               "embedded default: local qemu:///system, state under "
               "--state-dir, API on 127.0.0.1");
  app.add_option("--state-dir", state_dir, "where state and images live")
      ->capture_default_str();
  app.add_option("--log-format", log_format, "text|json")->capture_default_str();
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  auto format = nest::ParseLogFormat("--log-format", log_format);
  if (!format.ok()) {
    std::fprintf(stderr, "nestd: %s\n", std::string(format.status().message()).c_str());
    return 2;
  }
  if (auto s = nest::SetupLogging("nestd", *format, log_level); !s.ok()) {
    std::fprintf(stderr, "nestd: %s\n", std::string(s.message()).c_str());
    return 2;
  }
  spdlog::error("nestd cannot run workloads yet: the control plane is not built");
  return 1;
}

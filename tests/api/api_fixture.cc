#include "tests/api/api_fixture.h"

#include <cstdio>
#include <cstdlib>

namespace nest::api::testing {

ApiFixture::ApiFixture(ApiFixtureOptions options) {
  auto s = store::Store::Open({dir.path + "/state.db"}, clock);
  if (!s.ok()) {
    std::fprintf(stderr, "store: %s\n", s.status().ToString().c_str());
    std::abort();
  }
  store = std::move(*s);
  if (options.controller) {
    control::ControllerOptions opts;
    opts.host_reserved = Resources::Of(0, 0, 0);
    controller = std::make_unique<control::Controller>(
        *store, hosts, provisioner, agents, images, clock, opts);
    options.commands.placement.host_reserved = opts.host_reserved;
    options.commands.placement.vmm_overhead_mib = opts.vmm_overhead_mib;
  }
  commands = std::make_unique<control::Commands>(
      *store, controller.get(), images, clock, options.commands);
  ServiceOptions so;
  so.watch_poll = absl::Milliseconds(50);
  so.auth = options.auth;
  services = MakeServices(*commands, so);
  ServerOptions server_options;
  server_options.listen_address = "127.0.0.1:0";
  auto started = StartServer(server_options, services.raw());
  if (!started.ok()) {
    std::fprintf(stderr, "server: %s\n", started.status().ToString().c_str());
    std::abort();
  }
  server = std::move(*started);
}

ApiFixture::~ApiFixture() {
  store->Shutdown();  // wakes watchers
  if (server) server->Shutdown();
  server.reset();
  if (controller) controller->Stop();
}

void ApiFixture::Converge(int passes) {
  for (int i = 0; i < passes; ++i) {
    (void)controller->ReconcileOnce();
    controller->AwaitIdle();
  }
}

std::string ApiFixture::address() const {
  return "127.0.0.1:" + std::to_string(server->port());
}

}  // namespace nest::api::testing

// A nest.v1 server over a simulated cluster, for the API tests and the
// api_test_server binary: store in a temp dir, simulated hosts and agents,
// a controller driven by the test (ReconcileOnce), Commands and the eight
// services on 127.0.0.1:0.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "api/server.h"
#include "api/services.h"
#include "control/commands.h"
#include "control/controller.h"
#include "control/sim.h"

namespace nest::api::testing {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/nest-api-XXXXXX";
    char* p = mkdtemp(tmpl);
    path = p ? p : "";
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

struct ApiFixtureOptions {
  bool controller = true;
  control::CommandsOptions commands;
  // The services tests act as an operator without tokens; the auth tests
  // use real tokens.
  AuthMode auth = AuthMode::kTrustAll;
};

class ApiFixture {
 public:
  explicit ApiFixture(ApiFixtureOptions options = {});
  ~ApiFixture();

  // Runs controller passes (VM boots finish between passes).
  void Converge(int passes = 6);

  std::string address() const;

  TempDir dir;
  FakeClock clock;
  std::unique_ptr<store::Store> store;
  control::SimHostConnector hosts{vmm::SimHostConfig{}, clock};
  control::SimAgentConnector agents;
  control::SimProvisioner provisioner;
  control::StaticImageSource images;
  std::unique_ptr<control::Controller> controller;
  std::unique_ptr<control::Commands> commands;
  Services services;
  std::unique_ptr<Server> server;
};

}  // namespace nest::api::testing

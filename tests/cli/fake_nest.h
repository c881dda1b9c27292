// An in-memory nest.v1 server for nestctl's binary tests: every service
// over maps guarded by one mutex, listening on 127.0.0.1:0. It validates a
// little (so INVALID_ARGUMENT with BadRequest details can be tested), and
// workloads converge at once unless their image is "stuck".
#pragma once

#include <memory>
#include <string>

#include "absl/synchronization/mutex.h"
#include "grpcpp/grpcpp.h"

namespace nest::cli::testing {

class FakeNest {
 public:
  FakeNest();
  ~FakeNest();

  // "127.0.0.1:PORT".
  std::string address() const;
  // Writes that changed state (create, update, delete, scale).
  int writes() const;
  // The authorization metadata of the last call ("" if none).
  std::string last_authorization() const;

  // The next change of `workload` is not acted on at once: its status
  // keeps the previous observed_generation (with the previous replicas
  // still running) for the next `reads` GetWorkload calls, forever when
  // negative, and then converges.
  void HoldRollout(const std::string& workload, int reads);

  // Seeds a host, an image and a VM so list outputs have content.
  void Seed();

  // The in-memory state; defined and used only in fake_nest.cc.
  struct State;

 private:
  std::unique_ptr<State> state_;
  std::unique_ptr<grpc::Service> services_[9];
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace nest::cli::testing

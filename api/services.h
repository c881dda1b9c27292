// The ten nest.v1 services over control::Commands, each call authenticated
// and authorized (api/auth.h). They translate protos
// (api/convert.h), call one command, and return errors only through
// ToGrpcStatus. No business rules live here.
//
//   auto services = MakeServices(commands);
//   StartServer(options, services.raw());
//
// Streams (EventService.Watch, ContainerService.StreamLogs) check the
// client's cancellation between short waits, so a client that goes away
// frees its handler thread within about a second.
//
// Thread-safety: the services are thread-safe (Commands is). They must
// outlive the server they are registered with.
#pragma once

#include <grpcpp/grpcpp.h>
#include <grpcpp/impl/service_type.h>

#include <memory>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "api/auth.h"
#include "control/commands.h"

namespace nest::api {

// Counts server-streaming handlers in flight (for tests and metrics).
// Thread-safe.
class StreamTracker {
 public:
  void Enter();
  void Exit();
  int active() const;
  int total() const;  // streams ever started
  // Waits until at most `n` streams are active or `timeout` passes;
  // returns whether the condition holds.
  bool AwaitActiveAtMost(int n, absl::Duration timeout) const;
  // Waits until `n` streams were ever started.
  bool AwaitTotalAtLeast(int n, absl::Duration timeout) const;

 private:
  mutable absl::Mutex mu_;
  int active_ ABSL_GUARDED_BY(mu_) = 0;
  int total_ ABSL_GUARDED_BY(mu_) = 0;
};

struct ServiceOptions {
  // How long a Watch waits for new events before checking cancellation.
  absl::Duration watch_poll = absl::Milliseconds(200);
  // Events read per store query while catching up.
  int64_t watch_batch = 500;
  // Tokens (nestd) or trust every caller (tests of other layers).
  AuthMode auth = AuthMode::kTokens;
};

// Owns the services. Keep it alive as long as the server runs.
struct Services {
  std::unique_ptr<Gate> gate;
  std::vector<std::unique_ptr<grpc::Service>> owned;
  std::shared_ptr<StreamTracker> streams;
  // Borrowed pointers for StartServer.
  std::vector<grpc::Service*> raw() const;
};

// HostService, VmGroupService, VmService, WorkloadService,
// ContainerService, ImageService, EventService, PlacementService,
// UsageService, TokenService.
Services MakeServices(control::Commands& commands,
                      const ServiceOptions& options = {});

}  // namespace nest::api

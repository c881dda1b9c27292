// Helpers shared by the agent tests: temp dirs, socketpairs, an in-process
// agent served over a socketpair, and an event recorder to wait on.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/mutex.h"
#include "agent/client.h"
#include "agent/containers.h"
#include "agent/guest.h"
#include "agent/image_store.h"
#include "agent/runtime.h"
#include "agent/server.h"
#include "core/byte_stream.h"

namespace nest::agent::testing {

// A directory under $TMPDIR removed (recursively) on destruction.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

// A connected pair of ByteStreams.
std::pair<std::unique_ptr<ByteStream>, std::unique_ptr<ByteStream>>
StreamPair();

// Ignores SIGPIPE so a write to a closed socketpair returns an error.
void IgnoreSigpipe();

// A GuestOps that records what it was asked to do.
class FakeGuest : public GuestOps {
 public:
  AgentHello Describe() override;
  absl::StatusOr<GuestStats> Stats() override;
  absl::StatusOr<ExecResult> Exec(const std::vector<std::string>& args,
                                  const ExecOptions& options) override;
  void Sync() override;
  absl::Status PowerOff() override;
  bool synced() const;
  bool powered_off() const;
  // Waits until PowerOff was called (true) or the timeout.
  bool AwaitPowerOff(absl::Duration timeout);

 private:
  mutable absl::Mutex mu_;
  bool synced_ ABSL_GUARDED_BY(mu_) = false;
  bool powered_off_ ABSL_GUARDED_BY(mu_) = false;
};

// Records events and lets a test wait for one.
class EventRecorder {
 public:
  EventHandler Handler();
  // Waits until an event of `kind` (for `container_id`, if not empty)
  // arrived; returns it, or nullopt at the deadline.
  std::optional<AgentEvent> WaitFor(AgentEventKind kind,
                                    const std::string& container_id,
                                    absl::Duration timeout);
  size_t Count(AgentEventKind kind) const;
  // Waits until `n` events of `kind` for `container_id` arrived; returns
  // those that did by then, in order.
  std::vector<AgentEvent> WaitForCount(AgentEventKind kind,
                                       const std::string& container_id,
                                       size_t n, absl::Duration timeout);
  // Every event so far, in arrival order.
  std::vector<AgentEvent> All() const;

 private:
  mutable absl::Mutex mu_;
  std::vector<AgentEvent> events_ ABSL_GUARDED_BY(mu_);
};

// An agent (server + manager + image store) on `runtime`, and a client
// whose factory connects over a fresh socketpair each time, serving the
// other end on a thread.
class AgentHarness {
 public:
  explicit AgentHarness(ContainerRuntime& runtime,
                        AgentClient::Options options = {});
  ~AgentHarness();

  AgentClient& client() { return *client_; }
  AgentServer& server() { return *server_; }
  ContainerManager& containers() { return *containers_; }
  FakeGuest& guest() { return guest_; }
  ImageStore& images() { return *images_; }
  const std::string& dir() const { return tmp_.path(); }
  // Makes `digest` present in the store as an (empty) rootfs.
  void AddImage(const std::string& digest);
  int connections() const;

 private:
  absl::StatusOr<std::unique_ptr<ByteStream>> Connect();

  TempDir tmp_;
  FakeGuest guest_;
  std::unique_ptr<ImageStore> images_;
  std::unique_ptr<ContainerManager> containers_;
  std::unique_ptr<AgentServer> server_;
  mutable absl::Mutex mu_;
  std::vector<std::thread> serving_ ABSL_GUARDED_BY(mu_);
  int connections_ ABSL_GUARDED_BY(mu_) = 0;
  std::unique_ptr<AgentClient> client_;
};

inline constexpr char kDigestA[] =
    "sha256:aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa";
inline constexpr char kDigestB[] =
    "sha256:bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb";

// The tar of a busybox rootfs (applet links for sh, echo, sleep, cat, wget,
// httpd, head, true, dd, stat, mount; /www/index.html says "it works"),
// assembled under `dir` from /bin/busybox.
absl::StatusOr<std::string> BusyboxImageTar(const std::string& dir);

// Removes a crun test's cgroup parent (cgroup v1: one per controller) on
// destruction.
struct CgroupParentCleanup {
  std::string parent;  // e.g. "/nest-test-<pid>"
  ~CgroupParentCleanup();
};

// "sha256:<hex>" of `data`.
std::string Sha256Digest(const std::string& data);

// The bytes of a tar of directory `dir`.
std::string TarOf(const std::string& dir);

ContainerSpec Spec(const std::string& id, std::vector<std::string> args,
                   const std::string& digest = kDigestA);

}  // namespace nest::agent::testing

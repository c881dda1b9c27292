// AgentServer: the guest end of the protocol. Serves one host connection at
// a time over a ByteStream; containers, images and queued events outlive the
// connection, so a host that disconnects and reconnects finds everything as
// it was (events raised while nobody listened are delivered on reconnect,
// up to kMaxQueuedEvents).
//
// Per connection: one reader (the caller of Serve), one event sender thread,
// and one worker thread per request that can block (everything but Hello,
// Cancel and image chunks), so a followed log stream never stalls other
// calls. A malformed frame gets an error reply and the connection stays up.
#pragma once

#include <atomic>
#include <deque>
#include <list>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/containers.h"
#include "agent/guest.h"
#include "agent/image_store.h"
#include "core/byte_stream.h"
#include "core/clock.h"

namespace nest::agent {
namespace v1 {
class Request;
class PutImageChunk;
}  // namespace v1

inline constexpr int kProtocolVersion = 1;
inline constexpr size_t kMaxQueuedEvents = 1024;

class AgentServer {
 public:
  struct Options {
    std::string agent_version = "0";
    // A followed log wakes on new output (LogSignal); this bounds the wait
    // for anything the signal does not cover.
    absl::Duration log_poll = absl::Milliseconds(100);
  };

  // All references must outlive the server. Installs itself as the
  // manager's event sink.
  AgentServer(Options options, ContainerManager& containers, ImageStore& images,
              GuestOps& guest, Clock& clock);
  // Waits for every request worker to finish.
  ~AgentServer();
  AgentServer(const AgentServer&) = delete;
  AgentServer& operator=(const AgentServer&) = delete;

  // Serves `stream` until the peer closes it (OK) or it fails (the error).
  // Announces itself with a Hello event first. Call from one thread at a
  // time; requests still running when it returns finish in the background
  // and their replies are dropped.
  absl::Status Serve(std::unique_ptr<ByteStream> stream);

  // True once a Shutdown with power_off was served (and PowerOff failed or
  // returned, e.g. under a fake guest): the caller should exit.
  bool shutdown_requested() const { return shutdown_requested_.load(); }

  // The handshake payload (also sent as the Hello event).
  AgentHello Hello();

  // Waits until no connection is being served (true) or `deadline`.
  bool AwaitIdle(absl::Time deadline);

 private:
  struct Conn;
  struct Worker {
    std::thread thread;
    std::shared_ptr<std::atomic<bool>> done;
  };

  void OnEvent(const AgentEvent& event);
  void SendEvents(const std::shared_ptr<Conn>& conn);
  void Dispatch(const std::shared_ptr<Conn>& conn, uint64_t rid,
                const v1::Request& req);
  void HandleImageChunk(const std::shared_ptr<Conn>& conn, uint64_t rid,
                        const v1::PutImageChunk& chunk);
  // Runs a request that may block on its own thread.
  void HandleSlow(const std::shared_ptr<Conn>& conn, uint64_t rid,
                  const v1::Request& req);
  void StreamLogs(const std::shared_ptr<Conn>& conn, uint64_t rid,
                  const std::string& id, bool follow, uint64_t tail_bytes);
  void RunWorker(std::function<void()> fn);
  void ReapWorkers(bool all);

  const Options options_;
  ContainerManager& containers_;
  ImageStore& images_;
  GuestOps& guest_;
  Clock& clock_;
  const std::string boot_id_;
  std::atomic<bool> shutdown_requested_{false};

  absl::Mutex mu_;
  absl::CondVar events_cv_;
  std::deque<AgentEvent> events_ ABSL_GUARDED_BY(mu_);
  std::shared_ptr<Conn> conn_ ABSL_GUARDED_BY(mu_);

  absl::Mutex workers_mu_;
  std::list<Worker> workers_ ABSL_GUARDED_BY(workers_mu_);
};

}  // namespace nest::agent

// AgentClient: the host end of the agent protocol over a ByteStream (vmm/
// opens one with virDomainOpenChannel; tests use a socketpair).
//
// One reader thread per connection dispatches replies by request id and
// pushes events to the handler. Every call has a deadline. When the stream
// breaks, pending calls fail with UNAVAILABLE, the handler gets a
// kDisconnected event, and the next call reopens the stream through the
// factory (the guest's containers keep running meanwhile).
#pragma once

#include <deque>
#include <map>
#include <memory>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/agent_api.h"
#include "core/byte_stream.h"

namespace nest::agent {

namespace v1 {
class Frame;
class Request;
class Response;
}  // namespace v1

class AgentClient : public AgentApi {
 public:
  // Opens a fresh stream to the agent. Called on first use and after every
  // disconnect.
  using StreamFactory =
      std::function<absl::StatusOr<std::unique_ptr<ByteStream>>()>;

  struct Options {
    absl::Duration call_timeout = absl::Seconds(10);
    // Added to a command's own timeout for Exec/GuestExec replies.
    absl::Duration exec_slack = absl::Seconds(5);
    absl::Duration image_timeout = absl::Minutes(5);
    absl::Duration shutdown_timeout = absl::Minutes(5);
    std::string client_name = "nestd";
  };

  explicit AgentClient(StreamFactory factory);
  AgentClient(StreamFactory factory, Options options);
  // Closes the stream and joins the reader thread.
  ~AgentClient() override;
  AgentClient(const AgentClient&) = delete;
  AgentClient& operator=(const AgentClient&) = delete;

  // Opens the stream if needed and repeats the handshake until it succeeds
  // or `deadline` passes (a booting VM answers only once its agent runs).
  // The readiness check of a VM.
  [[nodiscard]] absl::StatusOr<AgentHello> Connect(absl::Time deadline);
  // Closes the current stream; the next call reconnects.
  void Disconnect();
  bool connected() const;

  absl::StatusOr<AgentHello> Hello() override;
  absl::StatusOr<PutImageResult> PutImage(absl::string_view digest,
                                          absl::string_view tar) override;
  absl::StatusOr<ContainerInfo> CreateContainer(
      const ContainerSpec& spec) override;
  absl::StatusOr<ContainerInfo> StartContainer(absl::string_view id) override;
  absl::StatusOr<ContainerInfo> RunContainer(
      const ContainerSpec& spec) override;
  absl::Status KillContainer(absl::string_view id, int signal) override;
  absl::Status DeleteContainer(absl::string_view id) override;
  absl::StatusOr<ContainerInfo> ContainerStatus(absl::string_view id) override;
  absl::StatusOr<std::vector<ContainerInfo>> ListContainers() override;
  absl::StatusOr<ExecResult> Exec(absl::string_view id,
                                  const std::vector<std::string>& args,
                                  const ExecOptions& options) override;
  absl::Status Logs(absl::string_view id, bool follow, uint64_t tail_bytes,
                    const LogSink& sink, absl::Time deadline) override;
  absl::StatusOr<StatsReport> Stats(absl::string_view id) override;
  absl::Status ConfigureNetwork(const GuestNetwork& network) override;
  absl::StatusOr<ExecResult> GuestExec(const std::vector<std::string>& args,
                                       const ExecOptions& options) override;
  absl::Status Shutdown(bool power_off) override;
  void SetEventHandler(EventHandler handler) override;

 private:
  struct Pending {
    const ByteStream* stream = nullptr;  // the connection it was sent on
    std::deque<std::shared_ptr<v1::Response>> responses;
    bool done = false;   // the final response is queued
    absl::Status error;  // set when the connection broke
  };

  absl::StatusOr<std::shared_ptr<ByteStream>> EnsureConnected();
  // Forgets `stream` as the current connection (if it still is) and closes
  // it; its reader then fails the calls sent on it.
  void DropStream(const std::shared_ptr<ByteStream>& stream);
  void ReadLoop(std::shared_ptr<ByteStream> stream);
  // Sends `req` under a new request id registered as pending.
  absl::StatusOr<uint64_t> Send(const v1::Request& req);
  absl::Status SendOn(const std::shared_ptr<ByteStream>& stream,
                      const v1::Frame& frame);
  // Waits for the next response of `rid`; removes the entry once the final
  // response was taken or on error/deadline.
  absl::StatusOr<std::shared_ptr<v1::Response>> Next(uint64_t rid,
                                                     absl::Time deadline);
  void Forget(uint64_t rid);
  void CancelRemote(uint64_t rid);
  // A unary call: one request, one response with an OK status.
  absl::StatusOr<std::shared_ptr<v1::Response>> Call(const v1::Request& req,
                                                     absl::Duration timeout);

  const StreamFactory factory_;
  const Options options_;

  absl::Mutex connect_mu_ ABSL_ACQUIRED_BEFORE(mu_);
  mutable absl::Mutex mu_;
  absl::CondVar cv_;
  std::shared_ptr<ByteStream> stream_ ABSL_GUARDED_BY(mu_);
  std::thread reader_ ABSL_GUARDED_BY(connect_mu_);
  uint64_t next_id_ ABSL_GUARDED_BY(mu_) = 1;
  std::map<uint64_t, Pending> pending_ ABSL_GUARDED_BY(mu_);
  EventHandler handler_ ABSL_GUARDED_BY(mu_);
  absl::Mutex write_mu_;
};

}  // namespace nest::agent

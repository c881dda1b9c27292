#include "agent/server.h"

#include <csignal>
#include <map>
#include <set>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/convert.h"
#include "agent/framing.h"
#include "agent/log_file.h"
#include "core/rng.h"
#include "nest/agent/v1/agent.pb.h"
#include "spdlog/spdlog.h"

namespace nest::agent {

// State of one host connection. Workers hold it by shared_ptr, so the stream
// stays valid for replies written after Serve has returned.
struct AgentServer::Conn {
  explicit Conn(std::unique_ptr<ByteStream> s) : stream(std::move(s)) {}

  // Writes one frame; a failed write closes the stream so the reader ends.
  // False when the frame was not written.
  bool Send(const v1::Frame& frame) {
    absl::MutexLock lock(&write_mu);
    if (closed.load()) return false;
    absl::Status s = WriteFrame(*stream, frame);
    if (!s.ok()) {
      spdlog::warn("agent: write to host failed: {}", s.ToString());
      closed.store(true);
      stream->Close();
      return false;
    }
    return true;
  }

  void Reply(uint64_t rid, const absl::Status& status, v1::Response resp = {},
             bool more = false) {
    v1::Frame f;
    f.set_request_id(rid);
    *resp.mutable_status() = ToProto(status);
    resp.set_more(more);
    *f.mutable_response() = std::move(resp);
    Send(f);
  }

  bool Cancelled(uint64_t rid) {
    absl::MutexLock lock(&mu);
    return closed.load() || cancelled.count(rid) > 0;
  }

  void MarkClosed() {
    closed.store(true);
    // Followed log streams of this connection wait on the log signal.
    LogSignal::Get().Notify();
  }

  std::unique_ptr<ByteStream> stream;
  std::atomic<bool> closed{false};
  absl::Mutex write_mu;
  absl::Mutex mu;
  std::set<uint64_t> cancelled ABSL_GUARDED_BY(mu);
  // Only the reader thread touches the uploads.
  std::map<uint64_t, std::unique_ptr<ImageUpload>> uploads;
};

namespace {

std::string NewBootId() {
  // Distinct per agent start; not security relevant.
  uint64_t a = static_cast<uint64_t>(absl::ToUnixNanos(absl::Now()));
  uint64_t b = static_cast<uint64_t>(::getpid());
  return absl::StrCat(absl::Hex(a, absl::kZeroPad16), "-",
                      absl::Hex(b, absl::kZeroPad8));
}

std::vector<std::string> Strings(
    const google::protobuf::RepeatedPtrField<std::string>& r) {
  return {r.begin(), r.end()};
}

ExecOptions ExecOpts(const google::protobuf::RepeatedPtrField<std::string>& env,
                     uint32_t timeout_ms) {
  ExecOptions o;
  o.env = Strings(env);
  if (timeout_ms > 0) o.timeout = absl::Milliseconds(timeout_ms);
  return o;
}

}  // namespace

AgentServer::AgentServer(Options options, ContainerManager& containers,
                         ImageStore& images, GuestOps& guest, Clock& clock)
    : options_(std::move(options)),
      containers_(containers),
      images_(images),
      guest_(guest),
      clock_(clock),
      boot_id_(NewBootId()) {
  containers_.SetEventSink([this](const AgentEvent& e) { OnEvent(e); });
}

AgentServer::~AgentServer() {
  containers_.SetEventSink(nullptr);
  ReapWorkers(/*all=*/true);
}

AgentHello AgentServer::Hello() {
  AgentHello h = guest_.Describe();
  h.agent_version = options_.agent_version;
  h.protocol_version = kProtocolVersion;
  h.boot_id = boot_id_;
  h.containers = static_cast<uint32_t>(containers_.size());
  return h;
}

bool AgentServer::AwaitIdle(absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  auto idle = [this]() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_) {
    return conn_ == nullptr;
  };
  return mu_.AwaitWithDeadline(absl::Condition(&idle), deadline);
}

void AgentServer::OnEvent(const AgentEvent& event) {
  // A follower of an exited container's log can end now.
  if (event.kind == AgentEventKind::kContainerExited) LogSignal::Get().Notify();
  absl::MutexLock lock(&mu_);
  events_.push_back(event);
  // Oldest first out: the host re-reads state on reconnect anyway.
  while (events_.size() > kMaxQueuedEvents) events_.pop_front();
  events_cv_.SignalAll();
}

void AgentServer::SendEvents(const std::shared_ptr<Conn>& conn) {
  for (;;) {
    AgentEvent e;
    {
      absl::MutexLock lock(&mu_);
      while (events_.empty() && !conn->closed.load()) events_cv_.Wait(&mu_);
      if (conn->closed.load()) return;
      e = std::move(events_.front());
      events_.pop_front();
    }
    v1::Frame f;
    ToProto(e, f.mutable_event());
    if (!conn->Send(f)) {
      // The host went away before we noticed: keep the event for the next
      // connection.
      absl::MutexLock lock(&mu_);
      events_.push_front(std::move(e));
      return;
    }
  }
}

void AgentServer::RunWorker(std::function<void()> fn) {
  ReapWorkers(/*all=*/false);
  auto done = std::make_shared<std::atomic<bool>>(false);
  absl::MutexLock lock(&workers_mu_);
  workers_.push_back(Worker{std::thread([fn = std::move(fn), done] {
                              fn();
                              done->store(true);
                            }),
                            done});
}

void AgentServer::ReapWorkers(bool all) {
  std::list<Worker> finished;
  {
    absl::MutexLock lock(&workers_mu_);
    for (auto it = workers_.begin(); it != workers_.end();) {
      if (all || it->done->load()) {
        finished.push_back(std::move(*it));
        it = workers_.erase(it);
      } else {
        ++it;
      }
    }
  }
  for (auto& w : finished) w.thread.join();
}

absl::Status AgentServer::Serve(std::unique_ptr<ByteStream> stream) {
  auto conn = std::make_shared<Conn>(std::move(stream));
  {
    absl::MutexLock lock(&mu_);
    conn_ = conn;
  }
  {
    v1::Frame hello;
    hello.mutable_event()->set_kind(v1::EVENT_KIND_HELLO);
    hello.mutable_event()->set_unix_ms(absl::ToUnixMillis(clock_.Now()));
    ToProto(Hello(), hello.mutable_event()->mutable_hello());
    conn->Send(hello);
  }
  std::thread sender([this, conn] { SendEvents(conn); });

  FrameReader reader(*conn->stream);
  absl::Status result;
  for (;;) {
    v1::Frame frame;
    absl::StatusOr<FrameReader::Result> r =
        reader.Next(&frame, absl::InfiniteFuture());
    if (!r.ok()) {
      result = r.status();
      break;
    }
    if (*r == FrameReader::Result::kClosed) break;
    if (*r == FrameReader::Result::kMalformed) {
      spdlog::warn("agent: malformed frame: {}", reader.error());
      v1::Frame err;
      err.mutable_event()->set_kind(v1::EVENT_KIND_PROTOCOL_ERROR);
      err.mutable_event()->set_message(reader.error());
      err.mutable_event()->set_unix_ms(absl::ToUnixMillis(clock_.Now()));
      conn->Send(err);
      continue;
    }
    if (!frame.has_request() || frame.request_id() == 0) {
      conn->Reply(frame.request_id(),
                  absl::InvalidArgumentError(
                      "expected a request with a non-zero request_id"));
      continue;
    }
    Dispatch(conn, frame.request_id(), frame.request());
    if (shutdown_requested_.load()) break;
  }
  conn->MarkClosed();
  conn->stream->Close();
  {
    absl::MutexLock lock(&mu_);
    if (conn_ == conn) conn_.reset();
    events_cv_.SignalAll();
  }
  sender.join();
  ReapWorkers(/*all=*/false);
  return result;
}

void AgentServer::Dispatch(const std::shared_ptr<Conn>& conn, uint64_t rid,
                           const v1::Request& req) {
  switch (req.kind_case()) {
    case v1::Request::kHello: {
      if (req.hello().protocol_version() != v1::PROTOCOL_VERSION_1) {
        conn->Reply(rid, absl::FailedPreconditionError(absl::StrCat(
                             "protocol_version must be ", kProtocolVersion,
                             ", got ", req.hello().protocol_version())));
        return;
      }
      v1::Response resp;
      ToProto(Hello(), resp.mutable_hello());
      conn->Reply(rid, absl::OkStatus(), std::move(resp));
      return;
    }
    case v1::Request::kCancel: {
      {
        absl::MutexLock lock(&conn->mu);
        conn->cancelled.insert(req.cancel().request_id());
      }
      LogSignal::Get().Notify();  // a followed stream re-checks at once
      return;
    }
    case v1::Request::kPutImage:
      HandleImageChunk(conn, rid, req.put_image());
      return;
    case v1::Request::KIND_NOT_SET:
      conn->Reply(rid, absl::InvalidArgumentError(
                           "request has no kind set (unknown to this agent "
                           "version?)"));
      return;
    default:
      RunWorker([this, conn, rid, req] { HandleSlow(conn, rid, req); });
      return;
  }
}

void AgentServer::HandleImageChunk(const std::shared_ptr<Conn>& conn,
                                   uint64_t rid,
                                   const v1::PutImageChunk& chunk) {
  auto it = conn->uploads.find(rid);
  if (it == conn->uploads.end()) {
    // Chunks after a finished or failed upload carry no digest: drop them.
    if (chunk.digest().empty()) return;
    if (chunk.format() != v1::IMAGE_FORMAT_TAR) {
      conn->Reply(
          rid, absl::InvalidArgumentError(absl::StrCat(
                   "format must be IMAGE_FORMAT_TAR, got ", chunk.format())));
      return;
    }
    absl::Status valid = ValidateDigest("digest", chunk.digest());
    if (!valid.ok()) {
      conn->Reply(rid, valid);
      return;
    }
    if (images_.Has(chunk.digest())) {
      v1::Response resp;
      resp.mutable_put_image()->set_digest(chunk.digest());
      resp.mutable_put_image()->set_already_present(true);
      conn->Reply(rid, absl::OkStatus(), std::move(resp));
      return;
    }
    absl::StatusOr<std::unique_ptr<ImageUpload>> up =
        images_.BeginUpload(chunk.digest());
    if (!up.ok()) {
      conn->Reply(rid, up.status());
      return;
    }
    it = conn->uploads.emplace(rid, *std::move(up)).first;
  }
  absl::Status s = it->second->Append(chunk.data());
  if (!s.ok()) {
    conn->uploads.erase(it);
    conn->Reply(rid, s);
    return;
  }
  if (!chunk.last()) return;
  // Unpacking can take seconds: off the reader thread.
  std::shared_ptr<ImageUpload> up(std::move(it->second));
  conn->uploads.erase(it);
  std::string digest = chunk.digest().empty() ? "" : chunk.digest();
  RunWorker([conn, rid, up] {
    absl::Status s = up->Commit();
    v1::Response resp;
    resp.mutable_put_image()->set_bytes_received(up->bytes_received());
    conn->Reply(rid, s, std::move(resp));
  });
}

void AgentServer::StreamLogs(const std::shared_ptr<Conn>& conn, uint64_t rid,
                             const std::string& id, bool follow,
                             uint64_t tail_bytes) {
  absl::StatusOr<std::string> path = containers_.LogPath(id);
  if (!path.ok()) return conn->Reply(rid, path.status());
  uint64_t offset = 0;
  absl::StatusOr<std::string> data = ReadLog(*path, tail_bytes, &offset);
  if (!data.ok()) return conn->Reply(rid, data.status());
  auto send = [&](absl::string_view bytes) {
    while (!bytes.empty()) {
      size_t n = std::min(bytes.size(), kMaxChunkBytes);
      v1::Response resp;
      resp.mutable_log_chunk()->set_data(std::string(bytes.substr(0, n)));
      conn->Reply(rid, absl::OkStatus(), std::move(resp), /*more=*/true);
      bytes.remove_prefix(n);
    }
  };
  send(*data);
  while (follow && !conn->Cancelled(rid)) {
    // Taken before reading, so output appended after the read wakes the
    // wait below instead of waiting out the poll.
    uint64_t generation = LogSignal::Get().generation();
    // Check exit before reading so output written just before the exit is
    // still sent.
    absl::StatusOr<ContainerInfo> info = containers_.Get(id);
    bool exited = !info.ok() || info->state == ContainerState::kExited;
    std::string more;
    if (!ReadLogFrom(*path, &offset, kMaxChunkBytes, &more).ok()) break;
    send(more);
    if (exited && more.empty()) break;
    if (more.empty()) {
      LogSignal::Get().Await(generation, absl::Now() + options_.log_poll);
    }
  }
  conn->Reply(rid, absl::OkStatus());
}

void AgentServer::HandleSlow(const std::shared_ptr<Conn>& conn, uint64_t rid,
                             const v1::Request& req) {
  v1::Response resp;
  absl::Status s;
  switch (req.kind_case()) {
    case v1::Request::kCreateContainer: {
      ContainerSpec spec = FromProto(req.create_container());
      absl::StatusOr<ContainerInfo> info = req.create_container().start()
                                               ? containers_.Run(spec)
                                               : containers_.Create(spec);
      if (info.ok()) ToProto(*info, resp.mutable_container());
      s = info.status();
      break;
    }
    case v1::Request::kStartContainer: {
      absl::StatusOr<ContainerInfo> info =
          containers_.Start(req.start_container().id());
      if (info.ok()) ToProto(*info, resp.mutable_container());
      s = info.status();
      break;
    }
    case v1::Request::kKillContainer:
      s = containers_.Kill(req.kill_container().id(),
                           req.kill_container().signal());
      break;
    case v1::Request::kDeleteContainer:
      s = containers_.Delete(req.delete_container().id());
      break;
    case v1::Request::kContainerState: {
      absl::StatusOr<ContainerInfo> info =
          containers_.Get(req.container_state().id());
      if (info.ok()) ToProto(*info, resp.mutable_container());
      s = info.status();
      break;
    }
    case v1::Request::kListContainers:
      for (const ContainerInfo& c : containers_.List()) {
        ToProto(c, resp.mutable_list_containers()->add_containers());
      }
      break;
    case v1::Request::kExec: {
      const v1::ExecRequest& e = req.exec();
      absl::StatusOr<ExecResult> r = containers_.Exec(
          e.id(), Strings(e.args()), ExecOpts(e.env(), e.timeout_ms()));
      if (r.ok()) ToProto(*r, resp.mutable_exec());
      s = r.status();
      break;
    }
    case v1::Request::kConfigureNetwork:
      s = containers_.ConfigureNetwork(FromProto(req.configure_network()));
      break;
    case v1::Request::kGuestExec: {
      const v1::GuestExecRequest& e = req.guest_exec();
      spdlog::info("agent: guest exec {}",
                   e.args().empty() ? std::string() : e.args(0));
      absl::StatusOr<ExecResult> r =
          guest_.Exec(Strings(e.args()), ExecOpts(e.env(), e.timeout_ms()));
      if (r.ok()) ToProto(*r, resp.mutable_exec());
      s = r.status();
      break;
    }
    case v1::Request::kLogs:
      return StreamLogs(conn, rid, req.logs().id(), req.logs().follow(),
                        req.logs().tail_bytes());
    case v1::Request::kStats: {
      StatsReport report;
      absl::StatusOr<std::vector<ContainerStats>> cs =
          containers_.Stats(req.stats().id());
      s = cs.status();
      if (s.ok()) {
        report.containers = *std::move(cs);
        absl::StatusOr<GuestStats> g = guest_.Stats();
        s = g.status();
        if (g.ok()) report.guest = *g;
      }
      if (s.ok()) ToProto(report, resp.mutable_stats());
      break;
    }
    case v1::Request::kShutdown: {
      spdlog::info("agent: shutdown requested (power_off={})",
                   req.shutdown().power_off());
      containers_.StopAll();
      guest_.Sync();
      if (req.shutdown().power_off()) shutdown_requested_.store(true);
      conn->Reply(rid, absl::OkStatus());
      if (req.shutdown().power_off()) {
        absl::Status p = guest_.PowerOff();
        if (!p.ok()) spdlog::error("agent: power off: {}", p.ToString());
        // Wake the reader so Serve returns and the caller can exit.
        conn->stream->Close();
      }
      return;
    }
    default:
      s = absl::InvalidArgumentError("unexpected request kind");
  }
  conn->Reply(rid, s, std::move(resp));
}

}  // namespace nest::agent

#include "agent/client.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/convert.h"
#include "agent/framing.h"
#include "nest/agent/v1/agent.pb.h"

namespace nest::agent {

AgentClient::AgentClient(StreamFactory factory)
    : AgentClient(std::move(factory), Options()) {}

AgentClient::AgentClient(StreamFactory factory, Options options)
    : factory_(std::move(factory)), options_(std::move(options)) {}

AgentClient::~AgentClient() {
  Disconnect();
  absl::MutexLock lock(&connect_mu_);
  if (reader_.joinable()) reader_.join();
}

void AgentClient::Disconnect() {
  std::shared_ptr<ByteStream> s;
  {
    absl::MutexLock lock(&mu_);
    s = stream_;
  }
  if (s) DropStream(s);
}

void AgentClient::DropStream(const std::shared_ptr<ByteStream>& stream) {
  {
    // Cleared here, not only by the reader, so the very next call opens a
    // new stream instead of racing the old reader's exit.
    absl::MutexLock lock(&mu_);
    if (stream_ == stream) stream_.reset();
  }
  stream->Close();
}

bool AgentClient::connected() const {
  absl::MutexLock lock(&mu_);
  return stream_ != nullptr;
}

void AgentClient::SetEventHandler(EventHandler handler) {
  absl::MutexLock lock(&mu_);
  handler_ = std::move(handler);
}

absl::StatusOr<std::shared_ptr<ByteStream>> AgentClient::EnsureConnected() {
  absl::MutexLock connect_lock(&connect_mu_);
  {
    absl::MutexLock lock(&mu_);
    if (stream_) return stream_;
  }
  // The previous reader has cleared stream_ and is about to exit.
  if (reader_.joinable()) reader_.join();
  absl::StatusOr<std::unique_ptr<ByteStream>> opened = factory_();
  if (!opened.ok()) {
    return absl::UnavailableError(absl::StrCat("cannot open the agent stream: ",
                                               opened.status().message()));
  }
  std::shared_ptr<ByteStream> s(std::move(*opened));
  {
    absl::MutexLock lock(&mu_);
    stream_ = s;
  }
  reader_ = std::thread([this, s] { ReadLoop(s); });
  return s;
}

void AgentClient::ReadLoop(std::shared_ptr<ByteStream> stream) {
  FrameReader reader(*stream);
  std::string why = "agent closed the stream";
  for (;;) {
    v1::Frame frame;
    absl::StatusOr<FrameReader::Result> r =
        reader.Next(&frame, absl::InfiniteFuture());
    if (!r.ok()) {
      why = std::string(r.status().message());
      break;
    }
    if (*r == FrameReader::Result::kClosed) break;
    EventHandler handler;
    AgentEvent event;
    if (*r == FrameReader::Result::kMalformed) {
      event.kind = AgentEventKind::kProtocolError;
      event.message = reader.error();
      event.time = absl::Now();
    } else if (frame.has_response()) {
      absl::MutexLock lock(&mu_);
      auto it = pending_.find(frame.request_id());
      // A reply to a call that timed out or was cancelled is dropped.
      if (it != pending_.end() && !it->second.done) {
        bool more = frame.response().more();
        it->second.responses.push_back(std::make_shared<v1::Response>(
            std::move(*frame.mutable_response())));
        if (!more) it->second.done = true;
        cv_.SignalAll();
      }
      continue;
    } else if (frame.has_event()) {
      event = FromProto(frame.event());
    } else {
      continue;
    }
    {
      absl::MutexLock lock(&mu_);
      handler = handler_;
    }
    if (handler) handler(event);
  }
  stream->Close();
  EventHandler handler;
  {
    absl::MutexLock lock(&mu_);
    if (stream_ == stream) stream_.reset();
    for (auto& [rid, p] : pending_) {
      if (!p.done && p.stream == stream.get()) {
        p.error = absl::UnavailableError(
            absl::StrCat("connection to the agent lost: ", why));
      }
    }
    cv_.SignalAll();
    handler = handler_;
  }
  if (handler) {
    AgentEvent e;
    e.kind = AgentEventKind::kDisconnected;
    e.time = absl::Now();
    e.message = why;
    handler(e);
  }
}

absl::Status AgentClient::SendOn(const std::shared_ptr<ByteStream>& stream,
                                 const v1::Frame& frame) {
  absl::MutexLock lock(&write_mu_);
  absl::Status s = WriteFrame(*stream, frame);
  if (!s.ok() && !absl::IsInvalidArgument(s)) {
    return absl::UnavailableError(
        absl::StrCat("writing to the agent: ", s.message()));
  }
  return s;
}

absl::StatusOr<uint64_t> AgentClient::Send(const v1::Request& req) {
  absl::Status s;
  // A stream can break before its reader notices; nothing was delivered
  // then, so one retry on a fresh stream is safe.
  for (int attempt = 0; attempt < 2; ++attempt) {
    NEST_ASSIGN_OR_RETURN(std::shared_ptr<ByteStream> stream,
                          EnsureConnected());
    v1::Frame frame;
    uint64_t rid;
    {
      absl::MutexLock lock(&mu_);
      rid = next_id_++;
      pending_[rid].stream = stream.get();
    }
    frame.set_request_id(rid);
    *frame.mutable_request() = req;
    s = SendOn(stream, frame);
    if (s.ok()) return rid;
    Forget(rid);
    if (!absl::IsUnavailable(s)) return s;
    DropStream(stream);
  }
  return s;
}

void AgentClient::Forget(uint64_t rid) {
  absl::MutexLock lock(&mu_);
  pending_.erase(rid);
}

void AgentClient::CancelRemote(uint64_t rid) {
  std::shared_ptr<ByteStream> stream;
  {
    absl::MutexLock lock(&mu_);
    pending_.erase(rid);
    stream = stream_;
  }
  if (!stream) return;
  v1::Frame frame;
  frame.set_request_id(rid);
  frame.mutable_request()->mutable_cancel()->set_request_id(rid);
  (void)SendOn(stream, frame);
}

absl::StatusOr<std::shared_ptr<v1::Response>> AgentClient::Next(
    uint64_t rid, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  for (;;) {
    auto it = pending_.find(rid);
    if (it == pending_.end()) {
      return absl::InternalError("call was forgotten");
    }
    Pending& p = it->second;
    if (!p.responses.empty()) {
      std::shared_ptr<v1::Response> r = p.responses.front();
      p.responses.pop_front();
      if (p.responses.empty() && p.done) pending_.erase(it);
      return r;
    }
    if (!p.error.ok()) {
      absl::Status e = p.error;
      pending_.erase(it);
      return e;
    }
    if (cv_.WaitWithDeadline(&mu_, deadline)) {
      it = pending_.find(rid);
      if (it != pending_.end() && it->second.responses.empty() &&
          it->second.error.ok()) {
        pending_.erase(it);
        return absl::DeadlineExceededError("the agent did not answer in time");
      }
    }
  }
}

absl::StatusOr<std::shared_ptr<v1::Response>> AgentClient::Call(
    const v1::Request& req, absl::Duration timeout) {
  absl::Time deadline = absl::Now() + timeout;
  NEST_ASSIGN_OR_RETURN(uint64_t rid, Send(req));
  absl::StatusOr<std::shared_ptr<v1::Response>> r = Next(rid, deadline);
  if (!r.ok()) {
    if (absl::IsDeadlineExceeded(r.status())) CancelRemote(rid);
    return r.status();
  }
  Forget(rid);  // a unary call has exactly one response
  NEST_RETURN_IF_ERROR(FromProto((*r)->status()));
  return r;
}

absl::StatusOr<AgentHello> AgentClient::Connect(absl::Time deadline) {
  absl::Status last = absl::DeadlineExceededError("no attempt made");
  while (absl::Now() < deadline) {
    absl::Duration left = deadline - absl::Now();
    absl::StatusOr<std::shared_ptr<ByteStream>> s = EnsureConnected();
    if (!s.ok()) {
      last = s.status();
      // The channel may not exist yet (VM still being defined).
      absl::SleepFor(std::min(left, absl::Milliseconds(200)));
      continue;
    }
    v1::Request req;
    req.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
    req.mutable_hello()->set_client(options_.client_name);
    // Short attempts: a request written before the guest opened its port
    // may be lost, so ask again rather than wait out the whole deadline.
    absl::StatusOr<std::shared_ptr<v1::Response>> r =
        Call(req, std::min(left, absl::Seconds(2)));
    if (r.ok()) {
      AgentHello h = FromProto((*r)->hello());
      if (h.protocol_version != v1::PROTOCOL_VERSION_1) {
        return absl::FailedPreconditionError(
            absl::StrCat("agent speaks protocol version ", h.protocol_version,
                         ", expected 1"));
      }
      return h;
    }
    last = r.status();
    if (absl::IsFailedPrecondition(last)) return last;
    if (absl::IsUnavailable(last)) {
      absl::SleepFor(std::min(deadline - absl::Now(), absl::Milliseconds(200)));
    }
  }
  return absl::DeadlineExceededError(
      absl::StrCat("agent did not say hello before the deadline; last error: ",
                   last.message()));
}

absl::StatusOr<AgentHello> AgentClient::Hello() {
  v1::Request req;
  req.mutable_hello()->set_protocol_version(v1::PROTOCOL_VERSION_1);
  req.mutable_hello()->set_client(options_.client_name);
  NEST_ASSIGN_OR_RETURN(auto r, Call(req, options_.call_timeout));
  return FromProto(r->hello());
}

absl::StatusOr<PutImageResult> AgentClient::PutImage(absl::string_view digest,
                                                     absl::string_view tar) {
  absl::Time deadline = absl::Now() + options_.image_timeout;
  NEST_ASSIGN_OR_RETURN(std::shared_ptr<ByteStream> stream, EnsureConnected());
  uint64_t rid;
  {
    absl::MutexLock lock(&mu_);
    rid = next_id_++;
    pending_[rid].stream = stream.get();
  }
  size_t off = 0;
  bool first = true;
  do {
    {
      // An early reply (already present, or an error) ends the upload.
      absl::MutexLock lock(&mu_);
      auto it = pending_.find(rid);
      if (it == pending_.end() || it->second.done || !it->second.error.ok()) {
        break;
      }
    }
    size_t n = std::min(tar.size() - off, kMaxChunkBytes);
    v1::Frame frame;
    frame.set_request_id(rid);
    v1::PutImageChunk* c = frame.mutable_request()->mutable_put_image();
    if (first) {
      c->set_digest(std::string(digest));
      c->set_format(v1::IMAGE_FORMAT_TAR);
      c->set_total_bytes(tar.size());
    }
    c->set_data(std::string(tar.substr(off, n)));
    off += n;
    c->set_last(off == tar.size());
    absl::Status s = SendOn(stream, frame);
    if (!s.ok()) {
      Forget(rid);
      if (absl::IsUnavailable(s)) DropStream(stream);
      return s;
    }
    first = false;
  } while (off < tar.size());
  absl::StatusOr<std::shared_ptr<v1::Response>> r = Next(rid, deadline);
  if (!r.ok()) {
    Forget(rid);
    return r.status();
  }
  Forget(rid);
  NEST_RETURN_IF_ERROR(FromProto((*r)->status()));
  PutImageResult out;
  out.digest = std::string(digest);
  out.already_present = (*r)->put_image().already_present();
  out.bytes_received = (*r)->put_image().bytes_received();
  return out;
}

absl::StatusOr<ContainerInfo> AgentClient::CreateContainer(
    const ContainerSpec& spec) {
  v1::Request req;
  ToProto(spec, req.mutable_create_container());
  NEST_ASSIGN_OR_RETURN(auto r, Call(req, options_.call_timeout));
  return FromProto(r->container());
}

absl::StatusOr<ContainerInfo> AgentClient::RunContainer(
    const ContainerSpec& spec) {
  v1::Request req;
  ToProto(spec, req.mutable_create_container());
  req.mutable_create_container()->set_start(true);
  NEST_ASSIGN_OR_RETURN(auto r, Call(req, options_.call_timeout));
  return FromProto(r->container());
}

absl::StatusOr<ContainerInfo> AgentClient::StartContainer(
    absl::string_view id) {
  v1::Request req;
  req.mutable_start_container()->set_id(std::string(id));
  NEST_ASSIGN_OR_RETURN(auto r, Call(req, options_.call_timeout));
  return FromProto(r->container());
}

absl::Status AgentClient::KillContainer(absl::string_view id, int signal) {
  v1::Request req;
  req.mutable_kill_container()->set_id(std::string(id));
  req.mutable_kill_container()->set_signal(signal);
  return Call(req, options_.call_timeout).status();
}

absl::Status AgentClient::DeleteContainer(absl::string_view id) {
  v1::Request req;
  req.mutable_delete_container()->set_id(std::string(id));
  return Call(req, options_.call_timeout).status();
}

absl::StatusOr<ContainerInfo> AgentClient::ContainerStatus(
    absl::string_view id) {
  v1::Request req;
  req.mutable_container_state()->set_id(std::string(id));
  NEST_ASSIGN_OR_RETURN(auto r, Call(req, options_.call_timeout));
  return FromProto(r->container());
}

absl::StatusOr<std::vector<ContainerInfo>> AgentClient::ListContainers() {
  v1::Request req;
  req.mutable_list_containers();
  NEST_ASSIGN_OR_RETURN(auto r, Call(req, options_.call_timeout));
  std::vector<ContainerInfo> out;
  for (const auto& c : r->list_containers().containers()) {
    out.push_back(FromProto(c));
  }
  return out;
}

absl::StatusOr<ExecResult> AgentClient::Exec(
    absl::string_view id, const std::vector<std::string>& args,
    const ExecOptions& options) {
  v1::Request req;
  v1::ExecRequest* e = req.mutable_exec();
  e->set_id(std::string(id));
  for (const auto& a : args) e->add_args(a);
  for (const auto& v : options.env) e->add_env(v);
  e->set_timeout_ms(
      static_cast<uint32_t>(absl::ToInt64Milliseconds(options.timeout)));
  NEST_ASSIGN_OR_RETURN(auto r,
                        Call(req, options.timeout + options_.exec_slack));
  return FromProto(r->exec());
}

absl::Status AgentClient::ConfigureNetwork(const GuestNetwork& network) {
  v1::Request req;
  ToProto(network, req.mutable_configure_network());
  // Bringing up the NIC and loading a ruleset run several commands in the
  // guest: more than a plain call, bounded all the same.
  return Call(req, options_.call_timeout + options_.exec_slack).status();
}

absl::StatusOr<ExecResult> AgentClient::GuestExec(
    const std::vector<std::string>& args, const ExecOptions& options) {
  v1::Request req;
  v1::GuestExecRequest* e = req.mutable_guest_exec();
  for (const auto& a : args) e->add_args(a);
  for (const auto& v : options.env) e->add_env(v);
  e->set_timeout_ms(
      static_cast<uint32_t>(absl::ToInt64Milliseconds(options.timeout)));
  NEST_ASSIGN_OR_RETURN(auto r,
                        Call(req, options.timeout + options_.exec_slack));
  return FromProto(r->exec());
}

absl::Status AgentClient::Logs(absl::string_view id, bool follow,
                               uint64_t tail_bytes, const LogSink& sink,
                               absl::Time deadline) {
  v1::Request req;
  req.mutable_logs()->set_id(std::string(id));
  req.mutable_logs()->set_follow(follow);
  req.mutable_logs()->set_tail_bytes(tail_bytes);
  if (!follow) {
    deadline = std::min(deadline, absl::Now() + options_.call_timeout);
  }
  NEST_ASSIGN_OR_RETURN(uint64_t rid, Send(req));
  for (;;) {
    absl::StatusOr<std::shared_ptr<v1::Response>> r = Next(rid, deadline);
    if (!r.ok()) {
      if (absl::IsDeadlineExceeded(r.status())) {
        CancelRemote(rid);
        // A followed stream ends at the caller's deadline by design.
        return follow ? absl::OkStatus() : r.status();
      }
      return r.status();
    }
    if (!(*r)->more()) {
      Forget(rid);
      return FromProto((*r)->status());
    }
    if (!sink((*r)->log_chunk().data())) {
      CancelRemote(rid);
      return absl::OkStatus();
    }
  }
}

absl::StatusOr<StatsReport> AgentClient::Stats(absl::string_view id) {
  v1::Request req;
  req.mutable_stats()->set_id(std::string(id));
  NEST_ASSIGN_OR_RETURN(auto r, Call(req, options_.call_timeout));
  return FromProto(r->stats());
}

absl::Status AgentClient::Shutdown(bool power_off) {
  v1::Request req;
  req.mutable_shutdown()->set_power_off(power_off);
  return Call(req, options_.shutdown_timeout).status();
}

}  // namespace nest::agent

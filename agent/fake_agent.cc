#include "agent/fake_agent.h"

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/convert.h"
#include "agent/validation.h"

namespace nest::agent {
namespace {

absl::Status NotFound(absl::string_view id) {
  return absl::NotFoundError(absl::StrCat("container ", id, " not found"));
}

// Deterministic timestamps: a simulation must not depend on the wall clock.
absl::Time Tick(uint64_t* ms) {
  return absl::FromUnixMillis(static_cast<int64_t>(1700000000000 + ++*ms));
}

}  // namespace

AgentHello FakeAgent::DefaultHello() {
  AgentHello h;
  h.agent_version = "fake";
  h.protocol_version = 1;
  h.kernel_release = "6.1.0-fake";
  h.cpus = 2;
  h.memory_bytes = uint64_t{512} << 20;
  h.boot_id = "fake-boot";
  return h;
}

FakeAgent::FakeAgent(AgentHello hello) : hello_(std::move(hello)) {}

absl::Status FakeAgent::Enter() {
  ++calls_;
  if (!reachable_ || powered_off_) {
    return absl::UnavailableError("fake agent is unreachable");
  }
  return absl::OkStatus();
}

void FakeAgent::Emit(const std::vector<AgentEvent>& events) {
  EventHandler h;
  {
    absl::MutexLock lock(&mu_);
    h = handler_;
  }
  if (!h) return;
  for (const auto& e : events) h(e);
}

std::vector<AgentEvent> FakeAgent::ExitLocked(Container& c, int code,
                                              bool oom) {
  c.info.state = ContainerState::kExited;
  c.info.exit_code = code;
  c.info.oom_killed = oom;
  c.info.finished = Tick(&time_ms_);
  changed_.SignalAll();
  std::vector<AgentEvent> out;
  if (oom) {
    out.push_back(AgentEvent{AgentEventKind::kContainerOomKilled, c.info.id,
                             code, c.info.finished, "memory.max exceeded",
                             std::nullopt});
  }
  out.push_back(AgentEvent{AgentEventKind::kContainerExited, c.info.id, code,
                           c.info.finished, "", std::nullopt});
  return out;
}

absl::StatusOr<AgentHello> FakeAgent::Hello() {
  absl::MutexLock lock(&mu_);
  NEST_RETURN_IF_ERROR(Enter());
  AgentHello h = hello_;
  h.containers = static_cast<uint32_t>(containers_.size());
  return h;
}

absl::StatusOr<PutImageResult> FakeAgent::PutImage(absl::string_view digest,
                                                   absl::string_view tar) {
  absl::MutexLock lock(&mu_);
  NEST_RETURN_IF_ERROR(Enter());
  NEST_RETURN_IF_ERROR(ValidateDigest("digest", digest));
  PutImageResult r;
  r.digest = std::string(digest);
  r.already_present = !images_.insert(std::string(digest)).second;
  if (!r.already_present) r.bytes_received = tar.size();
  return r;
}

absl::StatusOr<ContainerInfo> FakeAgent::CreateContainer(
    const ContainerSpec& spec) {
  absl::MutexLock lock(&mu_);
  NEST_RETURN_IF_ERROR(Enter());
  NEST_RETURN_IF_ERROR(ValidateSpec(spec));
  if (!images_.count(spec.image_digest)) {
    return absl::NotFoundError(absl::StrCat(
        "image ", spec.image_digest, " is not in the guest; push it first"));
  }
  if (containers_.count(spec.id)) {
    return absl::AlreadyExistsError(
        absl::StrCat("container ", spec.id, " already exists"));
  }
  if (!spec.address.empty()) {
    if (!network_.has_value()) {
      return NetworkNotConfigured(spec.id, spec.address);
    }
    for (const auto& [other, c] : containers_) {
      if (c.spec.address == spec.address) {
        return absl::AlreadyExistsError(absl::StrCat(
            "address ", spec.address, " is held by container ", other));
      }
    }
  }
  Container& c = containers_[spec.id];
  c.spec = spec;
  c.info.id = spec.id;
  c.info.address = spec.address;
  c.info.image_digest = spec.image_digest;
  c.info.state = ContainerState::kCreated;
  c.info.pid = static_cast<int>(100 + containers_.size());
  c.info.created = Tick(&time_ms_);
  return c.info;
}

absl::StatusOr<ContainerInfo> FakeAgent::StartContainer(absl::string_view id) {
  ContainerInfo info;
  std::vector<AgentEvent> events;
  {
    absl::MutexLock lock(&mu_);
    NEST_RETURN_IF_ERROR(Enter());
    auto it = containers_.find(std::string(id));
    if (it == containers_.end()) return NotFound(id);
    ContainerInfo& i = it->second.info;
    if (i.state != ContainerState::kCreated) {
      return absl::FailedPreconditionError(absl::StrCat(
          "container ", id, " must be created and not started, it is ",
          ContainerStateName(i.state)));
    }
    i.state = ContainerState::kRunning;
    i.started = Tick(&time_ms_);
    events.push_back(AgentEvent{AgentEventKind::kContainerStarted, i.id, 0,
                                i.started, "", std::nullopt});
    if (it->second.spec.health_check.kind != HealthCheck::Kind::kNone) {
      // As the agent: starting, then (here at once) the first verdict.
      i.health = auto_healthy_ ? Health::kHealthy : Health::kStarting;
      i.health_message.clear();
      if (auto_healthy_) {
        events.push_back(AgentEvent{
            AgentEventKind::kContainerHealth, i.id, 0, Tick(&time_ms_),
            HealthEventMessage(i.health, ""), std::nullopt});
      }
    }
    info = i;
  }
  Emit(events);
  return info;
}

absl::Status FakeAgent::KillContainer(absl::string_view id, int signal) {
  std::vector<AgentEvent> events;
  {
    absl::MutexLock lock(&mu_);
    NEST_RETURN_IF_ERROR(Enter());
    NEST_RETURN_IF_ERROR(ValidateSignal(signal));
    auto it = containers_.find(std::string(id));
    if (it == containers_.end()) return NotFound(id);
    if (it->second.info.state == ContainerState::kExited) {
      return absl::FailedPreconditionError(
          absl::StrCat("container ", id, " has exited already"));
    }
    events = ExitLocked(it->second, 128 + signal, false);
  }
  Emit(events);
  return absl::OkStatus();
}

absl::Status FakeAgent::DeleteContainer(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  NEST_RETURN_IF_ERROR(Enter());
  auto it = containers_.find(std::string(id));
  if (it == containers_.end()) return NotFound(id);
  if (it->second.info.state == ContainerState::kRunning) {
    return absl::FailedPreconditionError(absl::StrCat(
        "container ", id,
        " must be created or exited to delete, it is running; kill it first"));
  }
  containers_.erase(it);
  return absl::OkStatus();
}

absl::StatusOr<ContainerInfo> FakeAgent::ContainerStatus(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  NEST_RETURN_IF_ERROR(Enter());
  auto it = containers_.find(std::string(id));
  if (it == containers_.end()) return NotFound(id);
  return it->second.info;
}

absl::StatusOr<std::vector<ContainerInfo>> FakeAgent::ListContainers() {
  absl::MutexLock lock(&mu_);
  NEST_RETURN_IF_ERROR(Enter());
  std::vector<ContainerInfo> out;
  for (const auto& [id, c] : containers_) out.push_back(c.info);
  return out;
}

absl::StatusOr<ExecResult> FakeAgent::Exec(absl::string_view id,
                                           const std::vector<std::string>& args,
                                           const ExecOptions& /*options*/) {
  absl::MutexLock lock(&mu_);
  NEST_RETURN_IF_ERROR(Enter());
  if (args.empty() || args[0].empty()) {
    return absl::InvalidArgumentError("args must name the program to run");
  }
  auto it = containers_.find(std::string(id));
  if (it == containers_.end()) return NotFound(id);
  if (it->second.info.state != ContainerState::kRunning) {
    return absl::FailedPreconditionError(
        absl::StrCat("container ", id, " must be running to exec, it is ",
                     ContainerStateName(it->second.info.state)));
  }
  return exec_result_;
}

absl::Status FakeAgent::Logs(absl::string_view id, bool follow,
                             uint64_t tail_bytes, const LogSink& sink,
                             absl::Time deadline) {
  size_t sent = 0;
  absl::MutexLock lock(&mu_);
  NEST_RETURN_IF_ERROR(Enter());
  auto it = containers_.find(std::string(id));
  if (it == containers_.end()) return NotFound(id);
  const std::string& out = it->second.output;
  if (tail_bytes > 0 && tail_bytes < out.size()) sent = out.size() - tail_bytes;
  for (;;) {
    it = containers_.find(std::string(id));
    if (it == containers_.end()) return absl::OkStatus();
    const std::string& data = it->second.output;
    if (data.size() > sent) {
      std::string chunk = data.substr(sent);
      sent = data.size();
      // The sink may be slow; it must not see the fake's lock.
      mu_.Unlock();
      bool more = sink(chunk);
      mu_.Lock();
      if (!more) return absl::OkStatus();
      continue;
    }
    if (!follow || it->second.info.state == ContainerState::kExited) {
      return absl::OkStatus();
    }
    if (changed_.WaitWithDeadline(&mu_, deadline)) return absl::OkStatus();
  }
}

absl::StatusOr<StatsReport> FakeAgent::Stats(absl::string_view id) {
  absl::MutexLock lock(&mu_);
  NEST_RETURN_IF_ERROR(Enter());
  StatsReport r;
  r.guest.memory_total_bytes = hello_.memory_bytes;
  r.guest.memory_available_bytes = hello_.memory_bytes / 2;
  r.guest.cpu_usage_us = time_ms_ * 1000;
  for (const auto& [cid, c] : containers_) {
    if (!id.empty() && cid != id) continue;
    if (id.empty() && c.info.state != ContainerState::kRunning) continue;
    ContainerStats s;
    s.id = cid;
    if (c.info.state == ContainerState::kRunning) {
      s.cpu_usage_us = 1000;
      s.memory_bytes = 1 << 20;
      s.pids = 1;
    }
    r.containers.push_back(s);
  }
  if (!id.empty() && r.containers.empty()) return NotFound(id);
  return r;
}

absl::Status FakeAgent::ConfigureNetwork(const GuestNetwork& network) {
  absl::MutexLock lock(&mu_);
  NEST_RETURN_IF_ERROR(Enter());
  NEST_RETURN_IF_ERROR(ValidateGuestNetwork(network));
  network_ = network;
  ++network_configs_;
  return absl::OkStatus();
}

std::optional<GuestNetwork> FakeAgent::network() const {
  absl::MutexLock lock(&mu_);
  return network_;
}

uint64_t FakeAgent::network_configs() const {
  absl::MutexLock lock(&mu_);
  return network_configs_;
}

absl::StatusOr<ExecResult> FakeAgent::GuestExec(
    const std::vector<std::string>& args, const ExecOptions& /*options*/) {
  absl::MutexLock lock(&mu_);
  NEST_RETURN_IF_ERROR(Enter());
  if (args.empty() || args[0].empty()) {
    return absl::InvalidArgumentError("args must name the program to run");
  }
  return exec_result_;
}

absl::Status FakeAgent::Shutdown(bool power_off) {
  std::vector<AgentEvent> events;
  {
    absl::MutexLock lock(&mu_);
    NEST_RETURN_IF_ERROR(Enter());
    for (auto& [id, c] : containers_) {
      if (c.info.state == ContainerState::kRunning) {
        auto e = ExitLocked(c, 128 + 15, false);
        events.insert(events.end(), e.begin(), e.end());
      }
    }
    if (power_off) powered_off_ = true;
  }
  Emit(events);
  return absl::OkStatus();
}

void FakeAgent::SetEventHandler(EventHandler handler) {
  absl::MutexLock lock(&mu_);
  handler_ = std::move(handler);
}

void FakeAgent::SetReachable(bool reachable) {
  bool dropped;
  {
    absl::MutexLock lock(&mu_);
    dropped = reachable_ && !reachable;
    reachable_ = reachable;
  }
  if (dropped) {
    Emit({AgentEvent{AgentEventKind::kDisconnected, "", 0, absl::InfinitePast(),
                     "fake agent made unreachable", std::nullopt}});
  }
}

absl::Status FakeAgent::SimulateExit(absl::string_view id, int exit_code,
                                     bool oom) {
  std::vector<AgentEvent> events;
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(std::string(id));
    if (it == containers_.end()) return NotFound(id);
    if (it->second.info.state == ContainerState::kExited) {
      return absl::FailedPreconditionError(
          absl::StrCat("container ", id, " has exited already"));
    }
    events = ExitLocked(it->second, exit_code, oom);
  }
  Emit(events);
  return absl::OkStatus();
}

absl::Status FakeAgent::AppendOutput(absl::string_view id,
                                     absl::string_view data) {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(std::string(id));
  if (it == containers_.end()) return NotFound(id);
  it->second.output.append(data.data(), data.size());
  changed_.SignalAll();
  return absl::OkStatus();
}

absl::Status FakeAgent::SetHealth(absl::string_view id, Health health,
                                  std::string message) {
  if (health != Health::kHealthy && health != Health::kUnhealthy) {
    return absl::InvalidArgumentError(absl::StrCat(
        "health must be healthy or unhealthy, got ", HealthName(health)));
  }
  AgentEvent event;
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(std::string(id));
    if (it == containers_.end()) return NotFound(id);
    ContainerInfo& i = it->second.info;
    if (i.state != ContainerState::kRunning ||
        it->second.spec.health_check.kind == HealthCheck::Kind::kNone) {
      return absl::FailedPreconditionError(absl::StrCat(
          "container ", id, " must be running with a health check, it is ",
          ContainerStateName(i.state)));
    }
    if (health == Health::kHealthy) message.clear();
    const bool changed = i.health != health;
    i.health = health;
    i.health_message = message;
    if (!changed) return absl::OkStatus();
    event.kind = AgentEventKind::kContainerHealth;
    event.container_id = i.id;
    event.time = Tick(&time_ms_);
    event.message = HealthEventMessage(health, message);
  }
  Emit({event});
  return absl::OkStatus();
}

void FakeAgent::SetAutoHealthy(bool auto_healthy) {
  absl::MutexLock lock(&mu_);
  auto_healthy_ = auto_healthy;
}

absl::StatusOr<ContainerSpec> FakeAgent::SpecOf(absl::string_view id) const {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(std::string(id));
  if (it == containers_.end()) return NotFound(id);
  return it->second.spec;
}

void FakeAgent::SetExecResult(ExecResult result) {
  absl::MutexLock lock(&mu_);
  exec_result_ = std::move(result);
}

bool FakeAgent::powered_off() const {
  absl::MutexLock lock(&mu_);
  return powered_off_;
}

uint64_t FakeAgent::calls() const {
  absl::MutexLock lock(&mu_);
  return calls_;
}

}  // namespace nest::agent

#include "agent/containers.h"

#include <csignal>
#include <filesystem>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/convert.h"
#include "agent/probe.h"
#include "core/validate.h"

namespace nest::agent {
namespace {

absl::Status NotFound(const std::string& id) {
  return absl::NotFoundError(absl::StrCat("container ", id, " not found"));
}

}  // namespace

ContainerManager::ContainerManager(Options options, ContainerRuntime& runtime,
                                   ImageStore& images, Clock& clock)
    : options_(std::move(options)),
      runtime_(runtime),
      images_(images),
      clock_(clock),
      health_(
          [this](const HealthMonitor::Target& t) {
            return RunProbe(t.check, t.id, t.address,
                            [this](const std::string& id,
                                   const std::vector<std::string>& args,
                                   const ExecOptions& options) {
                              return runtime_.Exec(id, args, options);
                            });
          },
          [this](const std::string& id, uint64_t run, Health health,
                 const std::string& message) {
            OnHealth(id, run, health, message);
          }) {
  runtime_.SetExitCallback([this](const std::string& id, int code, bool oom) {
    OnExit(id, code, oom);
  });
}

ContainerManager::~ContainerManager() {
  // Probe threads call into this object.
  health_.StopAll();
  runtime_.SetExitCallback(nullptr);
}

void ContainerManager::SetEventSink(EventSink sink) {
  absl::MutexLock lock(&sink_mu_);
  sink_ = std::move(sink);
}

void ContainerManager::SetNetwork(GuestNetworking* network) {
  network_ = network;
}

absl::Status ContainerManager::ConfigureNetwork(const GuestNetwork& network) {
  NEST_RETURN_IF_ERROR(ValidateGuestNetwork(network));
  if (network_ == nullptr) {
    return absl::FailedPreconditionError(
        "this agent runs without guest networking");
  }
  return network_->Configure(network);
}

void ContainerManager::Emit(const AgentEvent& event) {
  absl::MutexLock lock(&sink_mu_);
  if (sink_) sink_(event);
}

void ContainerManager::OnExit(const std::string& id, int exit_code, bool oom) {
  absl::Time now = clock_.Now();
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return;
    ContainerInfo& info = it->second.info;
    info.state = ContainerState::kExited;
    info.exit_code = exit_code;
    info.oom_killed = oom;
    info.finished = now;
    exited_cv_.SignalAll();
    if (it->second.health_run != 0) {
      it->second.health_run = 0;
      health_.Unwatch(id);
    }
  }
  if (oom) {
    Emit(AgentEvent{AgentEventKind::kContainerOomKilled, id, exit_code, now,
                    "memory.max exceeded", std::nullopt});
  }
  Emit(AgentEvent{AgentEventKind::kContainerExited, id, exit_code, now, "",
                  std::nullopt});
}

uint64_t ContainerManager::BeginHealthLocked(Record& r) {
  if (r.spec.health_check.kind == HealthCheck::Kind::kNone) return 0;
  r.info.health = Health::kStarting;
  r.info.health_message.clear();
  // A program that exited already is not checked; it keeps kStarting.
  if (r.info.state != ContainerState::kRunning) return 0;
  r.health_run = ++health_runs_;
  return r.health_run;
}

void ContainerManager::WatchHealth(const std::string& id, uint64_t run) {
  if (run == 0) return;
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(id);
  // OnExit clears health_run: an exit since the start means no checks.
  if (it == containers_.end() || it->second.health_run != run) return;
  const ContainerSpec& spec = it->second.spec;
  health_.Watch({id, spec.address, spec.health_check}, run);
}

void ContainerManager::OnHealth(const std::string& id, uint64_t run,
                                Health health, const std::string& message) {
  // Held across the update and the sink call (see sink_mu_): OnExit marks
  // the exit under mu_ and emits after, so the order stays true.
  absl::MutexLock sink_lock(&sink_mu_);
  AgentEvent event;
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end() || it->second.health_run != run ||
        it->second.info.state != ContainerState::kRunning) {
      return;
    }
    ContainerInfo& info = it->second.info;
    const bool changed = info.health != health;
    info.health = health;
    info.health_message = message;
    if (!changed) return;
    event.kind = AgentEventKind::kContainerHealth;
    event.container_id = id;
    event.time = clock_.Now();
    event.message = HealthEventMessage(health, message);
  }
  if (sink_) sink_(event);
}

size_t ContainerManager::health_checks_running() const {
  return health_.watching();
}

absl::StatusOr<ContainerInfo> ContainerManager::Create(
    const ContainerSpec& spec) {
  return Launch(spec, /*start=*/false);
}

absl::StatusOr<ContainerInfo> ContainerManager::Run(const ContainerSpec& spec) {
  return Launch(spec, /*start=*/true);
}

absl::StatusOr<ContainerInfo> ContainerManager::Launch(
    const ContainerSpec& spec, bool start) {
  NEST_RETURN_IF_ERROR(ValidateSpec(spec));
  NEST_ASSIGN_OR_RETURN(std::string rootfs,
                        images_.RootfsPath(spec.image_digest));
  std::string dir = absl::StrCat(options_.run_dir, "/", spec.id);
  {
    absl::MutexLock lock(&mu_);
    if (containers_.count(spec.id)) {
      return absl::AlreadyExistsError(
          absl::StrCat("container ", spec.id, " already exists"));
    }
    Record& r = containers_[spec.id];
    r.spec = spec;
    r.busy = true;
    r.log_path = dir + "/output.log";
    r.info.id = spec.id;
    r.info.image_digest = spec.image_digest;
    r.info.address = spec.address;
    r.info.state = ContainerState::kCreated;
    r.info.created = clock_.Now();
    if (start) r.info.started = r.info.created;
  }
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  std::filesystem::create_directories(dir, ec);
  std::string log = dir + "/output.log";
  absl::StatusOr<NetworkAttachment> net = NetworkAttachment{};
  if (ec) {
    net = absl::InternalError(absl::StrCat("create ", dir, ": ", ec.message()));
  } else if (!spec.address.empty()) {
    net = network_ == nullptr ? NetworkNotConfigured(spec.id, spec.address)
                              : network_->Attach(spec.id, spec.address);
  }
  absl::StatusOr<int> pid = !net.ok() ? net.status()
                            : start   ? runtime_.Run(spec, rootfs, log, *net)
                                    : runtime_.Create(spec, rootfs, log, *net);
  if (!pid.ok() && net.ok() && !spec.address.empty()) {
    absl::Status d = network_->Detach(spec.id);
    if (!d.ok()) pid = Annotate(pid.status(), d.ToString());
  }
  ContainerInfo info;
  uint64_t health_run = 0;
  {
    absl::MutexLock lock(&mu_);
    if (!pid.ok()) {
      containers_.erase(spec.id);
      std::filesystem::remove_all(dir, ec);
      return Annotate(pid.status(), absl::StrCat(start ? "run" : "create",
                                                 " container ", spec.id));
    }
    Record& r = containers_[spec.id];
    r.busy = false;
    r.info.pid = *pid;
    // A fast program may have exited (and been reported) already.
    if (start && r.info.state == ContainerState::kCreated) {
      r.info.state = ContainerState::kRunning;
    }
    if (start) health_run = BeginHealthLocked(r);
    info = r.info;
  }
  if (start) {
    Emit(AgentEvent{AgentEventKind::kContainerStarted, spec.id, 0, info.started,
                    "", std::nullopt});
  }
  // After the started event, so no health event can precede it.
  WatchHealth(spec.id, health_run);
  return info;
}

absl::StatusOr<ContainerInfo> ContainerManager::Start(const std::string& id) {
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return NotFound(id);
    if (it->second.busy || it->second.info.state != ContainerState::kCreated ||
        it->second.info.started != absl::InfinitePast()) {
      return absl::FailedPreconditionError(absl::StrCat(
          "container ", id, " must be created and not started, it is ",
          ContainerStateName(it->second.info.state)));
    }
    it->second.busy = true;
    it->second.info.started = clock_.Now();
  }
  absl::Status s = runtime_.Start(id);
  ContainerInfo info;
  uint64_t health_run = 0;
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return NotFound(id);
    it->second.busy = false;
    if (!s.ok()) {
      it->second.info.started = absl::InfinitePast();
      return Annotate(s, absl::StrCat("start container ", id));
    }
    // A fast program may have exited already; keep that.
    if (it->second.info.state == ContainerState::kCreated) {
      it->second.info.state = ContainerState::kRunning;
    }
    health_run = BeginHealthLocked(it->second);
    info = it->second.info;
  }
  Emit(AgentEvent{AgentEventKind::kContainerStarted, id, 0, info.started, "",
                  std::nullopt});
  WatchHealth(id, health_run);
  return info;
}

absl::Status ContainerManager::Kill(const std::string& id, int signal) {
  NEST_RETURN_IF_ERROR(ValidateSignal(signal));
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return NotFound(id);
    if (it->second.info.state == ContainerState::kExited) {
      return absl::FailedPreconditionError(
          absl::StrCat("container ", id, " has exited already"));
    }
  }
  return runtime_.Kill(id, signal);
}

absl::Status ContainerManager::Delete(const std::string& id) {
  std::string dir;
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return NotFound(id);
    const ContainerInfo& info = it->second.info;
    bool never_started = info.state == ContainerState::kCreated &&
                         info.started == absl::InfinitePast();
    if (it->second.busy ||
        !(info.state == ContainerState::kExited || never_started)) {
      return absl::FailedPreconditionError(absl::StrCat(
          "container ", id, " must be created or exited to delete, it is ",
          ContainerStateName(info.state), "; kill it first"));
    }
    it->second.busy = true;
    dir = absl::StrCat(options_.run_dir, "/", id);
  }
  absl::Status s = runtime_.Delete(id);
  if ((s.ok() || absl::IsNotFound(s)) && network_ != nullptr) {
    // The namespace outlives nothing it served: the process has exited.
    s = network_->Detach(id);
  }
  absl::MutexLock lock(&mu_);
  if (!s.ok() && !absl::IsNotFound(s)) {
    containers_[id].busy = false;
    return Annotate(s, absl::StrCat("delete container ", id));
  }
  containers_.erase(id);
  std::error_code ec;
  std::filesystem::remove_all(dir, ec);
  return absl::OkStatus();
}

absl::StatusOr<ContainerInfo> ContainerManager::Get(
    const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return NotFound(id);
  return it->second.info;
}

std::vector<ContainerInfo> ContainerManager::List() const {
  absl::MutexLock lock(&mu_);
  std::vector<ContainerInfo> out;
  for (const auto& [id, r] : containers_) out.push_back(r.info);
  return out;
}

size_t ContainerManager::size() const {
  absl::MutexLock lock(&mu_);
  return containers_.size();
}

absl::StatusOr<ExecResult> ContainerManager::Exec(
    const std::string& id, const std::vector<std::string>& args,
    const ExecOptions& options) {
  if (args.empty() || args[0].empty()) {
    return absl::InvalidArgumentError("args must name the program to run");
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) return NotFound(id);
    if (it->second.info.state != ContainerState::kRunning) {
      return absl::FailedPreconditionError(
          absl::StrCat("container ", id, " must be running to exec, it is ",
                       ContainerStateName(it->second.info.state)));
    }
  }
  return runtime_.Exec(id, args, options);
}

absl::StatusOr<std::vector<ContainerStats>> ContainerManager::Stats(
    const std::string& id) {
  std::vector<std::string> ids;
  {
    absl::MutexLock lock(&mu_);
    if (!id.empty()) {
      if (!containers_.count(id)) return NotFound(id);
      ids.push_back(id);
    } else {
      for (const auto& [cid, r] : containers_) {
        if (r.info.state == ContainerState::kRunning) ids.push_back(cid);
      }
    }
  }
  std::vector<ContainerStats> out;
  for (const auto& cid : ids) {
    absl::StatusOr<ContainerStats> s = runtime_.Stats(cid);
    // A container deleted meanwhile is simply left out of a listing.
    if (!s.ok()) {
      if (!id.empty()) return s.status();
      continue;
    }
    out.push_back(*s);
  }
  return out;
}

absl::StatusOr<std::string> ContainerManager::LogPath(
    const std::string& id) const {
  absl::MutexLock lock(&mu_);
  auto it = containers_.find(id);
  if (it == containers_.end()) return NotFound(id);
  return it->second.log_path;
}

bool ContainerManager::WaitExited(const std::string& id, absl::Time deadline) {
  absl::MutexLock lock(&mu_);
  for (;;) {
    auto it = containers_.find(id);
    if (it == containers_.end() ||
        it->second.info.state == ContainerState::kExited) {
      return true;
    }
    if (exited_cv_.WaitWithDeadline(&mu_, deadline)) {
      it = containers_.find(id);
      return it == containers_.end() ||
             it->second.info.state == ContainerState::kExited;
    }
  }
}

void ContainerManager::StopAll() {
  std::vector<std::pair<std::string, uint32_t>> running;
  {
    absl::MutexLock lock(&mu_);
    for (const auto& [id, r] : containers_) {
      if (r.info.state == ContainerState::kRunning) {
        running.emplace_back(id, r.spec.stop_grace_s);
      }
    }
  }
  absl::Time start = absl::Now();
  for (const auto& [id, grace] : running) {
    (void)runtime_.Kill(id, SIGTERM);
  }
  for (const auto& [id, grace] : running) {
    if (!WaitExited(id, start + absl::Seconds(grace))) {
      (void)runtime_.Kill(id, SIGKILL);
      WaitExited(id, absl::Now() + absl::Seconds(10));
    }
  }
}

}  // namespace nest::agent

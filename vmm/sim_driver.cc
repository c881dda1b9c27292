#include "vmm/sim_driver.h"

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace nest::vmm {

struct SimDriver::Shared {
  struct Vm {
    VmSpec spec;
    VmState state = VmState::kStopped;
    absl::Time ready_at;
    uint64_t boots = 0;
  };

  Shared(SimHostConfig c, Clock& clk) : config(std::move(c)), clock(clk) {}

  const SimHostConfig config;
  Clock& clock;
  absl::Mutex mu;
  std::map<VmId, Vm> vms ABSL_GUARDED_BY(mu);
  std::map<std::string, VmState> foreign ABSL_GUARDED_BY(mu);
  bool down ABSL_GUARDED_BY(mu) = false;
  bool lose_on_return ABSL_GUARDED_BY(mu) = false;
  bool boot_hang ABSL_GUARDED_BY(mu) = false;
  bool list_hang ABSL_GUARDED_BY(mu) = false;
  int fail_creates ABSL_GUARDED_BY(mu) = 0;
  absl::Status fail_status ABSL_GUARDED_BY(mu);
  int used_vcpus ABSL_GUARDED_BY(mu) = 0;
  int64_t used_mib ABSL_GUARDED_BY(mu) = 0;
  ChannelFactory factory ABSL_GUARDED_BY(mu);
  std::map<int, EventCallback> listeners ABSL_GUARDED_BY(mu);
  int next_listener ABSL_GUARDED_BY(mu) = 1;

  absl::Status Up() ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    if (down) {
      return absl::UnavailableError(
          absl::StrCat("host ", config.hostname, " is unreachable"));
    }
    return absl::OkStatus();
  }

  absl::StatusOr<Vm*> Find(const VmId& id) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    NEST_RETURN_IF_ERROR(Up());
    auto it = vms.find(id);
    if (it == vms.end()) {
      if (foreign.contains(DomainName(id))) {
        return absl::FailedPreconditionError(
            absl::StrCat("domain ", DomainName(id),
                         " is not owned by Nest; refusing to touch it"));
      }
      return absl::NotFoundError(absl::StrCat("vm ", id.str(), " not found"));
    }
    return &it->second;
  }

  static bool Active(VmState s) {
    return s == VmState::kRunning || s == VmState::kPaused ||
           s == VmState::kShuttingDown;
  }

  // Moves a VM to `to`, keeping the capacity sums right.
  void SetState(Vm& vm, VmState to) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    bool was = Active(vm.state), is = Active(to);
    if (was && !is) {
      used_vcpus -= vm.spec.vcpus;
      used_mib -= vm.spec.memory_mib;
    } else if (!was && is) {
      used_vcpus += vm.spec.vcpus;
      used_mib += vm.spec.memory_mib;
    }
    vm.state = to;
  }

  absl::Status Boot(Vm& vm) ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu) {
    const int vcpu_limit =
        static_cast<int>(config.cpus * config.cpu_overcommit);
    if (used_vcpus + vm.spec.vcpus > vcpu_limit ||
        used_mib + vm.spec.memory_mib > config.memory_mib) {
      return absl::ResourceExhaustedError(absl::StrCat(
          "host ", config.hostname, " cannot fit vm ", vm.spec.id.str(),
          ": needs ", vm.spec.vcpus, " vcpus and ", vm.spec.memory_mib,
          " MiB, free ", vcpu_limit - used_vcpus, " vcpus (", config.cpus,
          " CPUs x ", config.cpu_overcommit, ") and ",
          config.memory_mib - used_mib, " MiB"));
    }
    SetState(vm, VmState::kRunning);
    vm.ready_at = clock.Now() + config.boot_latency;
    vm.boots++;
    return absl::OkStatus();
  }

  void Emit(const std::vector<LifecycleEvent>& events) ABSL_LOCKS_EXCLUDED(mu) {
    std::vector<EventCallback> cbs;
    {
      absl::MutexLock l(&mu);
      for (auto& [h, cb] : listeners) cbs.push_back(cb);
    }
    for (const auto& e : events) {
      for (auto& cb : cbs) cb(e);
    }
  }

  // The simulated guest read a line from its channel.
  void GuestLine(const VmId& id, absl::string_view line) {
    if (line != "poweroff") return;
    {
      absl::MutexLock l(&mu);
      auto it = vms.find(id);
      if (it == vms.end() || !Active(it->second.state)) return;
      SetState(it->second, VmState::kStopped);
    }
    Emit({LifecycleEvent{id, LifecycleKind::kStopped, "shutdown", false}});
  }
};

namespace {

// The host end of a simulated guest's channel.
class SimChannel : public ByteStream {
 public:
  SimChannel(std::shared_ptr<SimDriver::Shared> s, VmId id, uint64_t boot)
      : s_(std::move(s)), id_(std::move(id)), boot_(boot) {}

  absl::StatusOr<size_t> Read(void* buf, size_t size,
                              absl::Time deadline) override {
    if (size == 0) return size_t{0};
    for (;;) {
      absl::Time ready_at;
      {
        absl::MutexLock l(&s_->mu);
        if (closed_) return absl::CancelledError("stream closed");
        auto it = s_->vms.find(id_);
        if (it == s_->vms.end() || it->second.boots != boot_ ||
            !SimDriver::Shared::Active(it->second.state)) {
          return size_t{0};  // the guest is gone: peer closed
        }
        ready_at = s_->boot_hang ? absl::InfiniteFuture() : it->second.ready_at;
        if (!said_hello_ && s_->clock.Now() >= ready_at) {
          said_hello_ = true;
          static_cast<char*>(buf)[0] = 'H';
          return size_t{1};
        }
      }
      absl::Time now = s_->clock.Now();
      absl::Time wake = said_hello_ ? deadline : std::min(deadline, ready_at);
      if (now >= deadline) {
        return absl::DeadlineExceededError("channel read deadline passed");
      }
      s_->clock.SleepFor(wake - now);
    }
  }

  absl::Status Write(const void* buf, size_t size) override {
    line_.append(static_cast<const char*>(buf), size);
    for (size_t nl; (nl = line_.find('\n')) != std::string::npos;) {
      std::string line = line_.substr(0, nl);
      line_.erase(0, nl + 1);
      s_->GuestLine(id_, line);
    }
    return absl::OkStatus();
  }

  void Close() override {
    absl::MutexLock l(&s_->mu);
    closed_ = true;
  }

 private:
  std::shared_ptr<SimDriver::Shared> s_;
  const VmId id_;
  const uint64_t boot_;
  bool said_hello_ = false;  // single reader
  bool closed_ ABSL_GUARDED_BY(s_->mu) = false;
  std::string line_;  // single writer
};

}  // namespace

SimDriver::SimDriver(SimHostConfig config, Clock& clock)
    : s_(std::make_shared<Shared>(std::move(config), clock)) {}
SimDriver::~SimDriver() = default;

absl::Status SimDriver::Create(const VmSpec& spec) {
  NEST_RETURN_IF_ERROR(ValidateVmSpec(spec));
  {
    absl::MutexLock l(&s_->mu);
    NEST_RETURN_IF_ERROR(s_->Up());
    if (s_->fail_creates > 0) {
      s_->fail_creates--;
      return s_->fail_status;
    }
    if (s_->vms.contains(spec.id)) {
      return absl::AlreadyExistsError(
          absl::StrCat("vm ", spec.id.str(), " already exists"));
    }
    if (s_->foreign.contains(DomainName(spec.id))) {
      return absl::AlreadyExistsError(
          absl::StrCat("domain ", DomainName(spec.id),
                       " exists and is not Nest's; refusing to replace it"));
    }
    Shared::Vm vm;
    vm.spec = spec;
    NEST_RETURN_IF_ERROR(s_->Boot(vm));
    s_->vms.emplace(spec.id, std::move(vm));
  }
  s_->Emit({{spec.id, LifecycleKind::kDefined, "defined", false},
            {spec.id, LifecycleKind::kStarted, "booted", false}});
  return absl::OkStatus();
}

absl::Status SimDriver::Start(const VmId& id) {
  {
    absl::MutexLock l(&s_->mu);
    NEST_ASSIGN_OR_RETURN(Shared::Vm * vm, s_->Find(id));
    if (Shared::Active(vm->state)) {
      return absl::FailedPreconditionError(
          absl::StrCat("vm ", id.str(), " is already running"));
    }
    NEST_RETURN_IF_ERROR(s_->Boot(*vm));
  }
  s_->Emit({{id, LifecycleKind::kStarted, "booted", false}});
  return absl::OkStatus();
}

absl::StatusOr<ShutdownPath> SimDriver::Shutdown(
    const VmId& id, absl::Time deadline, const GracefulRequest& graceful) {
  {
    absl::MutexLock l(&s_->mu);
    NEST_ASSIGN_OR_RETURN(Shared::Vm * vm, s_->Find(id));
    if (!Shared::Active(vm->state)) return ShutdownPath::kAlreadyStopped;
  }
  bool asked = graceful && graceful().ok();
  for (;;) {
    {
      absl::MutexLock l(&s_->mu);
      NEST_ASSIGN_OR_RETURN(Shared::Vm * vm, s_->Find(id));
      if (!Shared::Active(vm->state)) {
        return asked ? ShutdownPath::kGraceful : ShutdownPath::kAlreadyStopped;
      }
    }
    absl::Time now = s_->clock.Now();
    if (!asked || now >= deadline) break;
    s_->clock.SleepFor(deadline - now);
  }
  NEST_RETURN_IF_ERROR(Destroy(id));
  return ShutdownPath::kForced;
}

absl::Status SimDriver::Destroy(const VmId& id) {
  {
    absl::MutexLock l(&s_->mu);
    NEST_ASSIGN_OR_RETURN(Shared::Vm * vm, s_->Find(id));
    if (!Shared::Active(vm->state)) return absl::OkStatus();
    s_->SetState(*vm, VmState::kStopped);
  }
  s_->Emit({{id, LifecycleKind::kStopped, "destroyed", false}});
  return absl::OkStatus();
}

absl::Status SimDriver::Undefine(const VmId& id) {
  bool was_active = false;
  {
    absl::MutexLock l(&s_->mu);
    NEST_ASSIGN_OR_RETURN(Shared::Vm * vm, s_->Find(id));
    was_active = Shared::Active(vm->state);
    s_->SetState(*vm, VmState::kStopped);
    s_->vms.erase(id);
  }
  std::vector<LifecycleEvent> ev;
  if (was_active)
    ev.push_back({id, LifecycleKind::kStopped, "destroyed", false});
  ev.push_back({id, LifecycleKind::kUndefined, "undefined", false});
  s_->Emit(ev);
  return absl::OkStatus();
}

absl::Status SimDriver::Pause(const VmId& id) {
  {
    absl::MutexLock l(&s_->mu);
    NEST_ASSIGN_OR_RETURN(Shared::Vm * vm, s_->Find(id));
    if (vm->state != VmState::kRunning) {
      return absl::FailedPreconditionError(
          absl::StrCat("vm ", id.str(), " is not running"));
    }
    s_->SetState(*vm, VmState::kPaused);
  }
  s_->Emit({{id, LifecycleKind::kPaused, "suspended", false}});
  return absl::OkStatus();
}

absl::Status SimDriver::Resume(const VmId& id) {
  {
    absl::MutexLock l(&s_->mu);
    NEST_ASSIGN_OR_RETURN(Shared::Vm * vm, s_->Find(id));
    if (vm->state != VmState::kPaused) {
      return absl::FailedPreconditionError(
          absl::StrCat("vm ", id.str(), " is not paused"));
    }
    s_->SetState(*vm, VmState::kRunning);
  }
  s_->Emit({{id, LifecycleKind::kResumed, "resumed", false}});
  return absl::OkStatus();
}

absl::StatusOr<VmState> SimDriver::GetState(const VmId& id) {
  absl::MutexLock l(&s_->mu);
  NEST_ASSIGN_OR_RETURN(Shared::Vm * vm, s_->Find(id));
  return vm->state;
}

absl::StatusOr<VmStats> SimDriver::GetStats(const VmId& id) {
  absl::MutexLock l(&s_->mu);
  NEST_ASSIGN_OR_RETURN(Shared::Vm * vm, s_->Find(id));
  VmStats st;
  st.vcpus = vm->spec.vcpus;
  st.memory_kib = static_cast<uint64_t>(vm->spec.memory_mib) * 1024;
  st.rss_kib = Shared::Active(vm->state) ? st.memory_kib / 4 : 0;
  absl::Duration up = s_->clock.Now() - vm->ready_at;
  if (Shared::Active(vm->state) && up > absl::ZeroDuration()) {
    st.cpu_time_ns = static_cast<uint64_t>(
        absl::ToDoubleNanoseconds(up) * vm->spec.vcpus * s_->config.cpu_load);
  }
  return st;
}

absl::StatusOr<std::vector<VmInfo>> SimDriver::List(bool include_foreign) {
  absl::MutexLock l(&s_->mu);
  auto answers = [this]() ABSL_SHARED_LOCKS_REQUIRED(s_->mu) {
    return !s_->list_hang;
  };
  s_->mu.Await(absl::Condition(&answers));
  NEST_RETURN_IF_ERROR(s_->Up());
  std::vector<VmInfo> out;
  out.reserve(s_->vms.size());
  for (const auto& [id, vm] : s_->vms) {
    out.push_back(VmInfo{id, DomainName(id), true, vm.spec.tenant,
                         vm.spec.group, vm.state});
  }
  if (include_foreign) {
    for (const auto& [name, state] : s_->foreign) {
      out.push_back(VmInfo{VmId(), name, false, {}, {}, state});
    }
  }
  return out;
}

absl::StatusOr<HostFacts> SimDriver::GetHostFacts() {
  absl::MutexLock l(&s_->mu);
  NEST_RETURN_IF_ERROR(s_->Up());
  HostFacts f;
  f.hostname = s_->config.hostname;
  f.cpus = s_->config.cpus;
  f.memory_mib = s_->config.memory_mib;
  f.free_memory_mib = s_->config.memory_mib - s_->used_mib;
  f.accel = s_->config.accel;
  f.hypervisor = "sim";
  return f;
}

absl::StatusOr<std::unique_ptr<ByteStream>> SimDriver::OpenChannel(
    const VmId& id, absl::string_view channel) {
  ChannelFactory factory;
  uint64_t boot = 0;
  {
    absl::MutexLock l(&s_->mu);
    NEST_ASSIGN_OR_RETURN(Shared::Vm * vm, s_->Find(id));
    if (!Shared::Active(vm->state)) {
      return absl::FailedPreconditionError(
          absl::StrCat("vm ", id.str(), " is not running"));
    }
    if (channel != kAgentChannel) {
      return absl::NotFoundError(absl::StrCat(
          "vm ", id.str(), " has no channel ", std::string(channel)));
    }
    factory = s_->factory;
    boot = vm->boots;
  }
  if (factory) return factory(id);
  return std::unique_ptr<ByteStream>(new SimChannel(s_, id, boot));
}

int SimDriver::AddListener(EventCallback cb) {
  absl::MutexLock l(&s_->mu);
  int h = s_->next_listener++;
  s_->listeners[h] = std::move(cb);
  return h;
}

void SimDriver::RemoveListener(int handle) {
  absl::MutexLock l(&s_->mu);
  s_->listeners.erase(handle);
}

void SimDriver::FailNextCreates(int n, absl::Status status) {
  absl::MutexLock l(&s_->mu);
  s_->fail_creates = n;
  s_->fail_status = std::move(status);
}

absl::Status SimDriver::CrashVm(const VmId& id) {
  std::vector<LifecycleEvent> ev{
      {id, LifecycleKind::kCrashed, "crashed", false}};
  {
    absl::MutexLock l(&s_->mu);
    NEST_ASSIGN_OR_RETURN(Shared::Vm * vm, s_->Find(id));
    if (!Shared::Active(vm->state)) {
      return absl::FailedPreconditionError(
          absl::StrCat("vm ", id.str(), " is not running"));
    }
    switch (vm->spec.on_crash) {
      case CrashPolicy::kRestart:
        s_->SetState(*vm, VmState::kStopped);
        if (s_->Boot(*vm).ok()) {
          ev.push_back({id, LifecycleKind::kStarted, "restarted", false});
        }
        break;
      case CrashPolicy::kPreserve:
        vm->state = VmState::kCrashed;  // keeps its resources, like QEMU
        break;
      case CrashPolicy::kDestroy:
        s_->SetState(*vm, VmState::kStopped);
        break;
    }
  }
  s_->Emit(ev);
  return absl::OkStatus();
}

void SimDriver::SetHostDown(bool down, bool lose_vms) {
  absl::MutexLock l(&s_->mu);
  if (down) {
    s_->down = true;
    s_->lose_on_return = lose_vms;
    return;
  }
  s_->down = false;
  if (s_->lose_on_return) {
    s_->vms.clear();
    s_->used_vcpus = 0;
    s_->used_mib = 0;
    s_->lose_on_return = false;
  }
}

void SimDriver::SetBootHang(bool hang) {
  absl::MutexLock l(&s_->mu);
  s_->boot_hang = hang;
}

void SimDriver::SetListHang(bool hang) {
  absl::MutexLock l(&s_->mu);
  s_->list_hang = hang;
}

void SimDriver::AddForeignVm(const std::string& name) {
  absl::MutexLock l(&s_->mu);
  s_->foreign[name] = VmState::kRunning;
}

void SimDriver::SetChannelFactory(ChannelFactory factory) {
  absl::MutexLock l(&s_->mu);
  s_->factory = std::move(factory);
}

int SimDriver::used_vcpus() {
  absl::MutexLock l(&s_->mu);
  return s_->used_vcpus;
}

int64_t SimDriver::used_memory_mib() {
  absl::MutexLock l(&s_->mu);
  return s_->used_mib;
}

}  // namespace nest::vmm

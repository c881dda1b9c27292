#include "control/sim.h"

#include "absl/strings/str_cat.h"
#include "core/rng.h"

namespace nest::control {

absl::StatusOr<std::shared_ptr<vmm::VmDriver>> SimHostConnector::Connect(
    const store::Host& host) {
  absl::MutexLock lock(&mu_);
  if (unreachable_.count(host.name)) {
    return absl::UnavailableError(absl::StrCat(
        "simulated host \"", host.name.str(), "\" is unreachable"));
  }
  ++connects_;
  auto& d = hosts_[host.name];
  if (!d) {
    vmm::SimHostConfig config = config_;
    config.hostname = host.name.str();
    d = std::make_shared<vmm::SimDriver>(config, clock_);
  }
  return std::shared_ptr<vmm::VmDriver>(d);
}

std::shared_ptr<vmm::SimDriver> SimHostConnector::Host(const HostId& host) {
  absl::MutexLock lock(&mu_);
  auto it = hosts_.find(host);
  return it == hosts_.end() ? nullptr : it->second;
}

void SimHostConnector::SetUnreachable(const HostId& host, bool unreachable) {
  absl::MutexLock lock(&mu_);
  if (unreachable) {
    unreachable_.insert(host);
  } else {
    unreachable_.erase(host);
  }
}

int64_t SimHostConnector::connects() const {
  absl::MutexLock lock(&mu_);
  return connects_;
}

SimAgentConnector::SimAgentConnector(Clock& clock, absl::Duration boot_latency)
    : clock_(clock), boot_latency_(boot_latency) {}

SimAgentConnector::~SimAgentConnector() {
  {
    absl::MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (timer_thread_.joinable()) timer_thread_.join();
}

absl::StatusOr<std::shared_ptr<agent::FakeAgent>> SimAgentConnector::Create(
    vmm::VmDriver& driver, const vmm::VmSpec& spec) {
  {
    absl::MutexLock lock(&mu_);
    if (fail_next_ > 0) {
      --fail_next_;
      return fail_status_;
    }
  }
  NEST_RETURN_IF_ERROR(driver.Create(spec));
  auto agent = std::make_shared<agent::FakeAgent>();
  absl::MutexLock lock(&mu_);
  ++boots_;
  agents_[spec.id] = agent;
  return agent;
}

absl::StatusOr<std::shared_ptr<agent::AgentApi>> SimAgentConnector::Hello(
    vmm::VmDriver& driver, const VmId& vm,
    std::shared_ptr<agent::FakeAgent> agent) {
  NEST_ASSIGN_OR_RETURN(vmm::VmState state, driver.GetState(vm));
  if (state != vmm::VmState::kRunning) {
    return absl::UnavailableError(absl::StrCat("VM \"", vm.str(), "\" is ",
                                               vmm::VmStateName(state),
                                               " before its agent answered"));
  }
  return std::shared_ptr<agent::AgentApi>(std::move(agent));
}

absl::StatusOr<std::shared_ptr<agent::AgentApi>> SimAgentConnector::Boot(
    vmm::VmDriver& driver, const vmm::VmSpec& spec) {
  NEST_ASSIGN_OR_RETURN(auto agent, Create(driver, spec));
  if (boot_latency_ > absl::ZeroDuration()) clock_.SleepFor(boot_latency_);
  return Hello(driver, spec.id, std::move(agent));
}

void SimAgentConnector::BootAsync(vmm::VmDriver& driver,
                                  const vmm::VmSpec& spec, BootDone done) {
  auto agent = Create(driver, spec);
  if (!agent.ok()) return done(agent.status());
  if (boot_latency_ <= absl::ZeroDuration()) {
    return done(Hello(driver, spec.id, *std::move(agent)));
  }
  absl::MutexLock lock(&mu_);
  timers_.push_back(
      Timer{clock_.MonotonicNow() + boot_latency_,
            [&driver, id = spec.id, agent = *std::move(agent),
             done = std::move(done)] { done(Hello(driver, id, agent)); }});
  if (!timer_thread_.joinable()) {
    timer_thread_ = std::thread([this] { TimerLoop(); });
  }
}

void SimAgentConnector::TimerLoop() {
  for (;;) {
    absl::Time at;
    {
      absl::MutexLock lock(&mu_);
      auto ready = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
        return stopping_ || !timers_.empty();
      };
      mu_.Await(absl::Condition(&ready));
      if (stopping_) return;
      at = timers_.front().at;
    }
    absl::Time now = clock_.MonotonicNow();
    if (now < at) clock_.SleepFor(at - now);
    // Fire everything due, outside the lock: callbacks call back into the
    // controller, which may boot more VMs.
    std::vector<Timer> due;
    {
      absl::MutexLock lock(&mu_);
      if (stopping_) return;
      now = clock_.MonotonicNow();
      while (!timers_.empty() && timers_.front().at <= now) {
        due.push_back(std::move(timers_.front()));
        timers_.pop_front();
      }
    }
    for (Timer& t : due) t.fire();
  }
}

absl::StatusOr<std::shared_ptr<agent::AgentApi>> SimAgentConnector::Attach(
    vmm::VmDriver& driver, const VmId& vm) {
  NEST_ASSIGN_OR_RETURN(vmm::VmState state, driver.GetState(vm));
  if (state != vmm::VmState::kRunning) {
    return absl::UnavailableError(
        absl::StrCat("VM \"", vm.str(), "\" is ", vmm::VmStateName(state)));
  }
  absl::MutexLock lock(&mu_);
  auto& agent = agents_[vm];
  if (!agent) agent = std::make_shared<agent::FakeAgent>();
  return std::shared_ptr<agent::AgentApi>(agent);
}

std::shared_ptr<agent::FakeAgent> SimAgentConnector::Agent(const VmId& vm) {
  absl::MutexLock lock(&mu_);
  auto it = agents_.find(vm);
  return it == agents_.end() ? nullptr : it->second;
}

void SimAgentConnector::FailNextBoots(int n, absl::Status status) {
  absl::MutexLock lock(&mu_);
  fail_next_ = n;
  fail_status_ = std::move(status);
}

int64_t SimAgentConnector::boots() const {
  absl::MutexLock lock(&mu_);
  return boots_;
}

absl::StatusOr<vmm::VmSpec> SimProvisioner::Prepare(
    const store::Vm& vm, const store::VmGroup& group) {
  vmm::VmSpec spec = ShapeSpec(vm, group);
  spec.kernel_path = "/sim/vmlinuz";
  spec.initrd_path = "/sim/initrd";
  return spec;
}

absl::Status SimProvisioner::Release(const HostId&, const VmId&) {
  absl::MutexLock lock(&mu_);
  ++released_;
  return absl::OkStatus();
}

int64_t SimProvisioner::released() const {
  absl::MutexLock lock(&mu_);
  return released_;
}

void StaticImageSource::Add(const std::string& name, ImageBlob blob) {
  absl::MutexLock lock(&mu_);
  images_[name] = std::make_shared<const ImageBlob>(std::move(blob));
}

absl::StatusOr<std::shared_ptr<const ImageBlob>> StaticImageSource::Get(
    const TenantId&, const std::string& name) {
  absl::MutexLock lock(&mu_);
  auto it = images_.find(name);
  if (it == images_.end()) {
    return absl::NotFoundError(
        absl::StrCat("image \"", name, "\" is not imported"));
  }
  return it->second;
}

absl::StatusOr<ImportedImage> StaticImageSource::Import(
    const TenantId&, const std::string& name, const std::string& source) {
  uint64_t h = StableHash(source.data(), source.size());
  std::string hex = absl::StrCat(absl::Hex(h, absl::kZeroPad16));
  ImageBlob blob;
  blob.digest = absl::StrCat("sha256:", hex, hex, hex, hex);
  blob.cmd = {"/bin/true"};
  ImportedImage out{blob.digest, 0, 1};
  Add(name, std::move(blob));
  return out;
}

absl::Status StaticImageSource::Remove(const TenantId&,
                                       const std::string& name) {
  absl::MutexLock lock(&mu_);
  if (images_.erase(name) == 0) {
    return absl::NotFoundError(absl::StrCat("image \"", name, "\" not found"));
  }
  return absl::OkStatus();
}

}  // namespace nest::control

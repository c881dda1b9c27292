#include "control/telemetry.h"

#include <algorithm>
#include <map>
#include <utility>

#include "absl/strings/str_cat.h"
#include "control/controller.h"
#include "spdlog/spdlog.h"

namespace nest::control {
namespace {

constexpr double kMiB = 1024.0 * 1024.0;

metrics::Family Gauge(std::string name, std::string help) {
  metrics::Family f;
  f.name = std::move(name);
  f.help = std::move(help);
  f.type = metrics::Type::kGauge;
  return f;
}

metrics::Family Counter(std::string name, std::string help) {
  metrics::Family f = Gauge(std::move(name), std::move(help));
  f.type = metrics::Type::kCounter;
  return f;
}

// One resource dimension as exported: its name and how to turn Nest's unit
// (milli-CPU, MiB) into the base unit (cores, bytes).
struct DimExport {
  Dim dim;
  const char* name;  // nest_host_<name>_<what>_<unit>
  const char* unit;
  double scale;
};
constexpr DimExport kDimExports[] = {
    {Dim::kCpuMilli, "cpu", "cores", 1e-3},
    {Dim::kMemoryMiB, "memory", "bytes", kMiB},
    {Dim::kDiskMiB, "disk", "bytes", kMiB},
};

void CollectHosts(const store::Snapshot& s, const PlacementParams& params,
                  std::vector<metrics::Family>* out) {
  std::map<std::pair<TenantId, GroupId>, Resources> shapes;
  for (const auto& g : s.groups) shapes[{g.tenant, g.name}] = GroupShape(g);
  std::map<HostId, Resources> allocated;
  for (const auto& vm : s.vms) {
    if (vm.host.empty() || vm.desired == store::VmDesiredState::kDeleted) {
      continue;
    }
    auto it = shapes.find({vm.tenant, vm.group});
    if (it == shapes.end()) continue;
    // Placement counts QEMU's own memory against the host too.
    allocated[vm.host] +=
        it->second + Resources::Of(0, params.vmm_overhead_mib, 0);
  }
  for (const auto& d : kDimExports) {
    auto family = [&](const char* what, const char* help) {
      return Gauge(absl::StrCat("nest_host_", d.name, "_", what, "_", d.unit),
                   absl::StrCat(help, " (", d.name, ", ", d.unit, ")."));
    };
    metrics::Family cap =
        family("capacity", "What Nest may allocate on a host");
    metrics::Family alloc = family(
        "allocated", "Allocated to VMs on a host, VMM overhead included");
    metrics::Family free =
        family("free", "Left for new VMs on a host after its reserve");
    for (const auto& h : s.hosts) {
      metrics::Labels l{{"host", h.name.str()}};
      Resources a = allocated[h.name];
      Resources f = h.capacity - params.host_reserved - a;
      cap.samples.push_back({l, h.capacity[d.dim] * d.scale});
      alloc.samples.push_back({l, a[d.dim] * d.scale});
      free.samples.push_back({l, std::max<int64_t>(0, f[d.dim]) * d.scale});
    }
    out->push_back(std::move(cap));
    out->push_back(std::move(alloc));
    out->push_back(std::move(free));
  }
}

// "objects by state" with every state present, so a state that empties
// reads 0 instead of vanishing.
template <typename Enum, typename Rows, typename StateOf>
metrics::Family ByState(std::string name, std::string help,
                        std::initializer_list<Enum> states, const Rows& rows,
                        StateOf state_of) {
  std::map<std::string, int64_t> n;
  for (Enum e : states) n[std::string(store::Name(e))] = 0;
  for (const auto& r : rows) ++n[std::string(store::Name(state_of(r)))];
  metrics::Family f = Gauge(std::move(name), std::move(help));
  for (const auto& [state, count] : n) {
    f.samples.push_back({{{"state", state}}, static_cast<double>(count)});
  }
  return f;
}

void CollectStates(const store::Snapshot& s,
                   std::vector<metrics::Family>* out) {
  using HS = store::HostState;
  using VS = store::VmObservedState;
  using CS = store::ContainerObservedState;
  out->push_back(ByState("nest_hosts", "Hosts by state.",
                         {HS::kReady, HS::kCordoned, HS::kDraining, HS::kDown},
                         s.hosts,
                         [](const store::Host& h) { return h.state; }));
  out->push_back(
      ByState("nest_vms", "VMs by observed state.",
              {VS::kPending, VS::kCreating, VS::kBooting, VS::kRunning,
               VS::kStopping, VS::kStopped, VS::kFailed, VS::kUnknown},
              s.vms, [](const store::Vm& v) { return v.observed; }));
  out->push_back(ByState(
      "nest_containers", "Containers by observed state.",
      {CS::kPending, CS::kCreating, CS::kRunning, CS::kExited, CS::kFailed,
       CS::kCrashLoop, CS::kUnknown},
      s.containers, [](const store::Container& c) { return c.observed; }));
}

void CollectUsage(const UsageSample& u, std::vector<metrics::Family>* out) {
  metrics::Family cpu = Counter("nest_vm_cpu_time_seconds_total",
                                "CPU time a VM used, from the hypervisor.");
  metrics::Family vcpus = Gauge("nest_vm_vcpus", "vCPUs of a VM.");
  metrics::Family mem =
      Gauge("nest_vm_memory_usage_bytes",
            "Host memory a VM's process uses (RSS), or its allocation.");
  metrics::Family rd = Counter("nest_vm_block_read_bytes_total",
                               "Bytes a VM read from its disks.");
  metrics::Family wr = Counter("nest_vm_block_write_bytes_total",
                               "Bytes a VM wrote to its disks.");
  metrics::Family rx = Counter("nest_vm_interface_receive_bytes_total",
                               "Bytes a VM's interfaces received.");
  metrics::Family tx = Counter("nest_vm_interface_transmit_bytes_total",
                               "Bytes a VM's interfaces sent.");
  for (const auto& v : u.vms) {
    metrics::Labels l{{"vm", v.vm.str()},
                      {"group", v.group.str()},
                      {"tenant", v.tenant.str()},
                      {"host", v.host.str()}};
    const vmm::VmStats& st = v.stats;
    cpu.samples.push_back({l, st.cpu_time_ns / 1e9});
    vcpus.samples.push_back({l, static_cast<double>(st.vcpus)});
    mem.samples.push_back(
        {l, (st.rss_kib > 0 ? st.rss_kib : st.memory_kib) * 1024.0});
    rd.samples.push_back({l, static_cast<double>(st.block_rd_bytes)});
    wr.samples.push_back({l, static_cast<double>(st.block_wr_bytes)});
    rx.samples.push_back({l, static_cast<double>(st.net_rx_bytes)});
    tx.samples.push_back({l, static_cast<double>(st.net_tx_bytes)});
  }
  metrics::Family ccpu =
      Counter("nest_container_cpu_time_seconds_total",
              "CPU time a container used, from its cgroup in the guest.");
  metrics::Family cmem = Gauge("nest_container_memory_usage_bytes",
                               "Memory a container's cgroup uses.");
  metrics::Family cpids =
      Gauge("nest_container_pids", "Processes in a container.");
  for (const auto& c : u.containers) {
    metrics::Labels l{{"container", c.container.str()},
                      {"workload", c.workload.str()},
                      {"tenant", c.tenant.str()},
                      {"vm", c.vm.str()}};
    ccpu.samples.push_back({l, c.cpu_seconds});
    cmem.samples.push_back({l, static_cast<double>(c.memory_bytes)});
    cpids.samples.push_back({l, static_cast<double>(c.pids)});
  }
  metrics::Family age = Gauge(
      "nest_usage_sample_timestamp_seconds",
      "When VM and container usage was last sampled (Unix time, 0: never).");
  age.samples.push_back({{},
                         u.at == absl::InfinitePast()
                             ? 0.0
                             : static_cast<double>(absl::ToUnixSeconds(u.at))});
  for (auto* f :
       {&cpu, &vcpus, &mem, &rd, &wr, &rx, &tx, &ccpu, &cmem, &cpids, &age}) {
    out->push_back(std::move(*f));
  }
}

}  // namespace

absl::StatusOr<ControlMetrics> ControlMetrics::Register(metrics::Registry& r) {
  ControlMetrics m;
  NEST_ASSIGN_OR_RETURN(
      m.placement_seconds,
      r.AddHistogram("nest_placement_decision_seconds",
                     "Time placement took to compute one plan.", {},
                     metrics::ExponentialBuckets(0.0001, 4, 10)));
  NEST_ASSIGN_OR_RETURN(
      m.reconcile_seconds,
      r.AddHistogram("nest_reconcile_duration_seconds",
                     "Time one step of a reconcile pass took.", {"step"},
                     metrics::ExponentialBuckets(0.0005, 4, 10)));
  NEST_ASSIGN_OR_RETURN(
      m.reconcile_errors,
      r.AddCounter("nest_reconcile_errors_total",
                   "Errors a reconcile step met (it retries next pass).",
                   {"step"}));
  NEST_ASSIGN_OR_RETURN(m.scale_decisions,
                        r.AddCounter("nest_autoscaler_decisions_total",
                                     "Changes of a VM group's desired size.",
                                     {"group", "direction"}));
  return m;
}

UsageSampler::UsageSampler(store::Store& store, Controller& controller,
                           Clock& clock, absl::Duration interval)
    : store_(store),
      controller_(controller),
      clock_(clock),
      interval_(interval) {}

UsageSampler::~UsageSampler() { Stop(); }

void UsageSampler::Start() {
  thread_ = std::thread([this] {
    for (;;) {
      absl::Status s = SampleOnce();
      if (!s.ok()) spdlog::warn("usage sample: {}", s.ToString());
      absl::MutexLock l(&mu_);
      auto stop = [this]()
                      ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
      if (mu_.AwaitWithTimeout(absl::Condition(&stop), interval_)) return;
    }
  });
}

void UsageSampler::Stop() {
  {
    absl::MutexLock l(&mu_);
    stopping_ = true;
  }
  if (thread_.joinable()) thread_.join();
}

UsageSample UsageSampler::Latest() const {
  absl::MutexLock l(&mu_);
  return latest_;
}

absl::Status UsageSampler::SampleOnce() {
  NEST_ASSIGN_OR_RETURN(store::Snapshot s, store_.ReadSnapshot());
  UsageSample prev = Latest();
  UsageSample next;
  std::map<std::string, const store::Container*> rows;
  for (const auto& c : s.containers) rows[c.id.str()] = &c;
  for (const auto& vm : s.vms) {
    if (vm.observed != store::VmObservedState::kRunning) continue;
    auto driver = controller_.DriverFor(vm.host);
    if (!driver.ok()) continue;
    auto stats = (*driver)->GetStats(vm.id);
    if (!stats.ok()) {
      spdlog::debug("stats of VM {}: {}", vm.id.str(),
                    stats.status().ToString());
      continue;
    }
    VmUsage& usage = next.vms.emplace_back();
    usage.vm = vm.id;
    usage.tenant = vm.tenant;
    usage.group = vm.group;
    usage.host = vm.host;
    usage.stats = *stats;
    auto agent = controller_.AgentFor(vm.id);
    if (!agent.ok()) continue;
    auto report = (*agent)->Stats("");
    if (!report.ok()) {
      spdlog::debug("container stats of VM {}: {}", vm.id.str(),
                    report.status().ToString());
      continue;
    }
    usage.memory_total_bytes =
        static_cast<int64_t>(report->guest.memory_total_bytes);
    usage.memory_available_bytes =
        static_cast<int64_t>(report->guest.memory_available_bytes);
    for (const auto& cs : report->containers) {
      auto row = rows.find(cs.id);
      if (row == rows.end()) continue;  // not (or no longer) Nest's
      const store::Container& c = *row->second;
      ContainerUsage u;
      u.container = c.id;
      u.tenant = c.tenant;
      u.workload = c.workload;
      u.vm = vm.id;
      u.cpu_seconds = static_cast<double>(cs.cpu_usage_us) / 1e6;
      u.memory_bytes = static_cast<int64_t>(cs.memory_bytes);
      u.pids = static_cast<int64_t>(cs.pids);
      next.containers.push_back(std::move(u));
    }
  }
  next.at = clock_.Now();
  auto by_vm = [](const VmUsage& a, const VmUsage& b) { return a.vm < b.vm; };
  auto by_id = [](const ContainerUsage& a, const ContainerUsage& b) {
    return a.container < b.container;
  };
  std::sort(next.vms.begin(), next.vms.end(), by_vm);
  std::sort(next.containers.begin(), next.containers.end(), by_id);
  // Rates come from the previous sample of the same object.
  double dt = absl::ToDoubleSeconds(next.at - prev.at);
  if (prev.at != absl::InfinitePast() && dt > 0) {
    for (auto& v : next.vms) {
      auto it = std::lower_bound(prev.vms.begin(), prev.vms.end(), v, by_vm);
      if (it == prev.vms.end() || it->vm != v.vm ||
          it->stats.cpu_time_ns > v.stats.cpu_time_ns) {
        continue;
      }
      v.cpu_cores = (v.stats.cpu_time_ns - it->stats.cpu_time_ns) / 1e9 / dt;
      v.cpu_known = true;
    }
    for (auto& c : next.containers) {
      auto it = std::lower_bound(prev.containers.begin(), prev.containers.end(),
                                 c, by_id);
      if (it == prev.containers.end() || it->container != c.container ||
          it->cpu_seconds > c.cpu_seconds) {
        continue;
      }
      c.cpu_cores = (c.cpu_seconds - it->cpu_seconds) / dt;
    }
  }
  absl::MutexLock l(&mu_);
  latest_ = std::move(next);
  return absl::OkStatus();
}

void AddClusterCollector(metrics::Registry& r, store::Store& store,
                         const UsageSampler* sampler, PlacementParams params) {
  r.AddCollector([&store, sampler, params](std::vector<metrics::Family>* out) {
    auto s = store.ReadSnapshot();
    if (s.ok()) {
      CollectHosts(*s, params, out);
      CollectStates(*s, out);
    } else {
      spdlog::warn("metrics: cannot read the store: {}", s.status().ToString());
    }
    if (sampler != nullptr) CollectUsage(sampler->Latest(), out);
  });
}

}  // namespace nest::control

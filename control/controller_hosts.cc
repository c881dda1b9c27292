// The controller's view of its hosts: connections, the VM list of each
// pass, heartbeats, facts, and the down/up transitions (issue 13). Calls
// to hosts that may hang (remote libvirt) run off the pass thread with a
// deadline (host_probe.h), so one hung host cannot stall the others.
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "control/controller.h"
#include "spdlog/spdlog.h"

namespace nest::control {

bool Controller::Adopt(const store::Host& h,
                       std::shared_ptr<vmm::VmDriver> driver) {
  int listener =
      driver->AddListener([this](const vmm::LifecycleEvent&) { Wake(); });
  absl::MutexLock lock(&mu_);
  HostConn& conn = hosts_[h.name];
  conn.driver = std::move(driver);
  conn.listener = listener;
  spdlog::info("host {}: connected to {}", h.name.str(), h.libvirt_uri);
  return true;
}

std::map<HostId, Controller::ProbeStart> Controller::StartProbes(
    const store::Snapshot& s) {
  std::map<HostId, ProbeStart> out;
  for (const auto& h : s.hosts) {
    if (!host_connector_.MayBlock(h)) continue;
    ProbeStart& start = out[h.name];
    absl::MutexLock lock(&mu_);
    HostConn& conn = hosts_[h.name];
    if (conn.probe) {
      if (!conn.probe->done()) {
        start.why_not = "still waiting for an earlier call to answer";
        continue;
      }
      // Finished after its pass gave up: keep a connection it opened, but
      // list afresh.
      HostProbeResult late = conn.probe->Take();
      conn.probe.reset();
      if (late.connected && !conn.driver) start.adopt = late.connected;
    }
    std::shared_ptr<vmm::VmDriver> driver =
        start.adopt ? start.adopt : conn.driver;
    if (!driver) {
      if (clock_.MonotonicNow() < conn.next_connect) {
        start.why_not = "not connected";
        continue;
      }
      conn.next_connect = clock_.MonotonicNow() + absl::Seconds(5);
    }
    // The work owns what it touches: a hung call may outlive this pass.
    start.probe =
        HostProbe::Start([driver, host = h, connector = &host_connector_]() {
          HostProbeResult r;
          std::shared_ptr<vmm::VmDriver> d = driver;
          if (!d) {
            auto connected = connector->Connect(host);
            if (!connected.ok()) {
              r.vms = connected.status();
              return r;
            }
            d = r.connected = *connected;
          }
          r.vms = d->List(false);
          return r;
        });
  }
  return out;
}

absl::Status Controller::SyncHosts(const store::Snapshot& s,
                                   Observed* observed) {
  absl::Time now = clock_.Now();
  std::vector<Change> writes;
  // Hosts whose calls may hang are probed all at once, off this thread.
  std::map<HostId, ProbeStart> probes = StartProbes(s);
  const absl::Time deadline = absl::Now() + options_.host_probe_timeout;
  for (const auto& h : s.hosts) {
    std::shared_ptr<vmm::VmDriver> driver = Driver(h.name);
    bool fresh = false;
    absl::StatusOr<std::vector<vmm::VmInfo>> list =
        absl::UnavailableError("not connected");
    auto probe = probes.find(h.name);
    if (probe != probes.end()) {
      ProbeStart& p = probe->second;
      if (p.adopt) fresh = Adopt(h, p.adopt);
      if (!p.probe) {
        list = absl::UnavailableError(p.why_not);
      } else if (p.probe->Wait(deadline)) {
        HostProbeResult r = p.probe->Take();
        if (r.connected) fresh = Adopt(h, r.connected);
        list = std::move(r.vms);
      } else {
        absl::MutexLock lock(&mu_);
        hosts_[h.name].probe = p.probe;
        list = absl::DeadlineExceededError(
            absl::StrCat("no answer within ",
                         absl::FormatDuration(options_.host_probe_timeout)));
      }
      driver = Driver(h.name);
      if (!list.ok()) {
        spdlog::warn("host {}: {}", h.name.str(), list.status().ToString());
      }
    } else if (!driver) {
      {
        absl::MutexLock lock(&mu_);
        if (clock_.MonotonicNow() < hosts_[h.name].next_connect) continue;
        hosts_[h.name].next_connect = clock_.MonotonicNow() + absl::Seconds(5);
      }
      auto connected = host_connector_.Connect(h);
      if (connected.ok()) {
        fresh = Adopt(h, *connected);
        driver = *connected;
      } else {
        spdlog::warn("host {}: {}", h.name.str(),
                     connected.status().ToString());
      }
    }
    if (driver && probe == probes.end()) list = driver->List(false);
    ObservedHost& obs = observed->hosts[h.name];
    obs.reachable = list.ok();
    if (obs.reachable) {
      // Sessions dropped while the host did not answer close now, when
      // their connection is either working or gone (DropSession).
      std::vector<std::shared_ptr<agent::AgentApi>> parked;
      {
        absl::MutexLock lock(&mu_);
        auto it = parked_.find(h.name);
        if (it != parked_.end()) {
          parked = std::move(it->second);
          parked_.erase(it);
        }
      }
    }
    if (list.ok()) {
      for (const auto& info : *list) {
        if (info.owned) obs.vms[info.id] = info.state;
      }
    }

    // Record facts, capacity and heartbeat; rate-limited so that an idle
    // cluster does not write (and wake itself) on every pass.
    bool write_heartbeat = false;
    if (obs.reachable) {
      absl::MutexLock lock(&mu_);
      auto& conn = hosts_[h.name];
      if (fresh || clock_.MonotonicNow() - conn.last_heartbeat_write >=
                       options_.heartbeat_interval) {
        conn.last_heartbeat_write = clock_.MonotonicNow();
        write_heartbeat = true;
      }
    }
    std::optional<vmm::HostFacts> facts;
    if (write_heartbeat) {
      auto f = driver->GetHostFacts();
      if (f.ok()) facts = *f;
    }
    const bool want_down = !obs.reachable &&
                           h.state != store::HostState::kDown &&
                           now - h.last_heartbeat > options_.host_down_grace;
    const bool came_back = obs.reachable && h.state == store::HostState::kDown;
    if (!write_heartbeat && !want_down && !came_back) continue;
    const bool reachable = obs.reachable;
    writes.push_back([this, name = h.name, reachable, facts, want_down,
                      came_back, now](store::WriteTx& tx) -> absl::Status {
      // Heartbeats are recorded without a generation bump or event, so an
      // idle cluster stays quiet.
      if (reachable) NEST_RETURN_IF_ERROR(tx.RecordHostHeartbeat(name, now));
      if (!facts && !want_down && !came_back) return absl::OkStatus();
      NEST_ASSIGN_OR_RETURN(store::Host cur, tx.GetHost(name));
      store::EventNote note{"HostFacts", ""};
      if (facts) {
        cur.capacity =
            Resources::Of(facts->cpus * 1000L, facts->memory_mib,
                          cur.capacity.disk_mib() > 0 ? cur.capacity.disk_mib()
                                                      : int64_t{1} << 20);
        cur.facts["hostname"] = facts->hostname;
        cur.facts["accel"] = std::string(vmm::AccelName(facts->accel));
        cur.facts["hypervisor"] = facts->hypervisor;
      }
      if (want_down) {
        cur.state = store::HostState::kDown;
        note = {"HostDown",
                absl::StrCat("unreachable for more than ",
                             absl::FormatDuration(options_.host_down_grace))};
      } else if (came_back) {
        cur.state = store::HostState::kReady;
        note = {"HostUp", "reachable again"};
      }
      NEST_RETURN_IF_ERROR(tx.UpdateHost(cur, 0, note).status());
      if (want_down) NEST_RETURN_IF_ERROR(EvacuateHost(tx, name));
      return absl::OkStatus();
    });
  }
  if (writes.empty()) return absl::OkStatus();
  // One transaction for every host: a thousand hosts heartbeating would
  // otherwise cost a thousand commits each interval. Each host's change is
  // nested so that one host gone meanwhile does not lose the others'.
  absl::Status first;
  NEST_RETURN_IF_ERROR(store_.Write([&](store::WriteTx& tx) -> absl::Status {
    tx.SetActor("control", "");
    first = absl::OkStatus();
    for (const Change& w : writes) {
      absl::Status st = tx.Nested(w);
      if (!st.ok() && first.ok()) first = st;
    }
    return absl::OkStatus();
  }));
  return first;
}

}  // namespace nest::control

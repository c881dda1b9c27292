#include "control/diff.h"

#include <set>
#include <string>

#include "doctest/doctest.h"

namespace nest::control {
namespace {

using store::ContainerDesiredState;
using store::ContainerObservedState;

store::Workload MakeWorkload(const std::string& name, int64_t replicas) {
  store::Workload w;
  w.tenant = TenantId("t");
  w.name = WorkloadId(name);
  w.replicas = replicas;
  w.target_group = GroupId("web");
  w.meta.generation = 1;
  return w;
}

store::Container MakeContainer(const std::string& id, const std::string& wl) {
  store::Container c;
  c.id = ContainerId(id);
  c.tenant = TenantId("t");
  c.workload = WorkloadId(wl);
  c.spec_generation = 1;  // MakeWorkload's
  return c;
}

TEST_CASE("missing replicas are created with unique label ids") {
  store::Snapshot s;
  s.workloads.push_back(MakeWorkload("hello", 3));
  s.containers.push_back(MakeContainer("hello-aaaaa", "hello"));
  SeededRng rng(1);
  ContainerDiff d = DiffContainers(s, absl::UnixEpoch(), rng);
  REQUIRE(d.create.size() == 2);
  CHECK(d.create[0].id != d.create[1].id);
  for (const auto& c : d.create) {
    CHECK(c.id.str().rfind("hello-", 0) == 0);
    CHECK(c.id.str().size() == 11);
    CHECK(c.workload == WorkloadId("hello"));
  }
  CHECK(d.retire.empty());
}

TEST_CASE("surplus replicas retire unplaced first, then newest") {
  store::Snapshot s;
  s.workloads.push_back(MakeWorkload("web", 1));
  auto a = MakeContainer("web-a", "web");
  a.vm = VmId("vm1");
  a.meta.created_at = absl::FromUnixSeconds(10);
  auto b = MakeContainer("web-b", "web");
  b.vm = VmId("vm1");
  b.meta.created_at = absl::FromUnixSeconds(20);
  auto c = MakeContainer("web-c", "web");  // unplaced
  s.containers = {a, b, c};
  SeededRng rng(1);
  ContainerDiff d = DiffContainers(s, absl::UnixEpoch(), rng);
  REQUIRE(d.retire.size() == 2);
  CHECK(d.retire[0] == ContainerId("web-c"));
  CHECK(d.retire[1] == ContainerId("web-b"));
  CHECK(d.create.empty());
}

TEST_CASE("restart policy and back-off decide restarts") {
  absl::Time t0 = absl::FromUnixSeconds(1000);
  auto exited = [&](const std::string& id, int code) {
    auto c = MakeContainer(id, "job");
    c.vm = VmId("vm1");
    c.observed = code == 0 ? ContainerObservedState::kExited
                           : ContainerObservedState::kFailed;
    c.exit_code = code;
    c.finished_at = t0;
    return c;
  };
  SeededRng rng(1);
  store::Snapshot s;
  s.workloads.push_back(MakeWorkload("job", 2));
  s.containers = {exited("job-ok", 0), exited("job-bad", 1)};

  s.workloads[0].restart_policy = store::RestartPolicy::kNever;
  CHECK(DiffContainers(s, t0 + absl::Hours(1), rng).restart.empty());

  s.workloads[0].restart_policy = store::RestartPolicy::kOnFailure;
  auto d = DiffContainers(s, t0 + absl::Seconds(1), rng);
  REQUIRE(d.restart.size() == 1);
  CHECK(d.restart[0] == ContainerId("job-bad"));
  // Still inside the back-off window: nothing yet.
  CHECK(DiffContainers(s, t0 + absl::Milliseconds(500), rng).restart.empty());

  s.workloads[0].restart_policy = store::RestartPolicy::kAlways;
  CHECK(DiffContainers(s, t0 + absl::Seconds(1), rng).restart.size() == 2);
  CHECK(RestartBackoff(0) == absl::Seconds(1));
  CHECK(RestartBackoff(3) == absl::Seconds(8));
  CHECK(RestartBackoff(40) == absl::Seconds(60));
}

// A workload at generation 2 with `old` running replicas of generation 1
// and `fresh` replicas of generation 2 in state `fresh_state`.
store::Snapshot RollingSnapshot(int64_t replicas, int64_t surge,
                                int64_t unavailable, int old, int fresh,
                                ContainerObservedState fresh_state) {
  store::Snapshot s;
  store::Workload w = MakeWorkload("web", replicas);
  w.meta.generation = 2;
  w.max_surge = surge;
  w.max_unavailable = unavailable;
  s.workloads.push_back(w);
  for (int i = 0; i < old; ++i) {
    auto c = MakeContainer("web-old" + std::to_string(i), "web");
    c.observed = ContainerObservedState::kRunning;
    c.meta.created_at = absl::FromUnixSeconds(i);
    s.containers.push_back(c);
  }
  for (int i = 0; i < fresh; ++i) {
    auto c = MakeContainer("web-new" + std::to_string(i), "web");
    c.spec_generation = 2;
    c.observed = fresh_state;
    s.containers.push_back(c);
  }
  return s;
}

// Applies a diff the way the controller does, with every created replica
// coming up (or not) and every retired one gone.
void Step(store::Snapshot& s, const ContainerDiff& d, bool new_ones_start) {
  std::set<ContainerId> retire(d.retire.begin(), d.retire.end());
  std::erase_if(s.containers, [&](const store::Container& c) {
    return retire.count(c.id) > 0;
  });
  for (store::Container c : d.create) {
    c.observed = new_ones_start ? ContainerObservedState::kRunning
                                : ContainerObservedState::kCrashLoop;
    s.containers.push_back(c);
  }
}

TEST_CASE("a rollout stays within max_surge and max_unavailable to the end") {
  struct Case {
    int64_t replicas, surge, unavailable;
  };
  for (Case k : {Case{4, 1, 1}, Case{4, 0, 1}, Case{4, 2, 0}, Case{3, 1, 2},
                 Case{1, 0, 1}, Case{5, 3, 2}}) {
    CAPTURE(k.replicas);
    CAPTURE(k.surge);
    CAPTURE(k.unavailable);
    store::Snapshot s = RollingSnapshot(k.replicas, k.surge, k.unavailable,
                                        static_cast<int>(k.replicas), 0,
                                        ContainerObservedState::kRunning);
    SeededRng rng(1);
    int steps = 0;
    for (; steps < 50; ++steps) {
      ContainerDiff d = DiffContainers(s, absl::UnixEpoch(), rng);
      if (d.create.empty() && d.retire.empty()) break;
      // Retiring happens before the new ones of this step start, so the
      // floor must hold on what is left running.
      int64_t running_after_retire = 0;
      std::set<ContainerId> retire(d.retire.begin(), d.retire.end());
      for (const auto& c : s.containers) {
        running_after_retire += !retire.count(c.id) &&
                                c.observed == ContainerObservedState::kRunning;
      }
      CHECK(running_after_retire >= k.replicas - k.unavailable);
      Step(s, d, true);
      CHECK(static_cast<int64_t>(s.containers.size()) <= k.replicas + k.surge);
    }
    CHECK(steps < 50);
    CHECK(static_cast<int64_t>(s.containers.size()) == k.replicas);
    for (const auto& c : s.containers) CHECK(c.spec_generation == 2);
  }
}

TEST_CASE("new replicas that never come up stall the rollout, old ones stay") {
  store::Snapshot s =
      RollingSnapshot(3, 1, 1, 3, 0, ContainerObservedState::kRunning);
  SeededRng rng(1);
  for (int i = 0; i < 10; ++i) {
    Step(s, DiffContainers(s, absl::UnixEpoch(), rng), false);
  }
  int old_running = 0, fresh = 0;
  for (const auto& c : s.containers) {
    old_running += c.spec_generation == 1 &&
                   c.observed == ContainerObservedState::kRunning;
    fresh += c.spec_generation == 2;
  }
  CHECK(old_running == 2);  // one taken down by max_unavailable, no more
  CHECK(fresh == 2);        // replicas + surge in all, never more
}

TEST_CASE("old replicas that are not running are replaced at once") {
  store::Snapshot s =
      RollingSnapshot(2, 0, 1, 2, 0, ContainerObservedState::kRunning);
  s.containers[0].observed = ContainerObservedState::kExited;
  SeededRng rng(1);
  ContainerDiff d = DiffContainers(s, absl::UnixEpoch(), rng);
  REQUIRE(d.retire.size() == 1);
  CHECK(d.retire[0] == ContainerId("web-old0"));
  CHECK(d.create.size() == 1);  // its slot is free at once, even at surge 0
  Step(s, d, true);
  d = DiffContainers(s, absl::UnixEpoch(), rng);
  REQUIRE(d.retire.size() == 1);  // the new one is up: web-old1 may go
  CHECK(d.retire[0] == ContainerId("web-old1"));
  CHECK(d.create.empty());  // surge 0: not before web-old1 is gone
  Step(s, d, true);
  d = DiffContainers(s, absl::UnixEpoch(), rng);
  CHECK(d.create.size() == 1);
  CHECK(d.retire.empty());
}

TEST_CASE("VM diff: boot, attach, recreate, teardown, orphan, unknown") {
  store::Snapshot s;
  auto vm = [](const std::string& id, const std::string& host) {
    store::Vm v;
    v.id = VmId(id);
    v.host = HostId(host);
    v.observed = store::VmObservedState::kRunning;
    return v;
  };
  s.vms = {vm("new", "h1"),  vm("adopt", "h1"), vm("dead", "h1"),
           vm("gone", "h1"), vm("far", "h2"),   vm("busy", "h1")};
  s.vms[3].desired = store::VmDesiredState::kDeleted;
  Observed o;
  o.hosts[HostId("h1")].reachable = true;
  auto& h1 = o.hosts[HostId("h1")].vms;
  h1[VmId("adopt")] = vmm::VmState::kRunning;
  h1[VmId("dead")] = vmm::VmState::kCrashed;
  h1[VmId("gone")] = vmm::VmState::kRunning;
  h1[VmId("stray")] = vmm::VmState::kRunning;
  o.hosts[HostId("h2")].reachable = false;
  o.busy.insert(VmId("busy"));
  VmDiff d = DiffVms(s, o);
  CHECK(d.boot == std::vector<VmId>{VmId("new")});
  CHECK(d.attach == std::vector<VmId>{VmId("adopt")});
  CHECK(d.recreate == std::vector<VmId>{VmId("dead")});
  CHECK(d.teardown == std::vector<VmId>{VmId("gone")});
  REQUIRE(d.orphans.size() == 1);
  CHECK(d.orphans[0].second == VmId("stray"));
  REQUIRE(d.observe.size() == 1);
  CHECK(d.observe[0].first == VmId("far"));
  CHECK(d.observe[0].second == store::VmObservedState::kUnknown);

  // With its agent connected, a running VM needs nothing.
  o.agents.insert(VmId("adopt"));
  CHECK(DiffVms(s, o).attach.empty());
}

}  // namespace
}  // namespace nest::control

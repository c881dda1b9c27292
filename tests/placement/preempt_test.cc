#include <algorithm>
#include <set>

#include "core/rng.h"
#include "doctest/doctest.h"
#include "placement/schedule.h"
#include "tests/placement/fixtures.h"

namespace nest::placement {
namespace {

using testing::ActionsOf;
using testing::MakeContainer;
using testing::MakeGroup;
using testing::MakeHost;
using testing::MakeVm;
using testing::MustBuild;

Container With(Container c, int priority, bool best_effort = false) {
  c.priority = priority;
  c.best_effort = best_effort;
  return c;
}

std::set<std::string> Evicted(const Plan& plan) {
  std::set<std::string> out;
  for (const StopContainer& s : ActionsOf<StopContainer>(plan)) {
    out.insert(s.container.str());
  }
  return out;
}

// One full host, group at max: the only way in is eviction.
ClusterState Full(std::vector<Vm> vms) {
  ClusterState st;
  st.hosts = {MakeHost("h", 8000, 8192)};
  Group g = MakeGroup("g", "t1", 4000, 4096);
  g.max_vms = static_cast<int>(vms.size());
  st.groups = {g};
  for (Vm& v : vms) {
    v.group = g.id;
    v.tenant = g.tenant;
    v.host = HostId("h");
    v.shape = g.shape;
  }
  st.vms = std::move(vms);
  return st;
}

TEST_CASE("preemption picks the VM needing the fewest evictions") {
  Vm many;
  many.id = VmId("many");
  // Three small low-priority containers: two would have to go.
  for (int i = 0; i < 3; ++i) {
    many.containers.push_back(
        With(MakeContainer("s" + std::to_string(i), "g", "t1", 1000, 1300), 0));
  }
  Vm one;
  one.id = VmId("one");
  // One big low-priority and one high-priority container.
  one.containers.push_back(
      With(MakeContainer("big", "g", "t1", 2500, 2500), 0));
  one.containers.push_back(
      With(MakeContainer("vip", "g", "t1", 1000, 1000), 9));
  Snapshot s = MustBuild(Full({many, one}));
  SeededRng rng(1);
  Plan plan =
      Schedule(s, {{With(MakeContainer("hi", "g", "t1", 2000, 2000), 5)}}, rng);
  CHECK(Evicted(plan) == std::set<std::string>{"big"});
  auto placed = ActionsOf<PlaceContainer>(plan);
  REQUIRE(placed.size() == 1);
  CHECK(placed[0].vm == VmId("one"));
  // Stops come before the placement, and the plan applies cleanly.
  CHECK(std::holds_alternative<StopContainer>(plan.actions.front()));
  CHECK(s.Apply(plan).ok());
}

TEST_CASE("preemption evicts a minimal set, lowest priorities on ties") {
  Vm vm;
  vm.id = VmId("v");
  // Need 2000 memory; free is 96. Options: {a,b} (1000+1000), {c} (2100).
  vm.containers.push_back(With(MakeContainer("a", "g", "t1", 100, 1000), 1));
  vm.containers.push_back(With(MakeContainer("b", "g", "t1", 100, 1000), 1));
  vm.containers.push_back(With(MakeContainer("c", "g", "t1", 100, 2000), 3));
  Snapshot s = MustBuild(Full({vm}));
  SeededRng rng(1);
  Plan plan =
      Schedule(s, {{With(MakeContainer("hi", "g", "t1", 100, 2000), 5)}}, rng);
  CHECK(Evicted(plan) == std::set<std::string>{"c"});

  // With c at priority 6 (above the request) only {a, b} remains.
  Vm vm2 = vm;
  vm2.containers[2].priority = 6;
  Snapshot s2 = MustBuild(Full({vm2}));
  Plan plan2 =
      Schedule(s2, {{With(MakeContainer("hi", "g", "t1", 100, 2000), 5)}}, rng);
  CHECK(Evicted(plan2) == std::set<std::string>{"a", "b"});
}

TEST_CASE("no preemption of equal or higher priority, nor other tenants") {
  Vm vm;
  vm.id = VmId("v");
  vm.containers.push_back(With(MakeContainer("a", "g", "t1", 3000, 3000), 5));
  Snapshot s = MustBuild(Full({vm}));
  SeededRng rng(1);
  Plan plan =
      Schedule(s, {{With(MakeContainer("hi", "g", "t1", 2000, 2000), 5)}}, rng);
  CHECK(Evicted(plan).empty());
  CHECK(plan.unplaced.size() == 1);
}

TEST_CASE("a dedicated request takes a whole VM of evictable containers") {
  Vm vm;
  vm.id = VmId("v");
  vm.containers.push_back(With(MakeContainer("a", "g", "t1", 100, 100), 0));
  vm.containers.push_back(With(MakeContainer("b", "g", "t1", 100, 100), 0));
  Snapshot s = MustBuild(Full({vm}));
  Container d = With(MakeContainer("d", "g", "t1", 100, 100), 5);
  d.isolation = Isolation::kDedicated;
  SeededRng rng(1);
  Plan plan = Schedule(s, {{d}}, rng);
  CHECK(Evicted(plan) == std::set<std::string>{"a", "b"});
}

}  // namespace
}  // namespace nest::placement

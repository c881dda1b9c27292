#include "placement/explain.h"

#include "core/rng.h"
#include "doctest/doctest.h"
#include "placement/schedule.h"
#include "tests/placement/fixtures.h"

namespace nest::placement {
namespace {

using testing::MakeContainer;
using testing::MakeGroup;
using testing::MakeHost;
using testing::MakeVm;
using testing::MustBuild;

int Count(const std::vector<ReasonCount>& counts, const std::string& reason) {
  for (const ReasonCount& r : counts) {
    if (r.reason == reason) return r.count;
  }
  return 0;
}

TEST_CASE("explain counts reasons per host and per VM") {
  ClusterState st;
  for (int i = 0; i < 5; ++i) {
    st.hosts.push_back(MakeHost("small" + std::to_string(i), 16000, 1024));
  }
  st.hosts.push_back(MakeHost("down", 16000, 65536));
  st.hosts.back().state = HostState::kDown;
  st.hosts.push_back(MakeHost("big", 16000, 65536));
  Group web = MakeGroup("web", "t1", 4000, 4096);
  Group other = MakeGroup("other", "t2", 4000, 4096);
  st.groups = {web, other};
  Vm full = MakeVm("web-1", web, "big");
  full.containers.push_back(MakeContainer("a", "web", "t1", 4000, 4096));
  Vm replica = MakeVm("web-2", web, "big");
  replica.containers.push_back(
      MakeContainer("r", "web", "t1", 100, 100, "api"));
  st.vms = {full, replica};
  st.groups[0].max_vms = 2;
  Snapshot s = MustBuild(st);
  Container c = MakeContainer("x", "web", "t1", 1000, 1024, "api");
  c.anti_affinity = AntiAffinity::kDistinctVms;
  Explanation e = Explain(s, c);
  CHECK(Count(e.hosts, "memory") == 5);
  CHECK(Count(e.hosts, "host not ready") == 1);
  CHECK(Count(e.hosts, "group max vms") == 1);  // "big" would fit
  CHECK(Count(e.vms, "cpu") == 1);
  CHECK(Count(e.vms, "anti-affinity (vm)") == 1);
  REQUIRE(e.smallest_change.has_value());
  CHECK(e.smallest_change->kind == Suggestion::Kind::kRaiseGroupMax);
  CHECK(e.smallest_change->hosts == 1);
  CHECK(e.ToString().find("one more VM of group web") != std::string::npos);
  CHECK(e.ToString().find("memory: 5 hosts") != std::string::npos);
}

TEST_CASE("explain suggests the host closest to fitting") {
  ClusterState st;
  st.hosts = {MakeHost("h1", 16000, 4000), MakeHost("h2", 16000, 3000)};
  st.groups = {MakeGroup("web", "t1", 1000, 4096)};
  Snapshot s = MustBuild(st);
  Explanation e = Explain(s, MakeContainer("x", "web", "t1", 100, 100));
  REQUIRE(e.smallest_change.has_value());
  CHECK(e.smallest_change->kind == Suggestion::Kind::kFreeHostCapacity);
  CHECK(e.smallest_change->host == HostId("h1"));
  CHECK(e.smallest_change->missing == Resources::Of(0, 96, 0));
  CHECK(e.smallest_change->hosts == 2);
}

TEST_CASE("explain: shape too small, cordoned hosts, labels, no host") {
  ClusterState st;
  st.hosts = {MakeHost("h1", 16000, 65536, {{"zone", "a"}})};
  st.groups = {MakeGroup("web", "t1", 1000, 1024)};
  {
    Snapshot s = MustBuild(st);
    Explanation e = Explain(s, MakeContainer("x", "web", "t1", 2000, 100));
    REQUIRE(e.smallest_change.has_value());
    CHECK(e.smallest_change->kind == Suggestion::Kind::kGrowShape);
    CHECK(e.smallest_change->missing == Resources::Of(1000, 0, 0));
  }
  {
    Container c = MakeContainer("x", "web", "t1", 10, 10);
    c.constraints = {*ParseLabelConstraint("c", "zone=b")};
    Snapshot s = MustBuild(st);
    Explanation e = Explain(s, c);
    CHECK(Count(e.hosts, "label constraints") == 1);
    REQUIRE(e.smallest_change.has_value());
    CHECK(e.smallest_change->kind == Suggestion::Kind::kRelaxConstraints);
  }
  {
    ClusterState cordoned = st;
    cordoned.hosts[0].state = HostState::kCordoned;
    Snapshot s = MustBuild(cordoned);
    Explanation e = Explain(s, MakeContainer("x", "web", "t1", 10, 10));
    REQUIRE(e.smallest_change.has_value());
    CHECK(e.smallest_change->kind == Suggestion::Kind::kReadyHost);
  }
  {
    ClusterState none = st;
    none.hosts.clear();
    Snapshot s = MustBuild(none);
    Explanation e = Explain(s, MakeContainer("x", "web", "t1", 10, 10));
    REQUIRE(e.smallest_change.has_value());
    CHECK(e.smallest_change->kind == Suggestion::Kind::kAddHost);
  }
}

TEST_CASE("schedule reports unplaceable requests with their explanation") {
  ClusterState st;
  st.hosts = {MakeHost("h1", 16000, 2048)};
  st.groups = {MakeGroup("web", "t1", 1000, 4096)};
  Snapshot s = MustBuild(st);
  SeededRng rng(1);
  Plan plan = Schedule(s, {{MakeContainer("x", "web", "t1", 10, 10)}}, rng);
  REQUIRE(plan.unplaced.size() == 1);
  CHECK(plan.unplaced[0].container == ContainerId("x"));
  CHECK(Count(plan.unplaced[0].hosts, "memory") == 1);
}

}  // namespace
}  // namespace nest::placement

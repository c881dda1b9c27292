#include "placement/sizing.h"

#include <set>

#include "core/rng.h"
#include "doctest/doctest.h"
#include "tests/placement/fixtures.h"

namespace nest::placement {
namespace {

using testing::MakeContainer;
using testing::MakeGroup;
using testing::MakeHost;
using testing::MakeVm;
using testing::MustBuild;

TEST_CASE("scale-up sizing simulates packing rather than dividing") {
  ClusterState st;
  st.hosts = {MakeHost("h1", 64000, 65536), MakeHost("h2", 64000, 65536)};
  st.groups = {MakeGroup("web", "t1", 4000, 4096)};
  st.groups[0].max_vms = 1;
  Snapshot s = MustBuild(st);
  // 5 x 2100m: totals say 10500/4000 = 3 VMs, but two never share a VM.
  std::vector<Container> pending;
  for (int i = 0; i < 5; ++i) {
    pending.push_back(
        MakeContainer("c" + std::to_string(i), "web", "t1", 2100, 100));
  }
  pending.push_back(MakeContainer("elsewhere", "db", "t1", 1, 1));
  SeededRng rng(1);
  absl::StatusOr<ScaleUp> up = SizeScaleUp(s, GroupId("web"), pending, rng);
  REQUIRE(up.ok());
  CHECK(up->new_vms == 5);
  CHECK(up->vms.size() == 5);
  CHECK(up->exceeds_max);
  CHECK(up->unplaceable.empty());
  CHECK_FALSE(SizeScaleUp(s, GroupId("nope"), pending, rng).ok());
}

TEST_CASE("scale-up reports what fits nowhere") {
  ClusterState st;
  st.hosts = {MakeHost("h1", 64000, 8192)};
  st.groups = {MakeGroup("web", "t1", 4000, 4096)};
  Snapshot s = MustBuild(st);
  std::vector<Container> pending;
  for (int i = 0; i < 3; ++i) {
    pending.push_back(
        MakeContainer("c" + std::to_string(i), "web", "t1", 4000, 4096));
  }
  SeededRng rng(1);
  absl::StatusOr<ScaleUp> up = SizeScaleUp(s, GroupId("web"), pending, rng);
  REQUIRE(up.ok());
  CHECK(up->new_vms == 2);
  CHECK(up->unplaceable.size() == 1);
  CHECK_FALSE(up->exceeds_max);
}

TEST_CASE("scale-down finds VMs whose containers fit elsewhere") {
  ClusterState st;
  st.hosts = {MakeHost("h1", 64000, 65536)};
  Group g = MakeGroup("web", "t1", 4000, 4096);
  g.min_vms = 1;
  st.groups = {g};
  // v1: 3000m used, v2: 500m, v3: 500m, v4 empty. v4, v2 and v3 can go
  // only if their containers fit: v2+v3 fit into v1? 3000+500 = 3500 ok,
  // then 4000 full: both move.
  Vm v1 = MakeVm("v1", g, "h1");
  v1.containers.push_back(MakeContainer("a", "web", "t1", 3000, 100));
  Vm v2 = MakeVm("v2", g, "h1");
  v2.containers.push_back(MakeContainer("b", "web", "t1", 500, 100));
  Vm v3 = MakeVm("v3", g, "h1");
  v3.containers.push_back(MakeContainer("c", "web", "t1", 500, 100));
  Vm v4 = MakeVm("v4", g, "h1");
  st.vms = {v1, v2, v3, v4};
  Snapshot s = MustBuild(st);
  SeededRng rng(1);
  absl::StatusOr<ScaleDown> down = SizeScaleDown(s, GroupId("web"), rng);
  REQUIRE(down.ok());
  std::set<VmId> removable(down->removable.begin(), down->removable.end());
  CHECK(removable == std::set<VmId>{VmId("v2"), VmId("v3"), VmId("v4")});
  // The moves apply and leave the removable VMs empty.
  REQUIRE(s.Apply(Plan{down->moves, {}}).ok());
  for (const VmId& id : down->removable) {
    CHECK(s.vm(*s.FindVm(id)).spec.containers.empty());
  }
  CHECK(s.vm(*s.FindVm(VmId("v1"))).used.milli_cpu() == 4000);
}

TEST_CASE("scale-down keeps min_vms and VMs that cannot be emptied") {
  ClusterState st;
  st.hosts = {MakeHost("h1", 64000, 65536)};
  Group g = MakeGroup("web", "t1", 4000, 4096);
  g.min_vms = 2;
  st.groups = {g};
  Vm v1 = MakeVm("v1", g, "h1");
  v1.containers.push_back(MakeContainer("a", "web", "t1", 3000, 100));
  Vm v2 = MakeVm("v2", g, "h1");
  v2.containers.push_back(MakeContainer("b", "web", "t1", 3000, 100));
  Vm v3 = MakeVm("v3", g, "h1");
  st.vms = {v1, v2, v3};
  Snapshot s = MustBuild(st);
  SeededRng rng(1);
  absl::StatusOr<ScaleDown> down = SizeScaleDown(s, GroupId("web"), rng);
  REQUIRE(down.ok());
  CHECK(down->removable == std::vector<VmId>{VmId("v3")});
  CHECK(down->moves.empty());
}

}  // namespace
}  // namespace nest::placement

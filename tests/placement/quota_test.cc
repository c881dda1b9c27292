// Tenant quotas in placement: no plan creates a VM past a tenant's quota,
// and what is left pending says which limit holds it.
#include <string>
#include <vector>

#include "core/rng.h"
#include "doctest/doctest.h"
#include "placement/explain.h"
#include "placement/schedule.h"
#include "placement/sizing.h"
#include "tests/placement/fixtures.h"

namespace nest::placement {
namespace {

using testing::ActionsOf;
using testing::MakeContainer;
using testing::MakeGroup;
using testing::MakeHost;
using testing::MakeVm;
using testing::MustBuild;

// Two roomy hosts; group "web" of tenant t1 and "db" of tenant t2, both
// 1 vCPU / 1024 MiB VMs with 128 MiB VMM overhead.
ClusterState TwoTenants() {
  ClusterState st;
  st.hosts = {MakeHost("h1", 64000, 65536), MakeHost("h2", 64000, 65536)};
  st.groups = {MakeGroup("web", "t1", 1000, 1024),
               MakeGroup("db", "t2", 1000, 1024)};
  for (Group& g : st.groups) g.vmm_overhead_mib = 128;
  return st;
}

// `n` containers that each fill a VM of the group.
Pending Filling(const std::string& group, const std::string& tenant, int n) {
  Pending p;
  for (int i = 0; i < n; ++i) {
    p.containers.push_back(MakeContainer(group + std::to_string(i), group,
                                         tenant, 1000, 1024, group));
  }
  return p;
}

int NewVmsOf(const Plan& plan, const std::string& group) {
  int n = 0;
  for (const CreateVm& vm : ActionsOf<CreateVm>(plan)) {
    n += vm.group == GroupId(group) ? 1 : 0;
  }
  return n;
}

TEST_CASE("a VM-count quota caps the VMs created for pending containers") {
  for (int limit : {0, 1, 2, 5}) {
    CAPTURE(limit);
    ClusterState st = TwoTenants();
    st.quotas = {
        TenantQuota{TenantId("t1"), limit, std::nullopt, std::nullopt}};
    Pending p = Filling("web", "t1", 5);
    for (Container& c : Filling("db", "t2", 3).containers) {
      p.containers.push_back(c);
    }
    SeededRng rng(7);
    Plan plan = Schedule(MustBuild(st), p, rng);
    CHECK(NewVmsOf(plan, "web") == limit);
    CHECK(NewVmsOf(plan, "db") == 3);  // another tenant is not held back
    CHECK(ActionsOf<PlaceContainer>(plan).size() ==
          static_cast<size_t>(limit + 3));
    REQUIRE(plan.unplaced.size() == static_cast<size_t>(5 - limit));
    for (const Explanation& e : plan.unplaced) {
      CHECK(e.ToString().find("tenant quota") != std::string::npos);
      REQUIRE(e.smallest_change.has_value());
      CHECK(e.smallest_change->kind == Suggestion::Kind::kRaiseTenantQuota);
      CHECK(e.smallest_change->text == "raise the quota of tenant t1 (vms " +
                                           std::to_string(limit) + " of " +
                                           std::to_string(limit) +
                                           ") for one more VM of group web");
    }
  }
}

TEST_CASE("memory quotas count the VMM overhead, vCPU quotas the shape") {
  struct Case {
    std::optional<int64_t> milli_cpu, memory_mib;
    int want;
  };
  // Each VM takes 1000m and 1024 + 128 = 1152 MiB.
  for (Case c : {Case{std::nullopt, 2304, 2}, Case{std::nullopt, 2303, 1},
                 Case{3000, std::nullopt, 3}, Case{2999, std::nullopt, 2},
                 Case{1000, 1152, 1}}) {
    CAPTURE(c.want);
    ClusterState st = TwoTenants();
    st.quotas = {
        TenantQuota{TenantId("t1"), std::nullopt, c.milli_cpu, c.memory_mib}};
    SeededRng rng(3);
    Plan plan = Schedule(MustBuild(st), Filling("web", "t1", 4), rng);
    CHECK(NewVmsOf(plan, "web") == c.want);
  }
}

TEST_CASE("existing VMs use up the quota; retiring one frees its share") {
  ClusterState st = TwoTenants();
  st.vms = {MakeVm("web-a", st.groups[0], "h1"),
            MakeVm("web-b", st.groups[0], "h2")};
  st.vms[0].containers = {MakeContainer("full-a", "web", "t1", 1000, 1024)};
  st.vms[1].containers = {MakeContainer("full-b", "web", "t1", 1000, 1024)};
  st.quotas = {TenantQuota{TenantId("t1"), 2, std::nullopt, std::nullopt}};
  Snapshot s = MustBuild(st);
  REQUIRE(s.tenant(TenantId("t1")) != nullptr);
  CHECK(s.tenant(TenantId("t1"))->live_vms == 2);
  CHECK(s.tenant(TenantId("t1"))->used.memory_mib() == 2 * 1152);
  CHECK(s.tenant(TenantId("t2")) == nullptr);
  SeededRng rng(1);
  // Both VMs are full of one container each; a third needs a new VM.
  Pending one = Filling("web", "t1", 1);
  CHECK(NewVmsOf(Schedule(s, one, rng), "web") == 0);
  s.SetRetired(*s.FindVm(VmId("web-a")), true);
  CHECK(s.tenant(TenantId("t1"))->live_vms == 1);
  CHECK(NewVmsOf(Schedule(s, one, rng), "web") == 1);
}

TEST_CASE("a group's minimum is not filled past the tenant's quota") {
  ClusterState st = TwoTenants();
  st.groups[0].min_vms = 3;
  st.quotas = {TenantQuota{TenantId("t1"), 1, std::nullopt, std::nullopt}};
  SeededRng rng(1);
  Plan plan = Schedule(MustBuild(st), Pending{}, rng);
  CHECK(NewVmsOf(plan, "web") == 1);
}

TEST_CASE("scale-up sizing says how far past the quota the VMs would go") {
  ClusterState st = TwoTenants();
  st.quotas = {TenantQuota{TenantId("t1"), 2, std::nullopt, std::nullopt}};
  Snapshot s = MustBuild(st);
  SeededRng rng(1);
  std::vector<Container> pending = Filling("web", "t1", 3).containers;
  absl::StatusOr<ScaleUp> up = SizeScaleUp(s, GroupId("web"), pending, rng);
  REQUIRE(up.ok());
  CHECK(up->new_vms == 3);  // what the containers need, quota lifted
  CHECK(up->exceeds_quota == "vms 2 of 2");
  pending.pop_back();
  up = SizeScaleUp(s, GroupId("web"), pending, rng);
  REQUIRE(up.ok());
  CHECK(up->new_vms == 2);
  CHECK(up->exceeds_quota.empty());
}

TEST_CASE("quotas are validated when the snapshot is built") {
  ClusterState st = TwoTenants();
  st.quotas = {TenantQuota{TenantId("t1"), -1, std::nullopt, std::nullopt}};
  absl::StatusOr<Snapshot> s = Snapshot::Build(st);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message() == "quota of tenant t1: vms must be >= 0, got -1");
  st.quotas = {TenantQuota{TenantId("t1"), 1, std::nullopt, std::nullopt},
               TenantQuota{TenantId("t1"), 2, std::nullopt, std::nullopt}};
  s = Snapshot::Build(st);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message() == "tenant t1 has more than one quota");
}

}  // namespace
}  // namespace nest::placement

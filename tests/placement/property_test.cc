// Property tests over random snapshots: whatever Schedule decides, once
// applied, no VM mixes tenants, nothing exceeds capacity after overcommit,
// dedicated containers are alone, anti-affinity holds and only ready hosts
// receive work. Sizes are small so the suite stays fast under sanitizers.
#include <map>
#include <set>

#include "core/rng.h"
#include "doctest/doctest.h"
#include "placement/schedule.h"
#include "tests/placement/fixtures.h"

namespace nest::placement {
namespace {

using testing::ActionsOf;

struct Random {
  ClusterState state;
  Pending pending;
};

Random Generate(uint64_t seed) {
  SeededRng rng(seed);
  Random r;
  const int hosts = 4 + rng.Uniform(16);
  const char* zones[] = {"a", "b", "c"};
  for (int i = 0; i < hosts; ++i) {
    Host h;
    h.id = HostId("h" + std::to_string(i));
    h.capacity = Resources::Of(4000 + 4000 * rng.Uniform(4),
                               4096 + 4096 * rng.Uniform(4), 100000);
    h.reserved = Resources::Of(500, 512, 0);
    h.overcommit = {static_cast<double>(1 + rng.Uniform(4)), 1.0, 1.0};
    h.labels = {{"zone", zones[rng.Uniform(3)]}};
    if (rng.Uniform(2)) h.labels["ssd"] = "true";
    h.state = rng.Uniform(8) == 0 ? HostState::kCordoned : HostState::kReady;
    r.state.hosts.push_back(h);
  }
  const int tenants = 1 + rng.Uniform(4);
  const int groups = 1 + rng.Uniform(5);
  for (int i = 0; i < groups; ++i) {
    Group g;
    g.id = GroupId("g" + std::to_string(i));
    g.tenant = TenantId("t" + std::to_string(rng.Uniform(tenants)));
    g.shape = Resources::Of(1000 + 1000 * rng.Uniform(4),
                            1024 + 1024 * rng.Uniform(4), 1000);
    g.vmm_overhead_mib = 32 * rng.Uniform(3);
    g.policy = rng.Uniform(2) ? GroupPolicy::kSpread : GroupPolicy::kBinpack;
    if (rng.Uniform(3) == 0) g.spread_label = "zone";
    g.max_vms = 2 + rng.Uniform(30);
    r.state.groups.push_back(g);
  }
  // Existing VMs where they fit, holding containers that fit them.
  std::vector<Resources> host_free;
  for (const Host& h : r.state.hosts) {
    Resources f;
    for (int d = 0; d < kDims; ++d) {
      f.v[d] = static_cast<int64_t>((h.capacity.v[d] - h.reserved.v[d]) *
                                    h.overcommit[d]);
    }
    host_free.push_back(f);
  }
  std::map<std::string, int> vms_in_group;
  const int vms = rng.Uniform(40);
  for (int i = 0; i < vms; ++i) {
    const Group& g = r.state.groups[rng.Uniform(groups)];
    int h = static_cast<int>(rng.Uniform(hosts));
    Resources demand = VmHostDemand(g.shape, g.vmm_overhead_mib);
    if (!demand.fits(host_free[h])) continue;
    if (vms_in_group[g.id.str()] >= g.max_vms) continue;
    ++vms_in_group[g.id.str()];
    host_free[h] -= demand;
    Vm v =
        testing::MakeVm("v" + std::to_string(i), g, r.state.hosts[h].id.str());
    Resources left = g.shape;
    for (int k = 0; k < 3; ++k) {
      Resources req = Resources::Of(100 + 100 * rng.Uniform(10),
                                    128 + 128 * rng.Uniform(10), 0);
      if (!req.fits(left)) break;
      left -= req;
      Container c = testing::MakeContainer(
          "old" + std::to_string(i) + "-" + std::to_string(k), g.id.str(),
          g.tenant.str(), req.milli_cpu(), req.memory_mib(), "oldw");
      c.priority = static_cast<int>(rng.Uniform(3));
      v.containers.push_back(c);
    }
    r.state.vms.push_back(v);
  }
  const int pending = 10 + rng.Uniform(50);
  for (int i = 0; i < pending; ++i) {
    const Group& g = r.state.groups[rng.Uniform(groups)];
    // Mostly the group's tenant; sometimes another (must never mix).
    std::string tenant = rng.Uniform(6) == 0
                             ? "t" + std::to_string(rng.Uniform(tenants))
                             : g.tenant.str();
    Container c = testing::MakeContainer("p" + std::to_string(i), g.id.str(),
                                         tenant, 100 + 100 * rng.Uniform(20),
                                         128 + 128 * rng.Uniform(20),
                                         "w" + std::to_string(rng.Uniform(5)));
    c.priority = static_cast<int>(rng.Uniform(4));
    if (rng.Uniform(8) == 0) c.isolation = Isolation::kDedicated;
    // Anti-affinity is a property of the workload: w0 distinct VMs, w1
    // distinct hosts.
    if (c.workload == WorkloadId("w0"))
      c.anti_affinity = AntiAffinity::kDistinctVms;
    if (c.workload == WorkloadId("w1")) {
      c.anti_affinity = AntiAffinity::kDistinctHosts;
    }
    if (rng.Uniform(6) == 0) {
      c.constraints = {*ParseLabelConstraint("c", "ssd=true")};
    }
    r.pending.containers.push_back(c);
  }
  return r;
}

void CheckInvariants(const Snapshot& s) {
  std::vector<Resources> host_used(s.host_count());
  for (int v = 0; v < s.vm_count(); ++v) {
    const VmRec& r = s.vm(v);
    host_used[r.host] += r.HostDemand();
    Resources used;
    std::map<std::string, int> replicas;
    for (const Container& c : r.spec.containers) {
      CHECK_MESSAGE(c.tenant == r.spec.tenant, "vm ", r.spec.id.str(),
                    " holds tenant ", c.tenant.str());
      used += c.requests;
      if (c.isolation == Isolation::kDedicated) {
        CHECK(r.spec.containers.size() == 1);
      }
      if (c.anti_affinity != AntiAffinity::kNone) {
        CHECK(++replicas[c.workload.str()] == 1);
      }
    }
    CHECK(used.fits(r.spec.shape));
  }
  for (int h = 0; h < s.host_count(); ++h) {
    CHECK_MESSAGE(host_used[h].fits(s.host(h).allocatable), "host ",
                  s.host(h).spec.id.str());
  }
  // Distinct hosts for w1.
  std::map<int, int> w1_per_host;
  for (int v = 0; v < s.vm_count(); ++v) {
    for (const Container& c : s.vm(v).spec.containers) {
      if (c.workload == WorkloadId("w1"))
        CHECK(++w1_per_host[s.vm(v).host] == 1);
    }
  }
}

TEST_CASE("property: random snapshots never break isolation or capacity") {
  // Every path must be exercised, or the properties prove little.
  int placed = 0, created = 0, stopped = 0, unplaced = 0;
  for (uint64_t seed = 1; seed <= 60; ++seed) {
    CAPTURE(seed);
    Random r = Generate(seed);
    for (bool index : {true, false}) {
      Snapshot s = testing::MustBuild(r.state);
      CheckInvariants(s);
      SeededRng rng(seed * 7 + index);
      Plan plan = Schedule(s, r.pending, rng, Options{.use_index = index});
      for (const CreateVm& c : ActionsOf<CreateVm>(plan)) {
        CHECK(s.host(*s.FindHost(c.host)).spec.state == HostState::kReady);
      }
      std::set<std::string> evicted;
      for (const StopContainer& st : ActionsOf<StopContainer>(plan)) {
        evicted.insert(st.container.str());
      }
      // Every pending container is placed or explained, exactly once.
      std::multiset<std::string> outcome;
      for (const PlaceContainer& p : ActionsOf<PlaceContainer>(plan)) {
        outcome.insert(p.container.id.str());
      }
      for (const Explanation& e : plan.unplaced) {
        outcome.insert(e.container.str());
      }
      CHECK(outcome.size() == r.pending.containers.size());
      for (const Container& c : r.pending.containers) {
        CHECK(outcome.count(c.id.str()) == 1);
      }
      placed += static_cast<int>(ActionsOf<PlaceContainer>(plan).size());
      created += static_cast<int>(ActionsOf<CreateVm>(plan).size());
      stopped += static_cast<int>(evicted.size());
      unplaced += static_cast<int>(plan.unplaced.size());
      REQUIRE(s.Apply(plan).ok());
      for (const PlaceContainer& p : ActionsOf<PlaceContainer>(plan)) {
        const VmRec& vm = s.vm(*s.FindVm(p.vm));
        // Placed containers land on ready hosts only.
        CHECK(s.host(vm.host).spec.state == HostState::kReady);
      }
      CheckInvariants(s);
      // Replaying the same input gives the same plan.
      Snapshot again = testing::MustBuild(r.state);
      SeededRng rng2(seed * 7 + index);
      Plan replay =
          Schedule(again, r.pending, rng2, Options{.use_index = index});
      CHECK(replay.actions.size() == plan.actions.size());
      for (size_t i = 0;
           i < std::min(replay.actions.size(), plan.actions.size()); ++i) {
        CHECK(replay.actions[i] == plan.actions[i]);
      }
    }
  }
  MESSAGE("placed ", placed, " created ", created, " evicted ", stopped,
          " unplaced ", unplaced);
  CHECK(placed > 100);
  CHECK(created > 20);
  CHECK(stopped > 0);
  CHECK(unplaced > 0);
}

}  // namespace
}  // namespace nest::placement

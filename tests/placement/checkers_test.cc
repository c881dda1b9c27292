#include "placement/checkers.h"

#include "doctest/doctest.h"
#include "placement/ask.h"
#include "placement/stack.h"
#include "tests/placement/fixtures.h"

namespace nest::placement {
namespace {

using testing::MakeContainer;
using testing::MakeGroup;
using testing::MakeHost;
using testing::MakeVm;
using testing::MustBuild;

// Two hosts (a: zone a, ssd; b: zone b), group web of tenant t1 with VMs on
// both, group db of tenant t2 with one VM on a.
struct World {
  ClusterState state;
  World() {
    state.hosts = {MakeHost("a", 8000, 8192, {{"zone", "a"}, {"ssd", "true"}}),
                   MakeHost("b", 8000, 8192, {{"zone", "b"}})};
    Group web = MakeGroup("web", "t1", 2000, 2048);
    Group db = MakeGroup("db", "t2", 2000, 2048);
    state.groups = {web, db};
    Vm v1 = MakeVm("web-1", web, "a");
    v1.containers.push_back(
        MakeContainer("c1", "web", "t1", 1000, 1024, "api"));
    state.vms = {v1, MakeVm("web-2", web, "b"), MakeVm("db-1", db, "a")};
  }
};

struct Probe {
  Snapshot s;
  Container c;
  Ask ask;
  Probe(const ClusterState& st, Container container)
      : s(MustBuild(st)), c(std::move(container)) {
    ask = MakeAsk(s, *s.FindGroup(c.group), {&c}, 7);
  }
  int Vm(const std::string& id) { return *s.FindVm(VmId(id)); }
  int Host(const std::string& id) { return *s.FindHost(HostId(id)); }
};

TEST_CASE("vm capacity: reason names the short dimension") {
  World w;
  Probe p(w.state, MakeContainer("x", "web", "t1", 500, 1500));
  VmCapacityChecker check;
  CHECK(std::string(check.Check(p.s, p.ask, p.Vm("web-1"))) == "memory");
  CHECK(check.Check(p.s, p.ask, p.Vm("web-2")) == nullptr);
  Probe cpu(w.state, MakeContainer("y", "web", "t1", 1500, 10));
  CHECK(std::string(check.Check(cpu.s, cpu.ask, cpu.Vm("web-1"))) == "cpu");
}

TEST_CASE("tenant isolation rejects VMs of another tenant") {
  World w;
  Probe p(w.state, MakeContainer("x", "web", "t2", 10, 10));
  VmTenantChecker check;
  CHECK(check.Check(p.s, p.ask, p.Vm("web-1")) == kReasonTenant);
  CHECK(check.Check(p.s, p.ask, p.Vm("db-1")) == nullptr);
  GroupTenantChecker group_check;
  CHECK(group_check.Check(p.s, p.ask) == kReasonTenant);
  Probe ok(w.state, MakeContainer("y", "web", "t1", 10, 10));
  CHECK(group_check.Check(ok.s, ok.ask) == nullptr);
}

TEST_CASE("dedicated isolation needs an empty VM and keeps it") {
  World w;
  Container d = MakeContainer("x", "web", "t1", 10, 10);
  d.isolation = Isolation::kDedicated;
  Probe p(w.state, d);
  VmDedicatedChecker check;
  CHECK(check.Check(p.s, p.ask, p.Vm("web-1")) == kReasonDedicated);
  CHECK(check.Check(p.s, p.ask, p.Vm("web-2")) == nullptr);
  // Once a dedicated container is in web-2, nothing else joins it.
  REQUIRE(p.s.AddContainer(p.Vm("web-2"), d).ok());
  Probe shared(w.state, MakeContainer("y", "web", "t1", 10, 10));
  REQUIRE(shared.s.AddContainer(shared.Vm("web-2"), d).ok());
  CHECK(check.Check(shared.s, shared.ask, shared.Vm("web-2")) ==
        kReasonDedicated);
}

TEST_CASE("anti-affinity on VMs and on hosts") {
  World w;
  Container c = MakeContainer("x", "web", "t1", 10, 10, "api");
  c.anti_affinity = AntiAffinity::kDistinctVms;
  Probe p(w.state, c);
  VmAntiAffinityChecker check;
  CHECK(check.Check(p.s, p.ask, p.Vm("web-1")) == kReasonAntiAffinityVm);
  CHECK(check.Check(p.s, p.ask, p.Vm("web-2")) == nullptr);
  c.anti_affinity = AntiAffinity::kDistinctHosts;
  Probe h(w.state, c);
  HostAntiAffinityChecker host_check;
  CHECK(host_check.Check(h.s, h.ask, h.Host("a")) == kReasonAntiAffinityHost);
  CHECK(host_check.Check(h.s, h.ask, h.Host("b")) == nullptr);
  c.anti_affinity = AntiAffinity::kNone;
  Probe none(w.state, c);
  CHECK(check.Check(none.s, none.ask, none.Vm("web-1")) == nullptr);
}

TEST_CASE("label constraints apply to the VM's host and to new hosts") {
  World w;
  Container c = MakeContainer("x", "web", "t1", 10, 10);
  c.constraints = {*ParseLabelConstraint("c", "ssd=true")};
  Probe p(w.state, c);
  VmLabelChecker vm_check;
  CHECK(vm_check.Check(p.s, p.ask, p.Vm("web-1")) == nullptr);
  CHECK(vm_check.Check(p.s, p.ask, p.Vm("web-2")) == kReasonLabels);
  HostLabelChecker host_check;
  CHECK(host_check.Check(p.s, p.ask, p.Host("a")) == nullptr);
  CHECK(host_check.Check(p.s, p.ask, p.Host("b")) == kReasonLabels);
  // Group constraints count too.
  w.state.groups[0].host_constraints = {*ParseLabelConstraint("c", "zone=b")};
  Probe g(w.state, MakeContainer("y", "web", "t1", 10, 10));
  CHECK(host_check.Check(g.s, g.ask, g.Host("a")) == kReasonLabels);
  CHECK(host_check.Check(g.s, g.ask, g.Host("b")) == nullptr);
}

TEST_CASE("host state: only ready hosts take new VMs or containers") {
  World w;
  w.state.hosts[1].state = HostState::kCordoned;
  Probe p(w.state, MakeContainer("x", "web", "t1", 10, 10));
  HostStateChecker check;
  CHECK(check.Check(p.s, p.ask, p.Host("a")) == nullptr);
  CHECK(check.Check(p.s, p.ask, p.Host("b")) == kReasonHostNotReady);
  VmHostStateChecker vm_check;
  CHECK(vm_check.Check(p.s, p.ask, p.Vm("web-2")) == kReasonHostNotReady);
  CHECK(vm_check.Check(p.s, p.ask, p.Vm("web-1")) == nullptr);
}

TEST_CASE("host capacity applies reserved and overcommit") {
  World w;
  // Host a: (8000m - 2000m reserved) x4 = 24000m; memory (8192 - 4096) x1
  // = 4096, all taken by web-1 and db-1.
  w.state.hosts[0].reserved = Resources::Of(2000, 4096, 0);
  w.state.hosts[0].overcommit = kDefaultOvercommit;
  Probe p(w.state, MakeContainer("x", "web", "t1", 10, 10));
  CHECK(p.s.host(p.Host("a")).allocatable ==
        Resources::Of(24000, 4096, 100000));
  HostCapacityChecker check;
  CHECK(std::string(check.Check(p.s, p.ask, p.Host("a"))) == "memory");
  CHECK(check.Check(p.s, p.ask, p.Host("b")) == nullptr);
  // VMM overhead counts against the host.
  w.state.hosts[0].reserved = Resources::Of(0, 4096 - 100, 0);
  w.state.vms.pop_back();  // drop db-1: a holds web-1 (2048) only
  w.state.groups[0].vmm_overhead_mib = 64;
  Probe o(w.state, MakeContainer("y", "web", "t1", 10, 10));
  // Free: 4196 - 2048 = 2148 >= 2048 + 64 but web-1 had no overhead.
  CHECK(check.Check(o.s, o.ask, o.Host("a")) == nullptr);
  w.state.vms[0].vmm_overhead_mib = 64;
  Probe o2(w.state, MakeContainer("z", "web", "t1", 10, 10));
  CHECK(std::string(check.Check(o2.s, o2.ask, o2.Host("a"))) == "memory");
}

TEST_CASE("spread keeps the skew of VMs per zone within max_skew") {
  World w;
  w.state.groups[0].spread_label = "zone";
  w.state.groups[0].max_skew = 1;
  w.state.vms.push_back(MakeVm("web-3", w.state.groups[0], "a"));
  // Zone a holds 2 web VMs, zone b one.
  Probe p(w.state, MakeContainer("x", "web", "t1", 10, 10));
  HostSpreadChecker check;
  CHECK(check.Check(p.s, p.ask, p.Host("a")) == kReasonSpread);
  CHECK(check.Check(p.s, p.ask, p.Host("b")) == nullptr);
  w.state.groups[0].max_skew = 2;
  Probe loose(w.state, MakeContainer("y", "web", "t1", 10, 10));
  CHECK(check.Check(loose.s, loose.ask, loose.Host("a")) == nullptr);
}

TEST_CASE("group max counts live VMs") {
  World w;
  w.state.groups[0].max_vms = 2;
  Probe p(w.state, MakeContainer("x", "web", "t1", 10, 10));
  GroupMaxChecker check;
  CHECK(check.Check(p.s, p.ask) == kReasonGroupMax);
  p.s.SetRetired(p.Vm("web-2"), true);
  CHECK(check.Check(p.s, p.ask) == nullptr);
  VmRetiredChecker retired;
  CHECK(retired.Check(p.s, p.ask, p.Vm("web-2")) == kReasonRetired);
}

TEST_CASE("snapshot build rejects bad references with the field named") {
  World w;
  w.state.vms[0].host = HostId("nowhere");
  absl::StatusOr<Snapshot> s = Snapshot::Build(w.state);
  REQUIRE_FALSE(s.ok());
  CHECK(s.status().message().find("nowhere") != std::string::npos);
  World dup;
  dup.state.hosts.push_back(dup.state.hosts[0]);
  CHECK_FALSE(Snapshot::Build(dup.state).ok());
}

}  // namespace
}  // namespace nest::placement

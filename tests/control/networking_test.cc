// The network reconciler on a simulated cluster (SimDriver, FakeAgent, a
// fake clock) with recording host operations: what each VM, guest and
// container gets, what the host table holds, and that it follows changes.
#include "control/networking.h"

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "agent/fake_agent.h"
#include "control/commands.h"
#include "control/controller.h"
#include "control/sim.h"
#include "core/field_errors.h"
#include "doctest/doctest.h"
#include "tests/control/cluster_util.h"

namespace nest::control {
namespace {

using store::ContainerObservedState;

std::string NoEncode(const auto&) { return ""; }

class RecordingOps : public HostNetworkOps {
 public:
  absl::Status EnsureNetwork(const store::Host& host,
                             const vmm::NetworkSpec& spec) override {
    networks[host.name.str()][spec.name] = spec;
    ++ensures;
    return absl::OkStatus();
  }
  absl::Status EnsureFilter(const store::Host& host,
                            const vmm::NwFilterSpec& spec) override {
    filters[host.name.str()][spec.name] = spec;
    ++ensures;
    return absl::OkStatus();
  }
  absl::Status RemoveNetwork(const store::Host& host, const std::string& name,
                             const std::string&) override {
    if (networks[host.name.str()].erase(name) > 0) removed.push_back(name);
    return absl::OkStatus();
  }
  absl::Status RemoveFilter(const store::Host& host, const std::string& name,
                            const std::string&) override {
    if (filters[host.name.str()].erase(name) > 0) removed.push_back(name);
    return absl::OkStatus();
  }
  absl::Status ApplyLocalRuleset(const std::string& script) override {
    host_script = script;
    table_present = true;
    ++applies;
    return absl::OkStatus();
  }
  absl::StatusOr<bool> LocalTablePresent(const std::string&) override {
    return table_present;
  }

  std::map<std::string, std::map<std::string, vmm::NetworkSpec>> networks;
  std::map<std::string, std::map<std::string, vmm::NwFilterSpec>> filters;
  std::vector<std::string> removed;
  std::string host_script;
  bool table_present = false;
  int applies = 0;
  int ensures = 0;
};

struct Cluster : testing::SimParts {
  RecordingOps ops;
  std::unique_ptr<Networking> net;
  std::unique_ptr<Controller> controller;

  Cluster() {
    REQUIRE(testing::SeedHttpd(*store, 0).ok());
    REQUIRE(store
                ->Write([](store::WriteTx& tx) -> absl::Status {
                  NEST_ASSIGN_OR_RETURN(
                      store::Workload w,
                      tx.GetWorkload(TenantId("default"), WorkloadId("httpd")));
                  w.ports = {{"http", 8080, 18080, "tcp"}};
                  // Replicas with ports go to distinct VMs: 2 VMs.
                  return tx.UpdateWorkload(w, 0).status();
                })
                .ok());
    images.Add("httpd", testing::HttpdImage());
    Start();
  }
  void Start() {
    controller.reset();
    NetworkOptions nopts;
    nopts.installation = "test";
    net = *Networking::Create(*store, ops, clock, nopts);
    ControllerOptions opts = testing::TestControllerOptions();
    opts.vm_stop_deadline = absl::ZeroDuration();
    opts.network = net.get();
    controller = std::make_unique<Controller>(*store, hosts, provisioner,
                                              agents, images, clock, opts);
  }
  void Converge(int passes = 8) {
    for (int i = 0; i < passes; ++i) {
      (void)controller->ReconcileOnce();
      controller->AwaitIdle();
      clock.Advance(absl::Seconds(1));
    }
  }
  store::Snapshot Snap() { return *store->ReadSnapshot(); }
  std::shared_ptr<agent::FakeAgent> Agent(const VmId& vm) {
    auto a = controller->AgentFor(vm);
    REQUIRE(a.ok());
    return std::dynamic_pointer_cast<agent::FakeAgent>(*a);
  }
};

TEST_CASE("VMs, guests and containers get their addresses, VIP and names") {
  Cluster c;
  c.Converge();
  store::Snapshot s = c.Snap();
  REQUIRE(s.vms.size() == 2);
  REQUIRE(s.containers.size() == 2);
  const VmId vm = s.containers[0].vm;
  CHECK(s.containers[1].vm != vm);

  // The domain's NIC is on the tenant's bridge and references its filter,
  // both of which the host got before the VM booted.
  std::optional<vmm::NicSpec> nic = c.net->NicFor(vm);
  REQUIRE(nic);
  REQUIRE(c.ops.networks["h1"].size() == 1);
  const vmm::NetworkSpec& n = c.ops.networks["h1"].begin()->second;
  CHECK(nic->bridge == n.bridge);
  CHECK(n.address == "10.88.0.1");
  CHECK(n.prefix == 20);
  CHECK(n.routes.empty());  // containers are on-link (proxy ARP)
  REQUIRE(c.ops.filters["h1"].size() == 1);
  CHECK(nic->filter == c.ops.filters["h1"].begin()->first);
  CHECK(absl::StartsWith(nic->mac, "52:54:0a:58:00:0"));

  // The guest holds its address, the VIP and every name.
  auto agent = c.Agent(vm);
  REQUIRE(agent->network());
  const agent::GuestNetwork g = *agent->network();
  CHECK(absl::StartsWith(g.address, "10.88.0."));
  CHECK(g.gateway == "10.88.0.1");
  CHECK(g.prefix_length == 20);
  CHECK(g.mac == nic->mac);
  const std::string vip =
      c.net->VipOf(TenantId("default"), WorkloadId("httpd"));
  CHECK(vip == "10.88.0.4");  // after the two VMs' addresses
  CHECK(g.vips == std::vector<std::string>{vip});
  std::map<std::string, std::string> names(g.hosts.begin(), g.hosts.end());
  CHECK(names["httpd"] == vip);
  for (const auto& ct : s.containers) {
    INFO("container ", ct.id.str(), " vm ", ct.vm.str(), ": ", ct.message);
    CHECK(ct.observed == ContainerObservedState::kRunning);
    const std::string addr = c.net->ContainerAddress(ct.id);
    CHECK(absl::StartsWith(addr, "10.88.0."));
    CHECK(names[ct.id.str()] == addr);
    // The agent got the same address, and the VIP balances over it.
    auto info = c.Agent(ct.vm)->ContainerStatus(ct.id.str());
    REQUIRE(info.ok());
    CHECK(info->address == addr);
    CHECK(absl::StrContains(g.ruleset, addr + " . 8080"));
    CHECK(absl::StrContains(c.ops.host_script, addr + " . 8080"));
  }
  CHECK(absl::StrContains(c.ops.host_script, "tcp dport 18080"));
}

TEST_CASE("a replica scaled away leaves the VIP before it stops") {
  Cluster c;
  c.Converge();
  store::Snapshot s = c.Snap();
  auto agent = c.Agent(s.vms[0].id);
  const uint64_t configs = agent->network_configs();
  REQUIRE(absl::StrContains(agent->network()->ruleset, "numgen"));  // 2
  REQUIRE(testing::ScaleCarrying(*c.store, "httpd", 1).ok());
  // One pass: the guest is reconfigured; the retired replica's SIGTERM
  // comes after in the same pass.
  (void)c.controller->ReconcileOnce();
  c.controller->AwaitIdle();
  CHECK(agent->network_configs() > configs);
  store::Snapshot after = c.Snap();
  int running_backends = 0;
  for (const auto& ct : after.containers) {
    const std::string addr = c.net->ContainerAddress(ct.id);
    // One backend left: a plain "dnat ip to ADDR:PORT".
    if (absl::StrContains(agent->network()->ruleset, addr + ":8080")) {
      ++running_backends;
      CHECK(ct.desired == store::ContainerDesiredState::kRunning);
    }
  }
  CHECK(running_backends == 1);
  c.Converge();
  CHECK(c.Snap().containers.size() == 1);
}

TEST_CASE("addresses survive a restart; a deleted host table is restored") {
  Cluster c;
  c.Converge();
  store::Snapshot s = c.Snap();
  std::map<std::string, std::string> before;
  for (const auto& ct : s.containers) {
    before[ct.id.str()] = c.net->ContainerAddress(ct.id);
  }
  const std::string vip =
      c.net->VipOf(TenantId("default"), WorkloadId("httpd"));

  c.Start();  // a new Networking restored from the store's rows
  c.Converge(2);
  for (const auto& [id, addr] : before) {
    CHECK(c.net->ContainerAddress(ContainerId(id)) == addr);
  }
  CHECK(c.net->VipOf(TenantId("default"), WorkloadId("httpd")) == vip);

  // Guests are sent their (unchanged) network again now and then, so an
  // agent restores a table or address removed by hand in the guest.
  auto agent = c.Agent(s.vms[0].id);
  const uint64_t configs = agent->network_configs();
  c.clock.Advance(absl::Seconds(31));
  c.Converge(1);
  CHECK(agent->network_configs() == configs + 1);

  const int applies = c.ops.applies;
  c.ops.table_present = false;  // `nft delete table` by hand
  c.clock.Advance(absl::Seconds(10));
  c.Converge(1);
  CHECK(c.ops.applies == applies + 1);
  CHECK(c.ops.table_present);
}

TEST_CASE("two tenants get disjoint subnets, filters and guest rules") {
  Cluster c;
  REQUIRE(c.store
              ->Write([](store::WriteTx& tx) -> absl::Status {
                NEST_RETURN_IF_ERROR(
                    tx.CreateTenant({TenantId("blue"), {}, {}}).status());
                store::VmGroup g;
                g.tenant = TenantId("blue");
                g.name = GroupId("web");
                g.vcpus = 1;
                g.memory_mib = 256;
                g.disk_mib = 1024;
                g.min_size = 1;
                g.max_size = 1;
                return tx.CreateGroup(g).status();
              })
              .ok());
  c.Converge();
  store::Snapshot s = c.Snap();
  REQUIRE(s.vms.size() == 3);
  CHECK(c.ops.networks["h1"].size() == 2);
  CHECK(c.ops.filters["h1"].size() == 2);
  for (const auto& v : s.vms) {
    const std::string a = c.Agent(v.id)->network()->address;
    CHECK(absl::StartsWith(
        a, v.tenant.str() == "blue" ? "10.88.16." : "10.88.0."));
  }
  for (const auto& v : s.vms) {
    const std::string rs = c.Agent(v.id)->network()->ruleset;
    // Each guest lets its own subnet in and drops the rest of the pool.
    CHECK(absl::StrContains(
        rs, v.tenant.str() == "blue" ? "10.88.16.0/20" : "10.88.0.0/20"));
    CHECK(absl::StrContains(rs, "10.88.0.0/14"));
  }

  // Blue's group goes: once its VM is gone, so are its network and filter
  // on the host, and only those.
  REQUIRE(c.store
              ->Write([](store::WriteTx& tx) -> absl::Status {
                NEST_ASSIGN_OR_RETURN(
                    store::VmGroup g,
                    tx.GetGroup(TenantId("blue"), GroupId("web")));
                g.min_size = 0;
                g.max_size = 0;
                NEST_RETURN_IF_ERROR(tx.UpdateGroup(g, 0).status());
                // As Commands::DeleteGroup does.
                store::ListQuery q;
                q.tenant = TenantId("blue");
                NEST_ASSIGN_OR_RETURN(auto vms, tx.ListVms(q));
                for (store::Vm vm : vms.items) {
                  vm.desired = store::VmDesiredState::kDeleted;
                  NEST_RETURN_IF_ERROR(tx.UpdateVm(vm, 0).status());
                }
                return absl::OkStatus();
              })
              .ok());
  for (int i = 0; i < 4 && c.ops.removed.size() < 2; ++i) {
    c.Converge(2);
    c.clock.Advance(absl::Seconds(5));
  }
  CHECK(c.Snap().vms.size() == 2);
  CHECK(c.ops.removed.size() == 2);
  CHECK(c.ops.networks["h1"].size() == 1);
  CHECK(c.ops.filters["h1"].size() == 1);
}

// Adds host `name` with `pool` and spreads group web over the hosts, so
// httpd's two replicas land one on h1 (no pool: net.pool) and one there.
absl::Status AddPooledHost(store::Store& store, const std::string& name,
                           const std::string& pool) {
  return store.Write([&](store::WriteTx& tx) -> absl::Status {
    store::Host h;
    h.name = HostId(name);
    h.libvirt_uri = "sim://" + name;
    h.pool = pool;
    NEST_RETURN_IF_ERROR(tx.CreateHost(h).status());
    NEST_ASSIGN_OR_RETURN(store::VmGroup g,
                          tx.GetGroup(TenantId("default"), GroupId("web")));
    g.placement = store::PlacementPolicy::kSpread;
    return tx.UpdateGroup(g, 0).status();
  });
}

// The VM of each host.
std::map<std::string, VmId> VmByHost(const store::Snapshot& s) {
  std::map<std::string, VmId> out;
  for (const auto& v : s.vms) out[v.host.str()] = v.id;
  return out;
}

TEST_CASE("a VM on a host with a pool is addressed there; guests span hosts") {
  Cluster c;
  REQUIRE(AddPooledHost(*c.store, "b", "10.92.0.0/16").ok());
  c.Converge();
  store::Snapshot s = c.Snap();
  REQUIRE(s.vms.size() == 2);
  std::map<std::string, VmId> on = VmByHost(s);
  REQUIRE(on.size() == 2);  // one VM on each host

  // Each host's network is its own subnet, with the host as the gateway.
  REQUIRE(c.ops.networks["h1"].size() == 1);
  REQUIRE(c.ops.networks["b"].size() == 1);
  const vmm::NetworkSpec& n1 = c.ops.networks["h1"].begin()->second;
  const vmm::NetworkSpec& nb = c.ops.networks["b"].begin()->second;
  CHECK(n1.address == "10.88.0.1");
  CHECK(nb.address == "10.92.0.1");
  CHECK(nb.prefix == 20);
  CHECK(nb.name != n1.name);
  CHECK(c.net->NicFor(on["b"])->bridge == nb.bridge);
  CHECK(c.net->NicFor(on["h1"])->bridge == n1.bridge);

  const agent::GuestNetwork ga = *c.Agent(on["h1"])->network();
  const agent::GuestNetwork gb = *c.Agent(on["b"])->network();
  CHECK(absl::StartsWith(ga.address, "10.88.0."));
  CHECK(ga.gateway == "10.88.0.1");
  CHECK(gb.address == "10.92.0.2");
  CHECK(gb.gateway == "10.92.0.1");
  CHECK(gb.prefix_length == 20);
  CHECK(c.net->NicFor(on["b"])->mac == "52:54:0a:5c:00:02");

  // One filter per tenant, the same on both hosts: the tenant's subnets on
  // every host pass, the rest of every pool is dropped.
  REQUIRE(c.ops.filters["b"].size() == 1);
  const vmm::NwFilterSpec& f = c.ops.filters["b"].begin()->second;
  CHECK(c.ops.filters["h1"].begin()->second == f);
  CHECK(f.allowed ==
        std::vector<vmm::FilterRange>{{"10.88.0.0", 20}, {"10.92.0.0", 20}});
  CHECK(f.isolated ==
        std::vector<vmm::FilterRange>{{"10.88.0.0", 14}, {"10.92.0.0", 16}});

  // The VIP stays in net.pool; each replica is addressed on its VM's host,
  // and both guests balance the VIP over both (DNAT in the guest, then
  // routed through the hosts), as does the host table.
  const std::string vip =
      c.net->VipOf(TenantId("default"), WorkloadId("httpd"));
  CHECK(absl::StartsWith(vip, "10.88.0."));
  CHECK(gb.vips == std::vector<std::string>{vip});
  REQUIRE(s.containers.size() == 2);
  for (const auto& ct : s.containers) {
    const std::string addr = c.net->ContainerAddress(ct.id);
    CHECK(absl::StartsWith(addr, ct.vm == on["b"] ? "10.92.0." : "10.88.0."));
    for (const auto* g : {&ga, &gb}) {
      CHECK(absl::StrContains(g->ruleset, addr + " . 8080"));
      std::map<std::string, std::string> names(g->hosts.begin(),
                                               g->hosts.end());
      CHECK(names[ct.id.str()] == addr);
    }
    CHECK(absl::StrContains(c.ops.host_script, addr + " . 8080"));
  }
  for (const auto* g : {&ga, &gb}) {
    CHECK(absl::StrContains(g->ruleset,
                            "ip saddr { 10.88.0.0/14, "
                            "10.92.0.0/16 } ip saddr != { "
                            "10.88.0.0/20, 10.92.0.0/20 }"));
  }
  // Between pools traffic is routed, never masqueraded.
  CHECK(absl::StrContains(c.ops.host_script,
                          "ip daddr != { 10.88.0.0/14, 10.92.0.0/16 } "
                          "masquerade"));

  // The store holds b's network in b's pool; a restarted nestd restores
  // every address unchanged.
  std::map<std::string, std::string> before;
  for (const auto& ct : s.containers) {
    before[ct.id.str()] = c.net->ContainerAddress(ct.id);
  }
  std::vector<store::IpAllocationRow> rows;
  REQUIRE(c.store
              ->Read([&](store::ReadTx& tx) -> absl::Status {
                NEST_ASSIGN_OR_RETURN(rows, tx.ListIpAllocations());
                return absl::OkStatus();
              })
              .ok());
  CHECK(std::count(rows.begin(), rows.end(),
                   store::IpAllocationRow{"network", "default@b",
                                          "10.92.0.0/20"}) == 1);
  c.Start();
  c.Converge(2);
  for (const auto& [id, addr] : before) {
    CHECK(c.net->ContainerAddress(ContainerId(id)) == addr);
  }
  CHECK(c.net->GuestFor(on["b"]) == gb);
  CHECK(c.net->VipOf(TenantId("default"), WorkloadId("httpd")) == vip);
}

TEST_CASE("a tenant with VMs only on pooled hosts still gets its VIP") {
  Cluster c;
  REQUIRE(AddPooledHost(*c.store, "b", "10.92.0.0/16").ok());
  REQUIRE(c.store
              ->Write([](store::WriteTx& tx) -> absl::Status {
                NEST_ASSIGN_OR_RETURN(store::Host h1, tx.GetHost(HostId("h1")));
                h1.state = store::HostState::kCordoned;
                return tx.UpdateHost(h1, 0).status();
              })
              .ok());
  c.Converge();
  store::Snapshot s = c.Snap();
  REQUIRE(!s.vms.empty());
  for (const auto& v : s.vms) CHECK(v.host == HostId("b"));
  CHECK(c.ops.networks["h1"].empty());
  const std::string vip =
      c.net->VipOf(TenantId("default"), WorkloadId("httpd"));
  CHECK(vip == "10.88.0.2");  // the tenant's own network, with nothing else
  for (const auto& v : s.vms) {
    auto g = c.Agent(v.id)->network();
    REQUIRE(g);
    CHECK(absl::StartsWith(g->address, "10.92.0."));
    CHECK(g->vips == std::vector<std::string>{vip});
    CHECK(absl::StrContains(g->ruleset, "dnat ip to"));
  }
  CHECK(c.ops.filters["b"].begin()->second.allowed ==
        std::vector<vmm::FilterRange>{{"10.88.0.0", 20}, {"10.92.0.0", 20}});
}

TEST_CASE("a host's pool is checked when it is added, naming the field") {
  testing::TempDir dir;
  FakeClock clock;
  auto store = *store::Store::Open({dir.path + "/state.db"}, clock);
  StaticImageSource images;
  Commands ops(*store, nullptr, images, clock, CommandsOptions{});
  auto add = [&](const std::string& name, const std::string& pool) {
    return ops.CreateHost({},
                          {name, "qemu+tcp://" + name + "/system", {}, pool},
                          NoEncode<HostView>);
  };
  auto refused = [&](const std::string& pool) {
    absl::Status st = add("x", pool).status();
    CHECK(absl::IsInvalidArgument(st));
    std::vector<FieldViolation> v = GetFieldViolations(st);
    CHECK(v.size() == 1);
    if (!v.empty()) CHECK(v[0].field == "pool");
    return std::string(st.message());
  };
  CHECK(refused("10.88.0.0/16") ==
        "pool 10.88.0.0/16 overlaps net.pool 10.88.0.0/14");
  CHECK(refused("10.0.0.0/8") ==
        "pool 10.0.0.0/8 overlaps net.pool 10.88.0.0/14");
  CHECK(absl::StartsWith(refused("10.92.0.0/24"),
                         "pool must be a /20 or shorter, to hold a tenant "
                         "subnet (net.network_prefix_length), got "
                         "10.92.0.0/24"));
  CHECK(absl::StrContains(refused("10.92.1.0/16"), "10.92.0.0/16"));
  CHECK(absl::StartsWith(refused("banana"), "pool "));

  REQUIRE(add("b", "10.92.0.0/16").ok());
  REQUIRE(add("local", "").ok());  // no pool: net.pool, as before
  CHECK(refused("10.92.128.0/17") ==
        "pool 10.92.128.0/17 overlaps the pool 10.92.0.0/16 of host \"b\"");
  CHECK(refused("10.0.0.0/8") ==
        "pool 10.0.0.0/8 overlaps net.pool 10.88.0.0/14");
  REQUIRE(add("c", "10.93.0.0/16").ok());
  CHECK(ops.GetHost("b")->host.pool == "10.92.0.0/16");
  CHECK(ops.GetHost("local")->host.pool.empty());
}

TEST_CASE("published host ports are one namespace, checked at admission") {
  testing::TempDir dir;
  FakeClock clock;
  auto store = *store::Store::Open({dir.path + "/state.db"}, clock);
  StaticImageSource images;
  images.Add("httpd", testing::HttpdImage());
  Commands ops(*store, nullptr, images, clock, CommandsOptions{});
  Commands blue = ops.As(TenantId("blue"), "tok-blue", false);
  GroupSpecInput group;
  group.vcpus = 1;
  group.memory = "256Mi";
  group.max_vms = 2;
  REQUIRE(ops.CreateGroup({}, "web", group, NoEncode<GroupView>).ok());
  REQUIRE(blue.CreateGroup({}, "web", group, NoEncode<GroupView>).ok());
  auto spec = [](int64_t host_port) {
    WorkloadSpecInput w;
    w.image = "httpd";
    w.group = "web";
    w.cpu = "100m";
    w.memory = "32Mi";
    w.replicas = 1;
    w.ports = {{"http", 8080, host_port, "tcp"}};
    return w;
  };
  auto first =
      ops.CreateWorkload({}, "web", spec(18080), NoEncode<WorkloadView>);
  REQUIRE_MESSAGE(first.ok(), first.status().ToString());
  // Same tenant: the holder is named.
  auto same =
      ops.CreateWorkload({}, "web2", spec(18080), NoEncode<WorkloadView>);
  REQUIRE(absl::IsInvalidArgument(same.status()));
  CHECK(absl::StrContains(same.status().message(),
                          "spec.ports[0].host_port tcp host port 18080 is "
                          "already published by workload web"));
  // Another tenant: only that it is taken.
  auto other =
      blue.CreateWorkload({}, "web", spec(18080), NoEncode<WorkloadView>);
  REQUIRE(absl::IsInvalidArgument(other.status()));
  CHECK(absl::StrContains(other.status().message(), "by another tenant"));
  // Updating the holder itself, and another port, are fine.
  CHECK(
      ops.UpdateWorkload({}, "web", spec(18080), NoEncode<WorkloadView>).ok());
  CHECK(
      blue.CreateWorkload({}, "web", spec(18081), NoEncode<WorkloadView>).ok());
}

}  // namespace
}  // namespace nest::control

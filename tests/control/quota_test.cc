// Tenant quotas: admission through Commands (every mutation path), and the
// autoscaler stopping at the quota with a reason and nothing half-created.
#include <memory>
#include <string>
#include <vector>

#include "control/commands.h"
#include "control/controller.h"
#include "control/sim.h"
#include "doctest/doctest.h"
#include "tests/control/cluster_util.h"

namespace nest::control {
namespace {

std::string NoEncode(const auto&) { return ""; }

// A store with host h1 (sim) and Commands acting as tenant "acme".
struct Admission {
  testing::TempDir dir;
  FakeClock clock;
  std::unique_ptr<store::Store> store;
  StaticImageSource images;
  std::unique_ptr<Commands> ops;   // operator (tenant "default")
  std::unique_ptr<Commands> acme;  // tenant acme

  Admission() {
    store = *store::Store::Open({dir.path + "/state.db"}, clock);
    CommandsOptions opts;
    opts.placement.vmm_overhead_mib = 64;
    ops = std::make_unique<Commands>(*store, nullptr, images, clock, opts);
    acme = std::make_unique<Commands>(
        ops->As(TenantId("acme"), "tok-acme", false));
  }

  static GroupSpecInput Group(int64_t vcpus, int64_t min_vms) {
    GroupSpecInput g;
    g.vcpus = vcpus;
    g.memory = "256Mi";
    g.min_vms = min_vms;
    g.max_vms = 10;
    return g;
  }
  static WorkloadSpecInput Workload(int64_t replicas) {
    WorkloadSpecInput w;
    w.image = "httpd";
    w.cpu = "100m";
    w.memory = "32Mi";
    w.replicas = replicas;
    w.group = "web";
    return w;
  }
  QuotaUsage Used() {
    auto v = ops->GetQuota("acme");
    REQUIRE_MESSAGE(v.ok(), v.status().ToString());
    return v->used;
  }
};

TEST_CASE("admission: growth past a quota is RESOURCE_EXHAUSTED with numbers") {
  Admission a;
  store::Quota q;
  q.vcpus = 4;
  q.vms = 3;
  q.containers = 5;
  q.images = 1;
  REQUIRE(a.ops->SetQuota({}, "acme", q).ok());

  // 2 VMs of 2 vCPUs: exactly the vCPU quota.
  auto made = a.acme->CreateGroup({}, "web", Admission::Group(2, 2),
                                  NoEncode<GroupView>);
  REQUIRE_MESSAGE(made.ok(), made.status().ToString());
  CHECK(a.Used() == QuotaUsage{4, 2 * (256 + 64), 2, 0, 0});

  auto scaled = a.acme->ScaleGroup({}, "web", 3, NoEncode<GroupView>);
  REQUIRE(absl::IsResourceExhausted(scaled.status()));
  CHECK(std::string(scaled.status().message()) ==
        "quota of tenant \"acme\" exceeded (vcpus: this change needs 6, "
        "allowed 4, in use 4); free some or ask an operator to raise it");
  CHECK(a.Used().vms == 2);  // nothing changed

  REQUIRE(a.acme->ImportImage({}, "httpd", "oci:a", NoEncode<ImageView>).ok());
  auto created = a.acme->CreateWorkload({}, "httpd", Admission::Workload(5),
                                        NoEncode<WorkloadView>);
  CHECK_MESSAGE(created.ok(), created.status().ToString());
  auto more = a.acme->ScaleWorkload({}, "httpd", 6, NoEncode<WorkloadView>);
  REQUIRE(absl::IsResourceExhausted(more.status()));
  CHECK(more.status().message().find("containers: this change needs 6, "
                                     "allowed 5, in use 5") !=
        absl::string_view::npos);

  auto second = a.acme->ImportImage({}, "other", "oci:b", NoEncode<ImageView>);
  REQUIRE(absl::IsResourceExhausted(second.status()));
  CHECK(second.status().message().find("images: this change needs 2") !=
        absl::string_view::npos);
  CHECK(a.Used() == QuotaUsage{4, 640, 2, 5, 1});
}

TEST_CASE("admission: one item over quota refuses the whole apply") {
  Admission a;
  store::Quota q;
  q.vms = 2;
  REQUIRE(a.ops->SetQuota({}, "acme", q).ok());
  REQUIRE(a.acme->ImportImage({}, "httpd", "oci:a", NoEncode<ImageView>).ok());
  std::vector<ApplyItem> items(3);
  items[0].kind = ApplyItem::Kind::kGroup;
  items[0].name = "web";
  items[0].group = Admission::Group(1, 1);
  items[1].kind = ApplyItem::Kind::kGroup;
  items[1].name = "db";
  items[1].group = Admission::Group(1, 2);
  items[2].name = "httpd";
  items[2].workload = Admission::Workload(1);
  auto applied =
      a.acme->Apply({}, items, false, NoEncode<std::vector<ApplyChange>>);
  REQUIRE(absl::IsResourceExhausted(applied.status()));
  CHECK(applied.status().message().find("vms: this change needs 3, allowed 2, "
                                        "in use 0") != absl::string_view::npos);
  CHECK(a.Used() == QuotaUsage{0, 0, 0, 0, 1});  // nothing half-created
  items[1].group.min_vms = 1;
  CHECK(
      a.acme->Apply({}, items, false, NoEncode<std::vector<ApplyChange>>).ok());
  CHECK(a.Used().vms == 2);
}

TEST_CASE("a lowered quota stops growth but never blocks shrinking") {
  Admission a;
  REQUIRE(a.acme->ImportImage({}, "httpd", "oci:a", NoEncode<ImageView>).ok());
  REQUIRE(
      a.acme
          ->CreateGroup({}, "web", Admission::Group(1, 3), NoEncode<GroupView>)
          .ok());
  store::Quota q;
  q.vms = 1;
  REQUIRE(a.ops->SetQuota({}, "acme", q).ok());  // below the 3 in use
  auto v = a.ops->GetQuota("acme");
  REQUIRE(v.ok());
  CHECK(DescribeQuota(v->quota, v->used) ==
        "vcpus 3/unlimited, memory_mib 960/unlimited, vms 3/1, "
        "containers 0/unlimited, images 1/unlimited");
  GroupSpecInput smaller = Admission::Group(1, 2);
  CHECK(a.acme->UpdateGroup({}, "web", smaller, NoEncode<GroupView>).ok());
  GroupSpecInput bigger = Admission::Group(1, 3);
  CHECK(absl::IsResourceExhausted(
      a.acme->UpdateGroup({}, "web", bigger, NoEncode<GroupView>).status()));
  // Unrelated growth in a dimension without a limit still passes.
  CHECK(a.acme
            ->CreateWorkload({}, "httpd", Admission::Workload(4),
                             NoEncode<WorkloadView>)
            .ok());
  // Other tenants are not affected by acme's quota.
  CHECK(
      a.ops->CreateGroup({}, "web", Admission::Group(1, 5), NoEncode<GroupView>)
          .ok());
}

TEST_CASE("quota input is validated and unknown tenants are NOT_FOUND") {
  Admission a;
  store::Quota q;
  q.memory_mib = -1;
  auto st = a.ops->SetQuota({}, "acme", q);
  REQUIRE(absl::IsInvalidArgument(st.status()));
  CHECK(st.status().message().find("quota.memory_mib") !=
        absl::string_view::npos);
  CHECK(absl::IsInvalidArgument(
      a.ops->SetQuota({}, "Not A Name", store::Quota{}).status()));
  CHECK(absl::IsNotFound(a.ops->GetQuota("nobody").status()));
  // Setting a quota creates the tenant, so limits can precede first use.
  q.memory_mib = 1024;
  REQUIRE(a.ops->SetQuota({}, "newcomer", q).ok());
  auto v = a.ops->GetQuota("newcomer");
  REQUIRE(v.ok());
  CHECK(v->quota.memory_mib == 1024);
  auto all = a.ops->ListQuotas();
  REQUIRE(all.ok());
  // The operator's own tenant (made by its first write) and newcomer.
  CHECK(all->size() == 2);
}

// The autoscaler (placement's scale-up for pending containers) on
// simulated hosts: a VM quota of 2 leaves 4 of 6 one-per-VM replicas
// pending with the quota as the reason; raising it lets one more VM in.
TEST_CASE(
    "autoscaler: scale-up stops at the quota, reports, creates no extra") {
  testing::SimParts sim;
  auto& store = sim.store;
  auto& hosts = sim.hosts;
  auto& clock = sim.clock;
  StaticImageSource& images = sim.images;
  images.Add("httpd", testing::HttpdImage());
  REQUIRE(store
              ->Write([](store::WriteTx& tx) -> absl::Status {
                NEST_RETURN_IF_ERROR(testing::SeedHostAndGroup(tx));
                NEST_ASSIGN_OR_RETURN(
                    store::VmGroup g,
                    tx.GetGroup(TenantId("default"), GroupId("web")));
                g.max_size = 10;
                NEST_RETURN_IF_ERROR(tx.UpdateGroup(g, 0).status());
                NEST_ASSIGN_OR_RETURN(store::Tenant t,
                                      tx.GetTenant(TenantId("default")));
                t.quota.vms = 2;
                NEST_RETURN_IF_ERROR(tx.UpdateTenant(t, 0).status());
                store::Workload w;
                w.tenant = TenantId("default");
                w.name = WorkloadId("big");
                w.image = "httpd";
                w.replicas = 6;
                w.requests = Resources::Of(1000, 200, 0);  // one per VM
                w.target_group = GroupId("web");
                return tx.CreateWorkload(w).status();
              })
              .ok());
  Controller controller(*store, hosts, sim.provisioner, sim.agents, images,
                        clock, testing::TestControllerOptions());
  auto converge = [&] {
    for (int i = 0; i < 8; ++i) {
      (void)controller.ReconcileOnce();
      controller.AwaitIdle();
    }
  };
  converge();
  store::Snapshot s = *store->ReadSnapshot();
  CHECK(s.vms.size() == 2);
  int placed = 0, quota_held = 0;
  for (const store::Container& c : s.containers) {
    if (!c.vm.empty()) {
      ++placed;
    } else if (c.message.find("raise the quota of tenant default (vms 2 of "
                              "2)") != std::string::npos) {
      ++quota_held;
    }
  }
  CHECK(placed == 2);
  CHECK(quota_held == 4);
  // The driver holds exactly the store's VMs: nothing half-created.
  std::shared_ptr<vmm::SimDriver> driver = hosts.Host(HostId("h1"));
  REQUIRE(driver != nullptr);
  auto listed = driver->List(false);
  REQUIRE(listed.ok());
  CHECK(listed->size() == 2);
  auto events = store->EventsSince(store::EventQuery{});
  REQUIRE(events.ok());
  int unplaceable = 0;
  for (const store::Event& e : *events) {
    if (e.reason == "Unplaceable" &&
        e.message.find("tenant quota") != std::string::npos) {
      ++unplaceable;
    }
  }
  CHECK(unplaceable == 4);  // once per held container, not once per pass

  REQUIRE(store
              ->Write([](store::WriteTx& tx) -> absl::Status {
                NEST_ASSIGN_OR_RETURN(store::Tenant t,
                                      tx.GetTenant(TenantId("default")));
                t.quota.vms = 3;
                return tx.UpdateTenant(t, 0).status();
              })
              .ok());
  controller.Wake();
  converge();
  s = *store->ReadSnapshot();
  CHECK(s.vms.size() == 3);
}

}  // namespace
}  // namespace nest::control

#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "store/store.h"
#include "tests/store/store_test_util.h"

namespace nest::store {
namespace {

using testing::MakeContainer;
using testing::MakeGroup;
using testing::MakeHost;
using testing::MakeVm;
using testing::MakeWorkload;
using testing::MustOpen;
using testing::TempDir;

// Seeds tenant "acme" with host h1, group web, vm vm-1, workload hello.
void Seed(Store& store) {
  absl::Status st = store.Write([](WriteTx& tx) -> absl::Status {
    NEST_RETURN_IF_ERROR(
        tx.CreateTenant(Tenant{TenantId("acme"), {}, {}}).status());
    NEST_RETURN_IF_ERROR(tx.CreateHost(MakeHost("h1")).status());
    NEST_RETURN_IF_ERROR(tx.CreateGroup(MakeGroup("acme", "web")).status());
    NEST_RETURN_IF_ERROR(
        tx.CreateVm(MakeVm("vm-1", "acme", "web", "h1")).status());
    return tx.CreateWorkload(MakeWorkload("acme", "hello")).status();
  });
  REQUIRE_MESSAGE(st.ok(), st.ToString());
}

TEST_CASE("every object kind round-trips through create, get, update, delete") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  clock.Advance(absl::Seconds(10));

  Container c = MakeContainer("c-1", "acme", "hello", "vm-1");
  c.exit_code = 3;
  c.started_at = clock.Now() - absl::Seconds(2);
  Image img{
      TenantId("acme"), ImageId("busybox:1.36"), "sha256:abc", 4096, 1, {}};
  REQUIRE(store
              ->Write([&](WriteTx& tx) -> absl::Status {
                NEST_RETURN_IF_ERROR(tx.CreateContainer(c).status());
                return tx.CreateImage(img).status();
              })
              .ok());

  REQUIRE(store
              ->Read([&](ReadTx& tx) -> absl::Status {
                auto host = tx.GetHost(HostId("h1"));
                REQUIRE(host.ok());
                Host want = MakeHost("h1");
                want.meta = host->meta;
                CHECK(*host == want);
                CHECK(host->meta.generation == 1);
                CHECK(host->last_heartbeat == absl::InfinitePast());

                auto group = tx.GetGroup(TenantId("acme"), GroupId("web"));
                REQUIRE(group.ok());
                VmGroup wg = MakeGroup("acme", "web");
                wg.meta = group->meta;
                CHECK(*group == wg);

                auto vm = tx.GetVm(VmId("vm-1"));
                REQUIRE(vm.ok());
                CHECK(vm->host == HostId("h1"));
                CHECK(vm->observed == VmObservedState::kPending);

                auto w = tx.GetWorkload(TenantId("acme"), WorkloadId("hello"));
                REQUIRE(w.ok());
                Workload ww = MakeWorkload("acme", "hello");
                ww.meta = w->meta;
                CHECK(*w == ww);
                CHECK(w->env[1].secret);

                auto got = tx.GetContainer(ContainerId("c-1"));
                REQUIRE(got.ok());
                Container wc = c;
                wc.meta = got->meta;
                CHECK(*got == wc);
                CHECK(got->meta.created_at == clock.Now());

                auto im =
                    tx.GetImage(TenantId("acme"), ImageId("busybox:1.36"));
                REQUIRE(im.ok());
                CHECK(im->digest == "sha256:abc");
                return absl::OkStatus();
              })
              .ok());

  // Update bumps generation and keeps created_at.
  clock.Advance(absl::Seconds(5));
  Vm vm = MakeVm("vm-1", "acme", "web", "h1");
  vm.observed = VmObservedState::kRunning;
  vm.ip = "10.0.0.5";
  vm.boot_attempts = 1;
  absl::StatusOr<Vm> updated;
  REQUIRE(store
              ->Write([&](WriteTx& tx) -> absl::Status {
                updated = tx.UpdateVm(vm, 1);
                return updated.status();
              })
              .ok());
  CHECK(updated->meta.generation == 2);
  CHECK(updated->meta.updated_at == clock.Now());
  CHECK(updated->meta.created_at == clock.Now() - absl::Seconds(15));

  // Delete in dependency order.
  absl::Status del = store->Write([&](WriteTx& tx) -> absl::Status {
    NEST_RETURN_IF_ERROR(tx.DeleteContainer(ContainerId("c-1"), 0));
    NEST_RETURN_IF_ERROR(
        tx.DeleteImage(TenantId("acme"), ImageId("busybox:1.36"), 1));
    NEST_RETURN_IF_ERROR(
        tx.DeleteWorkload(TenantId("acme"), WorkloadId("hello"), 1));
    NEST_RETURN_IF_ERROR(tx.DeleteVm(VmId("vm-1"), 2));
    NEST_RETURN_IF_ERROR(tx.DeleteGroup(TenantId("acme"), GroupId("web"), 1));
    NEST_RETURN_IF_ERROR(tx.DeleteHost(HostId("h1"), 1));
    return tx.DeleteTenant(TenantId("acme"), 1);
  });
  REQUIRE_MESSAGE(del.ok(), del.ToString());
  auto snap = store->ReadSnapshot();
  REQUIRE(snap.ok());
  CHECK(snap->tenants.empty());
  CHECK(snap->hosts.empty());
  CHECK(snap->vms.empty());
  CHECK(snap->containers.empty());
}

TEST_CASE("create of an existing name is ALREADY_EXISTS and names it") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  absl::Status st = store->Write([](WriteTx& tx) {
    return tx.CreateWorkload(MakeWorkload("acme", "hello")).status();
  });
  CHECK(st.code() == absl::StatusCode::kAlreadyExists);
  CHECK(
      std::string(st.message()).find("workload \"hello\" of tenant \"acme\"") !=
      std::string::npos);
}

TEST_CASE("missing objects and parents are NOT_FOUND with kind and name") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  absl::Status st =
      store->Read([](ReadTx& tx) { return tx.GetVm(VmId("nope")).status(); });
  CHECK(st.code() == absl::StatusCode::kNotFound);
  CHECK(std::string(st.message()) == "vm \"nope\" not found");

  st = store->Write([](WriteTx& tx) {
    return tx.CreateVm(MakeVm("vm-2", "acme", "db", "h1")).status();
  });
  CHECK(st.code() == absl::StatusCode::kNotFound);
  CHECK(std::string(st.message()).find("group \"db\" of tenant \"acme\"") !=
        std::string::npos);

  st = store->Write([](WriteTx& tx) {
    return tx.CreateVm(MakeVm("vm-2", "acme", "web", "h9")).status();
  });
  CHECK(st.code() == absl::StatusCode::kNotFound);
  CHECK(std::string(st.message()).find("host \"h9\"") != std::string::npos);

  st = store->Write(
      [](WriteTx& tx) { return tx.UpdateHost(MakeHost("h9"), 0).status(); });
  CHECK(st.code() == absl::StatusCode::kNotFound);
  st = store->Write([](WriteTx& tx) { return tx.DeleteHost(HostId("h9"), 0); });
  CHECK(st.code() == absl::StatusCode::kNotFound);
}

TEST_CASE("a stale expected_generation is rejected and changes nothing") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  Workload w = MakeWorkload("acme", "hello");
  w.replicas = 5;
  REQUIRE(
      store
          ->Write([&](WriteTx& tx) { return tx.UpdateWorkload(w, 1).status(); })
          .ok());
  w.replicas = 9;
  absl::Status st = store->Write(
      [&](WriteTx& tx) { return tx.UpdateWorkload(w, 1).status(); });
  CHECK(st.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(st.message()).find("is at generation 2") !=
        std::string::npos);
  st = store->Write(
      [&](WriteTx& tx) { return tx.DeleteWorkload(w.tenant, w.name, 1); });
  CHECK(st.code() == absl::StatusCode::kFailedPrecondition);
  REQUIRE(store
              ->Read([&](ReadTx& tx) -> absl::Status {
                auto got = tx.GetWorkload(w.tenant, w.name);
                REQUIRE(got.ok());
                CHECK(got->replicas == 5);
                CHECK(got->meta.generation == 2);
                return absl::OkStatus();
              })
              .ok());
  // 0 means "don't care".
  CHECK(
      store
          ->Write([&](WriteTx& tx) { return tx.UpdateWorkload(w, 0).status(); })
          .ok());
}

TEST_CASE(
    "an update that changes nothing keeps the generation and logs no event") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  int64_t before = store->LastEventSeq();
  absl::StatusOr<Host> got;
  REQUIRE(store
              ->Write([&](WriteTx& tx) {
                got = tx.UpdateHost(MakeHost("h1"), 1);
                return got.status();
              })
              .ok());
  CHECK(got->meta.generation == 1);
  CHECK(store->LastEventSeq() == before);
}

TEST_CASE("deleting an object still referred to is FAILED_PRECONDITION") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  absl::Status st =
      store->Write([](WriteTx& tx) { return tx.DeleteHost(HostId("h1"), 0); });
  CHECK(st.code() == absl::StatusCode::kFailedPrecondition);
  CHECK(std::string(st.message()) ==
        "cannot delete host \"h1\": VMs still refer to it");
  st = store->Write(
      [](WriteTx& tx) { return tx.DeleteTenant(TenantId("acme"), 0); });
  CHECK(st.code() == absl::StatusCode::kFailedPrecondition);
}

TEST_CASE("a container cannot be placed in another tenant's VM") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  absl::Status st = store->Write([](WriteTx& tx) -> absl::Status {
    NEST_RETURN_IF_ERROR(
        tx.CreateTenant(Tenant{TenantId("other"), {}, {}}).status());
    NEST_RETURN_IF_ERROR(
        tx.CreateWorkload(MakeWorkload("other", "w")).status());
    return tx.CreateContainer(MakeContainer("c-x", "other", "w", "vm-1"))
        .status();
  });
  CHECK(st.code() == absl::StatusCode::kFailedPrecondition);
  // The whole transaction rolled back, including tenant "other".
  CHECK(store
            ->Read([](ReadTx& tx) {
              return tx.GetTenant(TenantId("other")).status();
            })
            .code() == absl::StatusCode::kNotFound);
}

TEST_CASE("invalid names are refused before touching the database") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  absl::Status st = store->Write([](WriteTx& tx) {
    return tx.CreateTenant(Tenant{TenantId("Bad_Name"), {}, {}}).status();
  });
  CHECK(st.code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(st.message()).find("tenant name") != std::string::npos);
}

TEST_CASE(
    "lists filter, page in key order and reject filters that do not apply") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  REQUIRE(store
              ->Write([](WriteTx& tx) -> absl::Status {
                NEST_RETURN_IF_ERROR(tx.CreateHost(MakeHost("h2")).status());
                for (int i = 2; i <= 7; ++i) {
                  std::string id = "vm-" + std::to_string(i);
                  NEST_RETURN_IF_ERROR(tx.CreateVm(MakeVm(id, "acme", "web",
                                                          i % 2 ? "h1" : "h2"))
                                           .status());
                }
                return absl::OkStatus();
              })
              .ok());
  std::vector<std::string> seen;
  ListQuery q;
  q.limit = 3;
  int pages = 0;
  while (true) {
    absl::StatusOr<Page<Vm>> page;
    REQUIRE(store
                ->Read([&](ReadTx& tx) {
                  page = tx.ListVms(q);
                  return page.status();
                })
                .ok());
    for (const Vm& vm : page->items) seen.push_back(vm.id.str());
    ++pages;
    if (page->next_page_token.empty()) break;
    q.page_token = page->next_page_token;
  }
  CHECK(pages == 3);
  CHECK(seen == std::vector<std::string>{"vm-1", "vm-2", "vm-3", "vm-4", "vm-5",
                                         "vm-6", "vm-7"});

  REQUIRE(store
              ->Read([](ReadTx& tx) -> absl::Status {
                ListQuery by_host;
                by_host.host = HostId("h2");
                auto page = tx.ListVms(by_host);
                REQUIRE(page.ok());
                CHECK(page->items.size() == 3);
                for (const Vm& vm : page->items) CHECK(vm.host == HostId("h2"));

                ListQuery bad;
                bad.workload = WorkloadId("hello");
                CHECK(tx.ListVms(bad).status().code() ==
                      absl::StatusCode::kInvalidArgument);
                ListQuery tenant_hosts;
                tenant_hosts.tenant = TenantId("acme");
                CHECK(tx.ListHosts(tenant_hosts).status().code() ==
                      absl::StatusCode::kInvalidArgument);
                ListQuery junk;
                junk.page_token = "not-a-token";
                CHECK(tx.ListVms(junk).status().code() ==
                      absl::StatusCode::kInvalidArgument);
                ListQuery other;
                other.tenant = TenantId("other");
                auto none = tx.ListWorkloads(other);
                REQUIRE(none.ok());
                CHECK(none->items.empty());
                return absl::OkStatus();
              })
              .ok());
}

TEST_CASE("a failed write rolls back every change in the transaction") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  int64_t seq = store->LastEventSeq();
  absl::Status st = store->Write([](WriteTx& tx) -> absl::Status {
    NEST_RETURN_IF_ERROR(tx.CreateHost(MakeHost("h2")).status());
    return absl::AbortedError("caller changed its mind");
  });
  CHECK(st.code() == absl::StatusCode::kAborted);
  CHECK(
      store->Read([](ReadTx& tx) { return tx.GetHost(HostId("h2")).status(); })
          .code() == absl::StatusCode::kNotFound);
  CHECK(store->LastEventSeq() == seq);
  auto events = store->EventsSince(testing::Since(seq));
  REQUIRE(events.ok());
  CHECK(events->empty());
}

}  // namespace
}  // namespace nest::store

namespace nest::store {
namespace {

TEST_CASE("heartbeats change no generation and survive a stale host update") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  int64_t seq = store->LastEventSeq();
  absl::Time beat = clock.Now() + absl::Seconds(3);
  REQUIRE(store
              ->Write([&](WriteTx& tx) {
                return tx.RecordHostHeartbeat(HostId("h1"), beat);
              })
              .ok());
  CHECK(store->LastEventSeq() == seq);
  // A host update made from an older read must not move the heartbeat back.
  Host h = MakeHost("h1");
  h.state = HostState::kDraining;
  absl::StatusOr<Host> updated;
  REQUIRE(store
              ->Write([&](WriteTx& tx) {
                updated = tx.UpdateHost(h, 1);
                return updated.status();
              })
              .ok());
  CHECK(updated->meta.generation == 2);
  CHECK(updated->last_heartbeat == beat);
  REQUIRE(store
              ->Read([&](ReadTx& tx) -> absl::Status {
                auto got = tx.GetHost(HostId("h1"));
                REQUIRE(got.ok());
                CHECK(got->last_heartbeat == beat);
                CHECK(got->state == HostState::kDraining);
                return absl::OkStatus();
              })
              .ok());
  CHECK(store
            ->Write([&](WriteTx& tx) {
              return tx.RecordHostHeartbeat(HostId("ghost"), beat);
            })
            .code() == absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace nest::store

namespace nest::store {
namespace {

TEST_CASE("a failed nested change is undone alone; the transaction commits") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  int64_t seq = store->LastEventSeq();
  absl::Status inner;
  REQUIRE(store
              ->Write([&](WriteTx& tx) -> absl::Status {
                NEST_RETURN_IF_ERROR(tx.Nested([](WriteTx& t) {
                  return t.CreateHost(MakeHost("h2")).status();
                }));
                // Half of this change is written before it fails: none of it
                // stays.
                inner = tx.Nested([](WriteTx& t) -> absl::Status {
                  NEST_RETURN_IF_ERROR(t.CreateHost(MakeHost("h3")).status());
                  return absl::AbortedError("second half failed");
                });
                return tx.CreateHost(MakeHost("h4")).status();
              })
              .ok());
  CHECK(inner.code() == absl::StatusCode::kAborted);
  auto has = [&](const char* name) {
    return store
        ->Read([&](ReadTx& tx) { return tx.GetHost(HostId(name)).status(); })
        .ok();
  };
  CHECK(has("h2"));
  CHECK_FALSE(has("h3"));
  CHECK(has("h4"));
  auto events = store->EventsSince(testing::Since(seq));
  REQUIRE(events.ok());
  REQUIRE(events->size() == 2);
  CHECK((*events)[0].name == "h2");
  CHECK((*events)[1].name == "h4");
  CHECK(store->LastEventSeq() == (*events)[1].seq);
}

TEST_CASE("write stats count commits, rows and changes of committed writes") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  Store::WriteStats before = store->write_stats();
  REQUIRE(store
              ->Write([&](WriteTx& tx) -> absl::Status {
                NEST_RETURN_IF_ERROR(tx.CreateHost(MakeHost("h2")).status());
                NEST_RETURN_IF_ERROR(tx.CreateHost(MakeHost("h3")).status());
                return tx.RecordHostHeartbeat(HostId("h2"), clock.Now());
              })
              .ok());
  CHECK_FALSE(store
                  ->Write([](WriteTx& tx) -> absl::Status {
                    NEST_RETURN_IF_ERROR(
                        tx.CreateHost(MakeHost("h9")).status());
                    return absl::AbortedError("rolled back");
                  })
                  .ok());
  Store::WriteStats after = store->write_stats();
  CHECK(after.commits - before.commits == 1);
  CHECK(after.changes - before.changes == 2);
  CHECK(after.rows - before.rows == 5);  // 2 hosts, 2 events, 1 heartbeat
  CHECK(store->commits() == after.commits);
}

TEST_CASE(
    "tenant quotas and workload files round-trip; unset means unlimited") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  Quota q;
  q.vcpus = 8;
  q.vms = 0;  // zero is a limit (nothing allowed), not "unlimited"
  q.images = 3;
  WorkloadFile plain{"/etc/app.conf", "port=80\n", 0444, false};
  WorkloadFile secret{"/run/secrets/db", std::string("pw\0x", 4), 0400, true};
  absl::Status st = store->Write([&](WriteTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(Tenant t, tx.GetTenant(TenantId("acme")));
    CHECK(t.quota.empty());
    t.quota = q;
    NEST_RETURN_IF_ERROR(tx.UpdateTenant(t, t.meta.generation).status());
    NEST_ASSIGN_OR_RETURN(
        Workload w, tx.GetWorkload(TenantId("acme"), WorkloadId("hello")));
    CHECK(w.files.empty());
    w.files = {plain, secret};
    return tx.UpdateWorkload(w, w.meta.generation).status();
  });
  REQUIRE_MESSAGE(st.ok(), st.ToString());
  st = store->Read([&](ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(Tenant t, tx.GetTenant(TenantId("acme")));
    CHECK(t.quota == q);
    CHECK_FALSE(t.quota.memory_mib.has_value());
    CHECK(t.meta.generation == 2);
    NEST_ASSIGN_OR_RETURN(
        Workload w, tx.GetWorkload(TenantId("acme"), WorkloadId("hello")));
    REQUIRE(w.files.size() == 2);
    CHECK(w.files[0] == plain);
    CHECK(w.files[1] == secret);
    return absl::OkStatus();
  });
  CHECK_MESSAGE(st.ok(), st.ToString());
}

}  // namespace
}  // namespace nest::store

#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "store/store.h"
#include "tests/store/store_test_util.h"

namespace nest::store {
namespace {

using testing::MakeHost;
using testing::MustOpen;
using testing::TempDir;

Event MakeEvent(const std::string& kind, const std::string& name,
                const std::string& tenant, const std::string& reason) {
  Event e;
  e.kind = kind;
  e.name = name;
  e.tenant = TenantId(tenant);
  e.reason = reason;
  e.message = "+2 VMs";
  return e;
}

absl::Status AddHost(Store& store, const std::string& name) {
  return store.Write(
      [&](WriteTx& tx) { return tx.CreateHost(MakeHost(name)).status(); });
}

TEST_CASE("every mutation appends an event in the same transaction") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  REQUIRE(store
              ->Write([](WriteTx& tx) -> absl::Status {
                tx.SetActor("token-7", "req-3");
                NEST_RETURN_IF_ERROR(
                    tx.CreateTenant(Tenant{TenantId("acme"), {}, {}}).status());
                Host h = MakeHost("h1");
                NEST_RETURN_IF_ERROR(tx.CreateHost(h).status());
                h.state = HostState::kCordoned;
                NEST_RETURN_IF_ERROR(
                    tx.UpdateHost(h, 1, EventNote{"Cordoned", "by operator"})
                        .status());
                return tx
                    .AppendEvent(MakeEvent("group", "web", "acme", "ScaledUp"))
                    .status();
              })
              .ok());
  auto events = store->EventsSince(testing::Since(0));
  REQUIRE(events.ok());
  REQUIRE(events->size() == 4);
  CHECK((*events)[0].kind == "tenant");
  CHECK((*events)[0].reason == "Created");
  CHECK((*events)[0].tenant == TenantId("acme"));
  CHECK((*events)[1].kind == "host");
  CHECK((*events)[1].tenant.empty());
  CHECK((*events)[2].reason == "Cordoned");
  CHECK((*events)[2].message == "by operator");
  CHECK((*events)[3].reason == "ScaledUp");
  for (const Event& e : *events) {
    CHECK(e.actor == "token-7");
    CHECK(e.request_id == "req-3");
    CHECK(e.time == clock.Now());
  }
  CHECK(store->LastEventSeq() == (*events)[3].seq);

  auto tenant_only = store->EventsSince(testing::Since(0, 1000, "acme"));
  REQUIRE(tenant_only.ok());
  CHECK(tenant_only->size() == 2);

  CHECK(store
            ->Write([](WriteTx& tx) {
              return tx.AppendEvent(MakeEvent("vm", "x", "", "")).status();
            })
            .code() == absl::StatusCode::kInvalidArgument);
}

TEST_CASE("event sequence numbers strictly increase under concurrent writers") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  constexpr int kThreads = 4, kPerThread = 25;
  std::vector<std::thread> threads;
  std::atomic<int> failures{0};
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string name = "h" + std::to_string(t) + "-" + std::to_string(i);
        if (!AddHost(*store, name).ok()) ++failures;
      }
    });
  }
  for (auto& th : threads) th.join();
  CHECK(failures.load() == 0);
  auto events = store->EventsSince(testing::Since(0));
  REQUIRE(events.ok());
  REQUIRE(events->size() == kThreads * kPerThread);
  for (size_t i = 1; i < events->size(); ++i) {
    CHECK((*events)[i].seq > (*events)[i - 1].seq);
  }
  // Paging through with after_seq sees each event exactly once.
  int64_t after = 0;
  size_t seen = 0;
  while (true) {
    auto page = store->EventsSince(testing::Since(after, 7));
    REQUIRE(page.ok());
    if (page->empty()) break;
    seen += page->size();
    after = page->back().seq;
  }
  CHECK(seen == events->size());
}

TEST_CASE("pruned events give OUT_OF_RANGE and sequences are never reused") {
  TempDir dir;
  FakeClock clock;
  std::string path = dir.File("nest.db");
  {
    auto store = MustOpen(path, clock);
    REQUIRE(AddHost(*store, "h1").ok());
    REQUIRE(AddHost(*store, "h2").ok());
    clock.Advance(absl::Hours(2));
    REQUIRE(AddHost(*store, "h3").ok());
    auto pruned = store->PruneEvents(clock.Now() - absl::Hours(1));
    REQUIRE(pruned.ok());
    CHECK(*pruned == 2);
    auto oldest = store->OldestEventSeq();
    REQUIRE(oldest.ok());
    CHECK(*oldest == 3);
    auto stale = store->EventsSince(testing::Since(1));
    CHECK(stale.status().code() == absl::StatusCode::kOutOfRange);
    CHECK(std::string(stale.status().message())
              .find("oldest retained sequence is 3") != std::string::npos);
    auto fine = store->EventsSince(testing::Since(2));
    REQUIRE(fine.ok());
    CHECK(fine->size() == 1);
    // Prune everything: the next seq still follows the last one.
    clock.Advance(absl::Hours(2));
    REQUIRE(store->PruneEvents(clock.Now()).ok());
    oldest = store->OldestEventSeq();
    REQUIRE(oldest.ok());
    CHECK(*oldest == 4);
  }
  auto store = MustOpen(path, clock);
  CHECK(store->LastEventSeq() == 3);
  REQUIRE(AddHost(*store, "h4").ok());
  auto events = store->EventsSince(testing::Since(3));
  REQUIRE(events.ok());
  REQUIRE(events->size() == 1);
  CHECK((*events)[0].seq == 4);
}

TEST_CASE("WaitForEvents wakes on commit, times out, and ends on Shutdown") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  // Nothing committed: a short wait returns the unchanged seq.
  CHECK(store->WaitForEvents(0, absl::Milliseconds(10)) == 0);

  std::atomic<int64_t> woke_at{-1};
  std::thread watcher(
      [&] { woke_at = store->WaitForEvents(0, absl::Seconds(30)); });
  REQUIRE(AddHost(*store, "h1").ok());
  watcher.join();
  CHECK(woke_at.load() == 1);

  std::thread waiter([&] {
    woke_at = store->WaitForEvents(store->LastEventSeq(), absl::Seconds(30));
  });
  store->Shutdown();
  waiter.join();
  CHECK(woke_at.load() == 1);
}

TEST_CASE("a rolled-back write publishes no event seq") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  REQUIRE(AddHost(*store, "h1").ok());
  CHECK(store
            ->Write([](WriteTx& tx) -> absl::Status {
              NEST_RETURN_IF_ERROR(tx.CreateHost(MakeHost("h2")).status());
              return absl::CancelledError("client went away");
            })
            .code() == absl::StatusCode::kCancelled);
  CHECK(store->LastEventSeq() == 1);
  REQUIRE(AddHost(*store, "h3").ok());
  auto events = store->EventsSince(testing::Since(0));
  REQUIRE(events.ok());
  REQUIRE(events->size() == 2);
  CHECK((*events)[1].name == "h3");
}

}  // namespace
}  // namespace nest::store

namespace nest::store {
namespace {

TEST_CASE("events can be filtered by object kind and name") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  REQUIRE(AddHost(*store, "h1").ok());
  REQUIRE(AddHost(*store, "h2").ok());
  REQUIRE(store
              ->Write([](WriteTx& tx) {
                return tx.CreateTenant(Tenant{TenantId("h1"), {}, {}}).status();
              })
              .ok());
  EventQuery q = testing::Since(0);
  q.kind = "host";
  q.name = "h1";
  auto events = store->EventsSince(q);
  REQUIRE(events.ok());
  REQUIRE(events->size() == 1);
  CHECK((*events)[0].kind == "host");
  CHECK((*events)[0].name == "h1");
  q.name = "";
  events = store->EventsSince(q);
  REQUIRE(events.ok());
  CHECK(events->size() == 2);
}

}  // namespace
}  // namespace nest::store

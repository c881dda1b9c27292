#include <atomic>
#include <string>
#include <thread>
#include <vector>

#include "absl/synchronization/barrier.h"
#include "doctest/doctest.h"
#include "store/store.h"
#include "tests/store/store_test_util.h"

namespace nest::store {
namespace {

using testing::MakeWorkload;
using testing::MustOpen;
using testing::TempDir;

// The mutation an API "create workload" would run: create, answer with the
// created generation.
absl::StatusOr<std::string> CreateHello(WriteTx& tx) {
  NEST_ASSIGN_OR_RETURN(Workload w,
                        tx.CreateWorkload(MakeWorkload("acme", "hello")));
  return "created " + w.name.str() + " gen " +
         std::to_string(w.meta.generation);
}

void SeedTenant(Store& store) {
  REQUIRE(store
              .Write([](WriteTx& tx) {
                return tx.CreateTenant(Tenant{TenantId("acme"), {}, {}}).status();
              })
              .ok());
}

int CountWorkloads(Store& store) {
  int n = -1;
  REQUIRE(store
              .Read([&](ReadTx& tx) -> absl::Status {
                NEST_ASSIGN_OR_RETURN(auto page, tx.ListWorkloads());
                n = static_cast<int>(page.items.size());
                return absl::OkStatus();
              })
              .ok());
  return n;
}

TEST_CASE("HashRequest is SHA-256") {
  CHECK(HashRequest("") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(HashRequest("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(
      HashRequest("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
      "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");
  // 1,000,000 x 'a' crosses many blocks and the two-block padding case.
  CHECK(HashRequest(std::string(1000000, 'a')) ==
        "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0");
}

TEST_CASE("same request id and body returns the stored response once more") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  SeedTenant(*store);
  IdempotencyKey key{TenantId("acme"), "req-1", HashRequest("create hello")};
  auto first = store->WriteIdempotent(key, CreateHello);
  REQUIRE_MESSAGE(first.ok(), first.status().ToString());
  CHECK_FALSE(first->replayed);
  CHECK(first->response == "created hello gen 1");
  int64_t seq = store->LastEventSeq();

  auto again = store->WriteIdempotent(key, CreateHello);
  REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  CHECK(again->replayed);
  CHECK(again->response == first->response);
  CHECK(CountWorkloads(*store) == 1);
  CHECK(store->LastEventSeq() == seq);  // the replay changed nothing

  // The event of the original request carries its id.
  auto events = store->EventsSince(testing::Since(seq - 1));
  REQUIRE(events.ok());
  CHECK(events->back().request_id == "req-1");
}

TEST_CASE("same request id with a different body is INVALID_ARGUMENT") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  SeedTenant(*store);
  REQUIRE(store
              ->WriteIdempotent({TenantId("acme"), "req-1", HashRequest("a")},
                                CreateHello)
              .ok());
  auto other = store->WriteIdempotent(
      {TenantId("acme"), "req-1", HashRequest("b")}, CreateHello);
  REQUIRE_FALSE(other.ok());
  CHECK(other.status().code() == absl::StatusCode::kInvalidArgument);
  CHECK(std::string(other.status().message())
            .find("\"req-1\" was already used") != std::string::npos);
}

TEST_CASE("request ids are scoped per tenant") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  SeedTenant(*store);
  REQUIRE(store
              ->Write([](WriteTx& tx) {
                return tx.CreateTenant(Tenant{TenantId("beta"), {}, {}}).status();
              })
              .ok());
  REQUIRE(store
              ->WriteIdempotent({TenantId("acme"), "r", HashRequest("x")},
                                CreateHello)
              .ok());
  auto beta = store->WriteIdempotent(
      {TenantId("beta"), "r", HashRequest("y")},
      [](WriteTx& tx) -> absl::StatusOr<std::string> {
        NEST_RETURN_IF_ERROR(
            tx.CreateWorkload(MakeWorkload("beta", "hello")).status());
        return std::string("beta");
      });
  REQUIRE(beta.ok());
  CHECK_FALSE(beta->replayed);
  CHECK(CountWorkloads(*store) == 2);
}

TEST_CASE("a failed mutation stores no key, so a retry runs again") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  SeedTenant(*store);
  IdempotencyKey key{TenantId("acme"), "req-9", HashRequest("x")};
  auto failed =
      store->WriteIdempotent(key, [](WriteTx&) -> absl::StatusOr<std::string> {
        return absl::UnavailableError("host unreachable");
      });
  CHECK(failed.status().code() == absl::StatusCode::kUnavailable);
  auto retry = store->WriteIdempotent(key, CreateHello);
  REQUIRE(retry.ok());
  CHECK_FALSE(retry->replayed);
  CHECK(CountWorkloads(*store) == 1);
}

TEST_CASE("50 concurrent requests with one id create exactly one object") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  SeedTenant(*store);
  constexpr int kThreads = 50;
  IdempotencyKey key{TenantId("acme"), "burst", HashRequest("create hello")};
  absl::Barrier* start = new absl::Barrier(kThreads);
  std::vector<absl::StatusOr<IdempotentResult>> results(
      kThreads, absl::UnknownError("not run"));
  std::atomic<int> ran{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kThreads; ++i) {
    threads.emplace_back([&, i] {
      if (start->Block()) delete start;
      results[i] = store->WriteIdempotent(
          key, [&](WriteTx& tx) -> absl::StatusOr<std::string> {
            ++ran;
            return CreateHello(tx);
          });
    });
  }
  for (auto& t : threads) t.join();
  int replayed = 0;
  for (const auto& r : results) {
    REQUIRE_MESSAGE(r.ok(), r.status().ToString());
    CHECK(r->response == "created hello gen 1");
    replayed += r->replayed ? 1 : 0;
  }
  CHECK(ran.load() == 1);
  CHECK(replayed == kThreads - 1);
  CHECK(CountWorkloads(*store) == 1);
}

TEST_CASE("idempotency keys can be pruned by age") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  SeedTenant(*store);
  IdempotencyKey key{TenantId("acme"), "old", HashRequest("x")};
  REQUIRE(store->WriteIdempotent(key, CreateHello).ok());
  clock.Advance(absl::Hours(25));
  auto pruned = store->PruneIdempotencyKeys(clock.Now() - absl::Hours(24));
  REQUIRE(pruned.ok());
  CHECK(*pruned == 1);
  // The key is gone: the same id now runs again (and hits the existing name).
  auto again = store->WriteIdempotent(key, CreateHello);
  CHECK(again.status().code() == absl::StatusCode::kAlreadyExists);
}

}  // namespace
}  // namespace nest::store

// Workload revisions (rollout undo) and health checks in the store.
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "store/store.h"
#include "tests/store/store_test_util.h"

namespace nest::store {
namespace {

using testing::MakeWorkload;
using testing::MustOpen;
using testing::TempDir;

// Tenant "acme" with workload "hello".
void Seed(Store& store) {
  absl::Status st = store.Write([](WriteTx& tx) -> absl::Status {
    NEST_RETURN_IF_ERROR(
        tx.CreateTenant(Tenant{TenantId("acme"), {}, {}}).status());
    return tx.CreateWorkload(MakeWorkload("acme", "hello")).status();
  });
  REQUIRE_MESSAGE(st.ok(), st.ToString());
}

// Sets the image (unless empty) and the replicas of acme/hello.
absl::Status Change(Store& store, const std::string& image, int64_t replicas) {
  return store.Write([&](WriteTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(
        Workload w, tx.GetWorkload(TenantId("acme"), WorkloadId("hello")));
    if (!image.empty()) w.image = image;
    w.replicas = replicas;
    return tx.UpdateWorkload(w, w.meta.generation).status();
  });
}

std::vector<WorkloadRevision> Revisions(Store& store) {
  std::vector<WorkloadRevision> out;
  absl::Status st = store.Read([&](ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(
        out, tx.ListWorkloadRevisions(TenantId("acme"), WorkloadId("hello")));
    return absl::OkStatus();
  });
  REQUIRE_MESSAGE(st.ok(), st.ToString());
  return out;
}

TEST_CASE("a template change keeps the replaced row as a revision") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  CHECK(Revisions(*store).empty());
  // Replicas alone: no revision.
  REQUIRE(Change(*store, "", 5).ok());
  CHECK(Revisions(*store).empty());
  std::string first;
  REQUIRE(store
              ->Read([&](ReadTx& tx) -> absl::Status {
                NEST_ASSIGN_OR_RETURN(
                    Workload w,
                    tx.GetWorkload(TenantId("acme"), WorkloadId("hello")));
                first = w.image;
                return absl::OkStatus();
              })
              .ok());
  clock.Advance(absl::Seconds(3));
  REQUIRE(Change(*store, "hello:2", 5).ok());
  std::vector<WorkloadRevision> revs = Revisions(*store);
  REQUIRE(revs.size() == 1);
  CHECK(revs[0].revision == 1);
  CHECK(revs[0].workload.image == first);
  CHECK(revs[0].workload.replicas == 5);
  CHECK(revs[0].replaced_at == clock.Now());
  // Only the last kMaxRevisions stay, numbered on.
  for (int i = 3; i < 3 + kMaxRevisions + 2; ++i) {
    REQUIRE(Change(*store, "hello:" + std::to_string(i), 5).ok());
  }
  revs = Revisions(*store);
  REQUIRE(revs.size() == static_cast<size_t>(kMaxRevisions));
  // 1 + kMaxRevisions + 2 changes made revisions 1 .. kMaxRevisions + 3.
  CHECK(revs.front().revision == 4);
  CHECK(revs.back().revision == kMaxRevisions + 3);
  CHECK(revs.back().workload.image ==
        "hello:" + std::to_string(kMaxRevisions + 3));
  // Deleting the workload deletes its revisions.
  REQUIRE(store
              ->Write([&](WriteTx& tx) -> absl::Status {
                return tx.DeleteWorkload(TenantId("acme"), WorkloadId("hello"),
                                         0);
              })
              .ok());
  CHECK(Revisions(*store).empty());
}

TEST_CASE("a health check round-trips; none is the empty column") {
  TempDir dir;
  FakeClock clock;
  auto store = MustOpen(dir.File("nest.db"), clock);
  Seed(*store);
  HealthCheck h;
  h.kind = "http";
  h.port = 8080;
  h.path = "/healthz";
  h.initial_delay_s = 2;
  h.period_s = 3;
  h.timeout_s = 1;
  h.failure_threshold = 4;
  h.success_threshold = 2;
  REQUIRE(store
              ->Write([&](WriteTx& tx) -> absl::Status {
                NEST_ASSIGN_OR_RETURN(
                    Workload w,
                    tx.GetWorkload(TenantId("acme"), WorkloadId("hello")));
                CHECK(w.health_check.kind.empty());
                w.health_check = h;
                return tx.UpdateWorkload(w, w.meta.generation).status();
              })
              .ok());
  REQUIRE(store
              ->Read([&](ReadTx& tx) -> absl::Status {
                NEST_ASSIGN_OR_RETURN(
                    Workload w,
                    tx.GetWorkload(TenantId("acme"), WorkloadId("hello")));
                CHECK(w.health_check == h);
                return absl::OkStatus();
              })
              .ok());
  // A changed health check is a template change.
  CHECK(Revisions(*store).size() == 1);
}

}  // namespace
}  // namespace nest::store

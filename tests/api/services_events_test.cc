// EventService, ImageService and PlacementService.
// Through a real gRPC server on 127.0.0.1:0 and real C++ stubs, with a
// simulated cluster behind it (tests/api/api_world.h).

#include "absl/strings/match.h"
#include "tests/api/api_world.h"

namespace nest::api {
namespace {

using testing::ApiFixtureOptions;
using testing::Ctx;
using testing::Fields;
using testing::GroupSpec;
using testing::WorkSpec;
using testing::World;
namespace v1 = ::nest::v1;

TEST_CASE(
    "events: list, and Watch resumes after a disconnect exactly once, in "
    "order") {
  World w;
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  int64_t start = w.f.store->LastEventSeq();
  std::vector<int64_t> got;
  {
    Ctx ctx;
    v1::WatchEventsRequest req;
    req.set_after_seq(start);
    auto reader = w.c.events->Watch(&ctx, req);
    REQUIRE(w.CreateWorkload("a", WorkSpec()).ok());
    REQUIRE(w.CreateWorkload("b", WorkSpec()).ok());
    REQUIRE(w.CreateWorkload("c", WorkSpec()).ok());
    v1::Event e;
    for (int i = 0; i < 2 && reader->Read(&e); ++i) got.push_back(e.seq());
    ctx.TryCancel();  // disconnect after two events
    while (reader->Read(&e)) {
    }
    (void)reader->Finish();
  }
  REQUIRE(got.size() == 2);
  // Missed while disconnected.
  REQUIRE(w.CreateWorkload("d", WorkSpec()).ok());
  int64_t end = w.f.store->LastEventSeq();
  {
    Ctx ctx;
    v1::WatchEventsRequest req;
    req.set_after_seq(got.back());
    auto reader = w.c.events->Watch(&ctx, req);
    v1::Event e;
    while (got.back() < end && reader->Read(&e)) got.push_back(e.seq());
    ctx.TryCancel();
    (void)reader->Finish();
  }
  std::vector<int64_t> want;
  for (int64_t s = start + 1; s <= end; ++s) want.push_back(s);
  CHECK(got == want);

  Ctx list;
  v1::ListEventsRequest lr;
  lr.set_after_seq(start);
  lr.set_kind("workload");
  v1::ListEventsResponse resp;
  REQUIRE(w.c.events->ListEvents(&list, lr, &resp).ok());
  REQUIRE(resp.events_size() == 4);
  CHECK(resp.events(0).name() == "a");
  CHECK(resp.events(0).reason() == "Created");
  CHECK(resp.events(3).name() == "d");
}

TEST_CASE("Watch filters by kind and name and still delivers live events") {
  World w;
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  Ctx ctx;
  v1::WatchEventsRequest req;
  req.set_from_oldest(true);
  req.set_kind("workload");
  req.set_name("b");
  auto reader = w.c.events->Watch(&ctx, req);
  REQUIRE(w.CreateWorkload("a", WorkSpec()).ok());
  REQUIRE(w.CreateWorkload("b", WorkSpec()).ok());
  v1::Event e;
  REQUIRE(reader->Read(&e));
  CHECK(e.kind() == "workload");
  CHECK(e.name() == "b");
  ctx.TryCancel();
  (void)reader->Finish();
}

TEST_CASE(
    "Watch from a pruned sequence is OUT_OF_RANGE naming the oldest kept") {
  World w;
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  REQUIRE(w.CreateWorkload("a", WorkSpec()).ok());
  w.f.clock.Advance(absl::Hours(2));
  REQUIRE(w.CreateWorkload("b", WorkSpec()).ok());
  auto pruned = w.f.store->PruneEvents(w.f.clock.Now() - absl::Hours(1));
  REQUIRE(pruned.ok());
  REQUIRE(*pruned >= 2);
  auto oldest = w.f.store->OldestEventSeq();
  REQUIRE(oldest.ok());
  Ctx ctx;
  v1::WatchEventsRequest req;
  req.set_after_seq(1);
  auto reader = w.c.events->Watch(&ctx, req);
  v1::Event e;
  CHECK_FALSE(reader->Read(&e));
  grpc::Status s = reader->Finish();
  CHECK(s.error_code() == grpc::StatusCode::OUT_OF_RANGE);
  CHECK(absl::StrContains(s.error_message(), std::to_string(*oldest)));
}

TEST_CASE("cancelling a Watch stops its handler promptly") {
  World w;
  auto& streams = *w.f.services.streams;
  Ctx ctx;
  v1::WatchEventsRequest req;
  auto reader = w.c.events->Watch(&ctx, req);
  reader->WaitForInitialMetadata();  // the watch is established
  REQUIRE(streams.AwaitTotalAtLeast(1, absl::Seconds(10)));
  CHECK(streams.active() == 1);
  auto t0 = absl::Now();
  ctx.TryCancel();
  CHECK(streams.AwaitActiveAtMost(0, absl::Seconds(5)));
  CHECK(absl::Now() - t0 < absl::Seconds(2));
  (void)reader->Finish();
}

TEST_CASE("images: import, list, delete refused while used") {
  World w;
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  {
    Ctx ctx;
    v1::ImportImageRequest req;
    req.set_name("bad name");
    v1::ImportImageResponse resp;
    grpc::Status s = w.c.images->ImportImage(&ctx, req, &resp);
    CHECK(Fields(s) == std::set<std::string>{"name", "source"});
  }
  {
    Ctx ctx;
    v1::ImportImageRequest req;
    req.set_name("busybox");
    req.set_source("/srv/images/busybox.tar");
    req.mutable_options()->set_request_id("import-1");
    v1::ImportImageResponse resp;
    REQUIRE(w.c.images->ImportImage(&ctx, req, &resp).ok());
    CHECK(absl::StartsWith(resp.image().digest(), "sha256:"));
    v1::ImportImageResponse replay;
    Ctx again;
    REQUIRE(w.c.images->ImportImage(&again, req, &replay).ok());
    CHECK(replay.SerializeAsString() == resp.SerializeAsString());
    Ctx dup;
    req.clear_options();
    CHECK(w.c.images->ImportImage(&dup, req, &resp).error_code() ==
          grpc::StatusCode::ALREADY_EXISTS);
  }
  {
    Ctx ctx;
    v1::ListImagesRequest req;
    v1::ListImagesResponse resp;
    REQUIRE(w.c.images->ListImages(&ctx, req, &resp).ok());
    REQUIRE(resp.images_size() == 1);
    CHECK(resp.images(0).meta().name() == "busybox");
  }
  REQUIRE(w.CreateWorkload("bb", WorkSpec("web", 1, "busybox")).ok());
  Ctx ctx;
  v1::DeleteImageRequest req;
  req.set_name("busybox");
  v1::DeleteImageResponse resp;
  grpc::Status s = w.c.images->DeleteImage(&ctx, req, &resp);
  CHECK(s.error_code() == grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(absl::StrContains(s.error_message(), "bb"));
  Ctx del;
  v1::DeleteWorkloadRequest dw;
  dw.set_name("bb");
  v1::DeleteWorkloadResponse dwr;
  REQUIRE(w.c.workloads->DeleteWorkload(&del, dw, &dwr).ok());
  Ctx again;
  REQUIRE(w.c.images->DeleteImage(&again, req, &resp).ok());
}

TEST_CASE(
    "placement: Explain names the reasons; DryRun plans without writing") {
  World w;
  w.Running();
  v1::WorkloadSpec big = WorkSpec("web", 1);
  big.mutable_resources()->set_memory("4Gi");  // larger than any VM of web
  REQUIRE(w.CreateWorkload("big", big).ok());
  {
    Ctx ctx;
    v1::ExplainRequest req;
    req.set_workload("big");
    v1::ExplainResponse resp;
    REQUIRE(w.c.placement->Explain(&ctx, req, &resp).ok());
    CHECK(resp.pending() == 1);
    CHECK(resp.reasons_size() > 0);
    CHECK(!resp.suggestion().empty());
    Ctx missing;
    req.set_workload("nope");
    CHECK(w.c.placement->Explain(&missing, req, &resp).error_code() ==
          grpc::StatusCode::NOT_FOUND);
    Ctx empty;
    req.clear_workload();
    CHECK(Fields(w.c.placement->Explain(&empty, req, &resp)) ==
          std::set<std::string>{"workload"});
  }
  REQUIRE(w.CreateWorkload("more", WorkSpec("web", 2)).ok());
  int64_t seq = w.f.store->LastEventSeq();
  Ctx ctx;
  v1::DryRunRequest req;
  v1::DryRunResponse resp;
  REQUIRE(w.c.placement->DryRun(&ctx, req, &resp).ok());
  int placed = 0;
  for (const auto& a : resp.actions())
    placed += a.action() == "place_container";
  CHECK(placed == 2);
  REQUIRE(resp.unplaceable_size() == 1);
  CHECK(resp.unplaceable(0).workload() == "big");
  CHECK(w.f.store->LastEventSeq() == seq);
}

TEST_CASE("BadRequest names the field of every other validated request") {
  ApiFixtureOptions o;
  o.controller = false;
  World w(o);
  REQUIRE(w.CreateHost("h1").ok());
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  w.PutVm("web-aaaaa", "web", "h1");
  {
    Ctx ctx;
    v1::ListEventsRequest req;
    req.set_after_seq(-1);
    req.set_limit(-5);
    v1::ListEventsResponse resp;
    grpc::Status s = w.c.events->ListEvents(&ctx, req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Fields(s) == std::set<std::string>{"after_seq", "limit"});
  }
  {
    Ctx ctx;
    v1::WatchEventsRequest req;
    req.set_after_seq(-1);
    auto reader = w.c.events->Watch(&ctx, req);
    v1::Event e;
    CHECK_FALSE(reader->Read(&e));
    grpc::Status s = reader->Finish();
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Fields(s) == std::set<std::string>{"after_seq"});
  }
  {
    Ctx ctx;
    v1::StreamLogsRequest req;
    req.set_name("hello-aaaaa");
    req.set_tail_lines(-1);
    auto reader = w.c.containers->StreamLogs(&ctx, req);
    v1::StreamLogsResponse r;
    CHECK_FALSE(reader->Read(&r));
    grpc::Status s = reader->Finish();
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Fields(s) == std::set<std::string>{"tail_lines"});
  }
  {
    Ctx ctx;
    v1::GetConsoleLogRequest req;
    req.set_name("web-aaaaa");
    req.set_tail_bytes(-1);
    v1::GetConsoleLogResponse resp;
    grpc::Status s = w.c.vms->GetConsoleLog(&ctx, req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Fields(s) == std::set<std::string>{"tail_bytes"});
  }
  {
    Ctx ctx;
    v1::ApplyRequest req;
    v1::ApplyResponse resp;
    grpc::Status s = w.c.workloads->Apply(&ctx, req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Fields(s) == std::set<std::string>{"objects"});
  }
  {
    v1::WorkloadSpec spec = WorkSpec();
    spec.add_command(std::string("a\0b", 3));
    spec.add_args(std::string("\0", 1));
    auto* port = spec.add_ports();
    port->set_name("Bad_Name");
    port->set_container_port(80);
    grpc::Status s = w.CreateWorkload("nul", spec);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Fields(s) == std::set<std::string>{"spec.command[0]", "spec.args[0]",
                                             "spec.ports[0].name"});
  }
}

}  // namespace
}  // namespace nest::api

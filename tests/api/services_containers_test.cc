// ContainerService: list, get, logs, exec and stats through the agents; and
// paging, which every List RPC shares.
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

TEST_CASE("containers: list, get, logs, exec, stats through the VM's agent") {
  World w;
  w.Running();
  auto cs = w.Containers("hello");
  REQUIRE(cs.size() == 2);
  const v1::Container& c0 = cs[0];
  CHECK(c0.state() == v1::CONTAINER_STATE_RUNNING);
  CHECK(c0.image() == "hello");
  CHECK(!c0.vm().empty());
  CHECK(c0.host() == "h1");
  auto agent = w.f.agents.Agent(VmId(c0.vm()));
  REQUIRE(agent != nullptr);
  REQUIRE(agent->AppendOutput(c0.meta().name(), "one\ntwo\nthree\n").ok());
  {
    Ctx ctx;
    v1::GetContainerRequest req;
    req.set_name(c0.meta().name());
    v1::GetContainerResponse resp;
    REQUIRE(w.c.containers->GetContainer(&ctx, req, &resp).ok());
    CHECK(resp.container().workload() == "hello");
    Ctx nf;
    req.set_name("nope");
    CHECK(w.c.containers->GetContainer(&nf, req, &resp).error_code() ==
          grpc::StatusCode::NOT_FOUND);
  }
  {
    Ctx ctx;
    v1::StreamLogsRequest req;
    req.set_name(c0.meta().name());
    req.set_tail_lines(2);
    auto reader = w.c.containers->StreamLogs(&ctx, req);
    std::string data;
    v1::StreamLogsResponse r;
    while (reader->Read(&r)) data += r.data();
    REQUIRE(reader->Finish().ok());
    CHECK(data == "two\nthree\n");
  }
  {
    Ctx ctx;
    v1::ExecRequest req;
    req.set_name(c0.meta().name());
    req.add_command("/bin/true");
    v1::ExecResponse resp;
    REQUIRE(w.c.containers->Exec(&ctx, req, &resp).ok());
    CHECK(resp.exit_code() == 0);
    Ctx bad;
    req.clear_command();
    req.set_timeout_s(-1);
    grpc::Status s = w.c.containers->Exec(&bad, req, &resp);
    CHECK(Fields(s) == std::set<std::string>{"command", "timeout_s"});
  }
  {
    Ctx ctx;
    v1::GetContainerStatsRequest req;
    v1::GetContainerStatsResponse resp;
    REQUIRE(w.c.containers->GetContainerStats(&ctx, req, &resp).ok());
    CHECK(resp.stats_size() == 2);
    CHECK(resp.stats(0).memory_limit_bytes() == 32 * 1024 * 1024);
  }
}

TEST_CASE("following logs: new output streams, and cancel frees the handler") {
  World w;
  w.Running();
  auto cs = w.Containers("hello");
  REQUIRE(!cs.empty());
  auto agent = w.f.agents.Agent(VmId(cs[0].vm()));
  REQUIRE(agent != nullptr);
  REQUIRE(agent->AppendOutput(cs[0].meta().name(), "before\n").ok());
  auto& streams = *w.f.services.streams;
  Ctx ctx;
  v1::StreamLogsRequest req;
  req.set_name(cs[0].meta().name());
  req.set_follow(true);
  auto reader = w.c.containers->StreamLogs(&ctx, req);
  v1::StreamLogsResponse r;
  REQUIRE(reader->Read(&r));
  CHECK(r.data() == "before\n");
  REQUIRE(agent->AppendOutput(cs[0].meta().name(), "after\n").ok());
  REQUIRE(reader->Read(&r));
  CHECK(r.data() == "after\n");
  CHECK(streams.active() == 1);
  ctx.TryCancel();
  CHECK(streams.AwaitActiveAtMost(0, absl::Seconds(5)));
  (void)reader->Finish();
}

TEST_CASE("without a controller, logs/exec/stats are UNAVAILABLE") {
  ApiFixtureOptions o;
  o.controller = false;
  World w(o);
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  REQUIRE(w.CreateWorkload("hello", WorkSpec()).ok());
  // A container row, as the controller would have written it.
  REQUIRE(w.f.store
              ->Write([](store::WriteTx& tx) -> absl::Status {
                store::Container c;
                c.id = ContainerId("hello-aaaaa");
                c.tenant = TenantId("default");
                c.workload = WorkloadId("hello");
                return tx.CreateContainer(c).status();
              })
              .ok());
  Ctx ctx;
  v1::ExecRequest req;
  req.set_name("hello-aaaaa");
  req.add_command("/bin/true");
  v1::ExecResponse resp;
  CHECK(w.c.containers->Exec(&ctx, req, &resp).error_code() ==
        grpc::StatusCode::UNAVAILABLE);
}

// Pages through a List RPC one object a page; the names in order.
template <typename Req, typename Resp, typename Call, typename Names>
std::vector<std::string> PageAll(Call call, Names names) {
  std::vector<std::string> out;
  std::string token;
  for (int pages = 0; pages < 20; ++pages) {
    Ctx ctx;
    Req req;
    req.mutable_page()->set_page_size(1);
    req.mutable_page()->set_page_token(token);
    Resp resp;
    grpc::Status s = call(&ctx, req, &resp);
    REQUIRE_MESSAGE(s.ok(), s.error_message());
    std::vector<std::string> page = names(resp);
    CHECK(page.size() <= 1);
    out.insert(out.end(), page.begin(), page.end());
    token = resp.next_page_token();
    if (token.empty()) break;
  }
  return out;
}

template <typename List>
std::vector<std::string> NamesOf(const List& items) {
  std::vector<std::string> out;
  for (const auto& i : items) out.push_back(i.meta().name());
  return out;
}

TEST_CASE("every List RPC pages with page_size and page_token") {
  ApiFixtureOptions o;
  o.controller = false;  // rows are written as the controller would
  World w(o);
  REQUIRE(w.CreateHost("h1").ok());
  REQUIRE(w.CreateHost("h2").ok());
  REQUIRE(w.CreateGroup("web", GroupSpec()).ok());
  REQUIRE(w.CreateGroup("batch", GroupSpec(0, 2)).ok());
  REQUIRE(w.CreateWorkload("hello", WorkSpec()).ok());
  REQUIRE(w.CreateWorkload("more", WorkSpec("web", 1)).ok());
  w.PutVm("web-aaaaa", "web", "h1");
  w.PutVm("web-bbbbb", "web", "h2");
  REQUIRE(w.f.store
              ->Write([](store::WriteTx& tx) -> absl::Status {
                for (const char* id :
                     {"hello-aaaaa", "hello-bbbbb", "more-aaaaa"}) {
                  store::Container c;
                  c.id = ContainerId(id);
                  c.tenant = TenantId("default");
                  c.workload = WorkloadId(id[0] == 'h' ? "hello" : "more");
                  NEST_RETURN_IF_ERROR(tx.CreateContainer(c).status());
                }
                return absl::OkStatus();
              })
              .ok());
  for (const char* name : {"a", "b"}) {
    Ctx ctx;
    v1::ImportImageRequest req;
    req.set_name(name);
    req.set_source(std::string("/srv/") + name + ".tar");
    v1::ImportImageResponse resp;
    REQUIRE(w.c.images->ImportImage(&ctx, req, &resp).ok());
  }
  auto& c = w.c;
  CHECK(PageAll<v1::ListHostsRequest, v1::ListHostsResponse>(
            [&](auto* ctx, const auto& req, auto* resp) {
              return c.hosts->ListHosts(ctx, req, resp);
            },
            [](const auto& r) { return NamesOf(r.hosts()); }) ==
        std::vector<std::string>{"h1", "h2"});
  CHECK(PageAll<v1::ListVmGroupsRequest, v1::ListVmGroupsResponse>(
            [&](auto* ctx, const auto& req, auto* resp) {
              return c.groups->ListVmGroups(ctx, req, resp);
            },
            [](const auto& r) { return NamesOf(r.groups()); }) ==
        std::vector<std::string>{"batch", "web"});
  CHECK(PageAll<v1::ListWorkloadsRequest, v1::ListWorkloadsResponse>(
            [&](auto* ctx, const auto& req, auto* resp) {
              return c.workloads->ListWorkloads(ctx, req, resp);
            },
            [](const auto& r) { return NamesOf(r.workloads()); }) ==
        std::vector<std::string>{"hello", "more"});
  CHECK(PageAll<v1::ListContainersRequest, v1::ListContainersResponse>(
            [&](auto* ctx, const auto& req, auto* resp) {
              return c.containers->ListContainers(ctx, req, resp);
            },
            [](const auto& r) { return NamesOf(r.containers()); })
            .size() == 3);
  CHECK(PageAll<v1::ListVmsRequest, v1::ListVmsResponse>(
            [&](auto* ctx, const auto& req, auto* resp) {
              return c.vms->ListVms(ctx, req, resp);
            },
            [](const auto& r) { return NamesOf(r.vms()); }) ==
        std::vector<std::string>{"web-aaaaa", "web-bbbbb"});
  CHECK(PageAll<v1::ListImagesRequest, v1::ListImagesResponse>(
            [&](auto* ctx, const auto& req, auto* resp) {
              return c.images->ListImages(ctx, req, resp);
            },
            [](const auto& r) { return NamesOf(r.images()); }) ==
        std::vector<std::string>{"a", "b"});

  // Bad page fields are named; a token only works for the kind it lists.
  {
    Ctx ctx;
    v1::ListWorkloadsRequest req;
    req.mutable_page()->set_page_size(-1);
    v1::ListWorkloadsResponse resp;
    grpc::Status s = c.workloads->ListWorkloads(&ctx, req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Fields(s) == std::set<std::string>{"page.page_size"});
  }
  std::string workload_token;
  {
    Ctx ctx;
    v1::ListWorkloadsRequest req;
    req.mutable_page()->set_page_size(1);
    v1::ListWorkloadsResponse resp;
    REQUIRE(c.workloads->ListWorkloads(&ctx, req, &resp).ok());
    workload_token = resp.next_page_token();
    REQUIRE(!workload_token.empty());
  }
  for (const std::string& token : {std::string("garbage"), workload_token}) {
    CAPTURE(token);
    Ctx ctx;
    v1::ListContainersRequest req;
    req.mutable_page()->set_page_token(token);
    v1::ListContainersResponse resp;
    grpc::Status s = c.containers->ListContainers(&ctx, req, &resp);
    CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
    CHECK(Fields(s) == std::set<std::string>{"page.page_token"});
  }
}

}  // namespace
}  // namespace nest::api

// Shared by the nest.v1 service tests: C++ stubs of every service over one
// channel to an ApiFixture, and helpers that build valid specs. Each test
// gets a fresh World (server, store and simulated cluster).
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "doctest/doctest.h"
#include "nest/v1/common.pb.h"
#include "nest/v1/container.grpc.pb.h"
#include "nest/v1/event.grpc.pb.h"
#include "nest/v1/host.grpc.pb.h"
#include "nest/v1/image.grpc.pb.h"
#include "nest/v1/placement.grpc.pb.h"
#include "nest/v1/token.grpc.pb.h"
#include "nest/v1/vm.grpc.pb.h"
#include "nest/v1/vm_group.grpc.pb.h"
#include "nest/v1/workload.grpc.pb.h"
#include "tests/api/api_fixture.h"

namespace nest::api::testing {

namespace v1 = ::nest::v1;

struct Client {
  explicit Client(const std::string& address)
      : ch(grpc::CreateChannel(address, grpc::InsecureChannelCredentials())),
        hosts(v1::HostService::NewStub(ch)),
        groups(v1::VmGroupService::NewStub(ch)),
        vms(v1::VmService::NewStub(ch)),
        workloads(v1::WorkloadService::NewStub(ch)),
        containers(v1::ContainerService::NewStub(ch)),
        images(v1::ImageService::NewStub(ch)),
        events(v1::EventService::NewStub(ch)),
        placement(v1::PlacementService::NewStub(ch)) {}
  std::shared_ptr<grpc::Channel> ch;
  std::unique_ptr<v1::HostService::Stub> hosts;
  std::unique_ptr<v1::VmGroupService::Stub> groups;
  std::unique_ptr<v1::VmService::Stub> vms;
  std::unique_ptr<v1::WorkloadService::Stub> workloads;
  std::unique_ptr<v1::ContainerService::Stub> containers;
  std::unique_ptr<v1::ImageService::Stub> images;
  std::unique_ptr<v1::EventService::Stub> events;
  std::unique_ptr<v1::PlacementService::Stub> placement;
};

// A context with a deadline, so a hung server fails the test instead of
// hanging it.
struct Ctx : grpc::ClientContext {
  Ctx() {
    set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  }
};

// Field paths of the BadRequest in a status's details.
inline std::set<std::string> Fields(const grpc::Status& s) {
  std::set<std::string> out;
  v1::RpcStatus st;
  if (!st.ParseFromString(s.error_details())) return out;
  for (const auto& any : st.details()) {
    if (any.type_url() != "type.googleapis.com/google.rpc.BadRequest") continue;
    v1::BadRequest bad;
    if (!bad.ParseFromString(any.value())) continue;
    for (const auto& v : bad.field_violations()) out.insert(v.field());
  }
  return out;
}

inline v1::VmGroupSpec GroupSpec(int min = 1, int max = 3) {
  v1::VmGroupSpec s;
  s.mutable_shape()->set_vcpus(1);
  s.mutable_shape()->set_memory("256Mi");
  s.set_min_vms(min);
  s.set_max_vms(max);
  return s;
}

inline v1::WorkloadSpec WorkSpec(const std::string& group = "web",
                                 int replicas = 2,
                                 const std::string& image = "hello") {
  v1::WorkloadSpec s;
  s.set_image(image);
  s.set_group(group);
  s.set_replicas(replicas);
  s.mutable_resources()->set_cpu("100m");
  s.mutable_resources()->set_memory("32Mi");
  s.set_restart_policy(v1::RESTART_POLICY_ALWAYS);
  return s;
}

struct World {
  explicit World(ApiFixtureOptions o = {}) : f(o), c(f.address()) {
    control::ImageBlob hello{"sha256:" + std::string(64, 'a'),
                             "tar",
                             {"/bin/echo"},
                             {"hi"},
                             {},
                             "/"};
    f.images.Add("hello", hello);
  }
  grpc::Status CreateHost(const std::string& name) {
    Ctx ctx;
    v1::CreateHostRequest req;
    req.set_name(name);
    req.set_uri("sim://" + name);
    v1::CreateHostResponse resp;
    return c.hosts->CreateHost(&ctx, req, &resp);
  }
  grpc::Status CreateGroup(const std::string& name, v1::VmGroupSpec spec,
                           v1::VmGroup* out = nullptr) {
    Ctx ctx;
    v1::CreateVmGroupRequest req;
    req.set_name(name);
    *req.mutable_spec() = spec;
    v1::CreateVmGroupResponse resp;
    grpc::Status s = c.groups->CreateVmGroup(&ctx, req, &resp);
    if (out) *out = resp.group();
    return s;
  }
  grpc::Status CreateWorkload(const std::string& name, v1::WorkloadSpec spec,
                              v1::Workload* out = nullptr,
                              const std::string& request_id = "") {
    Ctx ctx;
    v1::CreateWorkloadRequest req;
    req.set_name(name);
    req.mutable_options()->set_request_id(request_id);
    *req.mutable_spec() = spec;
    v1::CreateWorkloadResponse resp;
    grpc::Status s = c.workloads->CreateWorkload(&ctx, req, &resp);
    if (out) *out = resp.workload();
    return s;
  }
  std::vector<v1::Container> Containers(const std::string& workload = "") {
    Ctx ctx;
    v1::ListContainersRequest req;
    req.set_workload(workload);
    v1::ListContainersResponse resp;
    REQUIRE(c.containers->ListContainers(&ctx, req, &resp).ok());
    return {resp.containers().begin(), resp.containers().end()};
  }
  // A running VM row of `group` on `host`, as the controller records one
  // (for tests without a controller).
  void PutVm(const std::string& id, const std::string& group,
             const std::string& host) {
    REQUIRE(f.store
                ->Write([&](store::WriteTx& tx) -> absl::Status {
                  store::Vm vm;
                  vm.id = VmId(id);
                  vm.tenant = TenantId("default");
                  vm.group = GroupId(group);
                  vm.host = HostId(host);
                  vm.observed = store::VmObservedState::kRunning;
                  return tx.CreateVm(vm).status();
                })
                .ok());
  }
  v1::Workload GetWorkload(const std::string& name) {
    Ctx ctx;
    v1::GetWorkloadRequest req;
    req.set_name(name);
    v1::GetWorkloadResponse resp;
    REQUIRE(c.workloads->GetWorkload(&ctx, req, &resp).ok());
    return resp.workload();
  }
  // Host h1, group web, workload hello x2, converged.
  void Running() {
    REQUIRE(CreateHost("h1").ok());
    REQUIRE(CreateGroup("web", GroupSpec()).ok());
    REQUIRE(CreateWorkload("hello", WorkSpec()).ok());
    f.Converge();
  }
  ApiFixture f;
  Client c;
};

}  // namespace nest::api::testing

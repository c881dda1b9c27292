// Shared set-up of the controller tests: a temp dir for the store, the one
// host and group every simulated cluster starts from, and the options
// under which the controller runs in tests.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "control/controller.h"
#include "control/sim.h"
#include "store/store.h"

namespace nest::control::testing {

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/nest-control-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { std::filesystem::remove_all(path); }
};

// What every simulated cluster of these tests is made of: a store in a
// temp dir, one fake clock, and simulated hosts, agents, provisioner and
// images.
struct SimParts {
  TempDir dir;
  FakeClock clock;
  std::unique_ptr<store::Store> store;
  SimHostConnector hosts{vmm::SimHostConfig{}, clock};
  SimAgentConnector agents;
  SimProvisioner provisioner;
  StaticImageSource images;
  SimParts() { store = *store::Store::Open({dir.path + "/state.db"}, clock); }
};

// Tenant "default", host h1 (sim://h1) and group web (1 vCPU, 256 MiB,
// 1..3 VMs), in the caller's transaction.
inline absl::Status SeedHostAndGroup(store::WriteTx& tx) {
  NEST_RETURN_IF_ERROR(tx.CreateTenant({TenantId("default"), {}, {}}).status());
  store::Host h;
  h.name = HostId("h1");
  h.libvirt_uri = "sim://h1";
  NEST_RETURN_IF_ERROR(tx.CreateHost(h).status());
  store::VmGroup g;
  g.tenant = TenantId("default");
  g.name = GroupId("web");
  g.vcpus = 1;
  g.memory_mib = 256;
  g.disk_mib = 1024;
  g.min_size = 1;
  g.max_size = 3;
  return tx.CreateGroup(g).status();
}

// The "httpd" image of the simulated clusters.
inline ImageBlob HttpdImage() {
  return ImageBlob{
      "sha256:" + std::string(64, 'b'), "tar", {"/bin/httpd"}, {}, {}, "/"};
}

// SeedHostAndGroup plus workload httpd (2 x 100m/32Mi in group web) with
// `stop_grace_s`, in one transaction.
inline absl::Status SeedHttpd(store::Store& store, int64_t stop_grace_s) {
  return store.Write([stop_grace_s](store::WriteTx& tx) -> absl::Status {
    NEST_RETURN_IF_ERROR(SeedHostAndGroup(tx));
    store::Workload w;
    w.tenant = TenantId("default");
    w.name = WorkloadId("httpd");
    w.image = "httpd";
    w.replicas = 2;
    w.requests = Resources::Of(100, 32, 0);
    w.target_group = GroupId("web");
    w.stop_grace_s = stop_grace_s;
    return tx.CreateWorkload(w).status();
  });
}

// Sets workload `name` of tenant "default" to `replicas` as Commands does
// for a change of replicas only: its replicas carry on under the new
// generation (no rollout).
inline absl::Status ScaleCarrying(store::Store& store, const std::string& name,
                                  int64_t replicas) {
  return store.Write([&](store::WriteTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(store::Workload w, tx.GetWorkload(TenantId("default"),
                                                            WorkloadId(name)));
    w.replicas = replicas;
    NEST_ASSIGN_OR_RETURN(store::Workload next, tx.UpdateWorkload(w, 0));
    store::ListQuery q;
    q.tenant = w.tenant;
    q.workload = w.name;
    NEST_ASSIGN_OR_RETURN(auto cs, tx.ListContainers(q));
    for (store::Container& c : cs.items) {
      c.spec_generation = next.meta.generation;
      NEST_RETURN_IF_ERROR(tx.UpdateContainer(c, 0).status());
    }
    return absl::OkStatus();
  });
}

// VMs meant to run (draining ones included), and replicas meant to run
// that do.
inline int DesiredVms(const store::Snapshot& s) {
  int n = 0;
  for (const auto& vm : s.vms)
    n += vm.desired == store::VmDesiredState::kRunning;
  return n;
}
inline int RunningReplicas(const store::Snapshot& s) {
  int n = 0;
  for (const auto& c : s.containers) {
    n += c.desired == store::ContainerDesiredState::kRunning &&
         c.observed == store::ContainerObservedState::kRunning;
  }
  return n;
}

// No host reservation: the simulated hosts' whole capacity is placeable.
// Every event the store keeps, for tests that look for one.
inline store::EventQuery AllEvents() {
  store::EventQuery q;
  q.limit = 100000;
  return q;
}

inline ControllerOptions TestControllerOptions() {
  ControllerOptions opts;
  opts.host_reserved = Resources::Of(0, 0, 0);
  return opts;
}

}  // namespace nest::control::testing

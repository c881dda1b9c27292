// Shared fixtures for store tests: a temp dir that cleans up, and small
// valid objects to build on.
#pragma once

#include <stdlib.h>

#include <filesystem>
#include <memory>
#include <string>

#include "core/clock.h"
#include "doctest/doctest.h"
#include "store/store.h"

namespace nest::store::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl =
        (std::filesystem::temp_directory_path() / "nest-store-XXXXXX").string();
    char* p = mkdtemp(tmpl.data());
    REQUIRE(p != nullptr);
    path_ = p;
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  const std::string& path() const { return path_; }
  std::string File(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

inline StoreOptions Options(const std::string& path) {
  StoreOptions o;
  o.path = path;
  return o;
}

inline EventQuery Since(int64_t after_seq, int64_t limit = 1000,
                        const std::string& tenant = "") {
  EventQuery q;
  q.after_seq = after_seq;
  q.limit = limit;
  q.tenant = TenantId(tenant);
  q.kind = "";
  q.name = "";
  return q;
}

inline std::unique_ptr<Store> MustOpen(const std::string& path, Clock& clock) {
  auto s = Store::Open(Options(path), clock);
  REQUIRE_MESSAGE(s.ok(), s.status().ToString());
  return std::move(*s);
}

inline Host MakeHost(const std::string& name) {
  Host h;
  h.name = HostId(name);
  h.libvirt_uri = "qemu+tcp://" + name + "/system";
  h.labels = {{"zone", "a"}, {"rack", "r1"}};
  h.capacity = Resources::Of(8000, 16384, 100000);
  h.facts = {{"cpu_model", "EPYC"}};
  return h;
}

inline VmGroup MakeGroup(const std::string& tenant, const std::string& name) {
  VmGroup g;
  g.tenant = TenantId(tenant);
  g.name = GroupId(name);
  g.vcpus = 2;
  g.memory_mib = 1024;
  g.disk_mib = 4096;
  g.boot_image = "nest-guest-6.1";
  g.placement = PlacementPolicy::kSpread;
  g.spread_label = "zone";
  g.min_size = 1;
  g.max_size = 3;
  g.desired_size = 1;
  g.scale_up_cooldown = absl::Seconds(30);
  g.scale_down_cooldown = absl::Minutes(5);
  return g;
}

inline Vm MakeVm(const std::string& id, const std::string& tenant,
                 const std::string& group, const std::string& host) {
  Vm vm;
  vm.id = VmId(id);
  vm.tenant = TenantId(tenant);
  vm.group = GroupId(group);
  vm.host = HostId(host);
  vm.domain_name = "nest-" + id;
  return vm;
}

inline Workload MakeWorkload(const std::string& tenant,
                             const std::string& name) {
  Workload w;
  w.tenant = TenantId(tenant);
  w.name = WorkloadId(name);
  w.image = "busybox:1.36";
  w.command = {"/bin/sh", "-c"};
  w.args = {"echo hello; sleep 1"};
  w.env = {{"GREETING", "hi"}, {"TOKEN", "s3cret", true}};
  w.requests = Resources::Of(250, 64, 10);
  w.replicas = 3;
  w.restart_policy = RestartPolicy::kOnFailure;
  w.ports = {{"http", 8080, 30080, "tcp"}};
  w.isolation = Isolation::kDedicated;
  w.priority = 5;
  w.target_group = GroupId("web");
  w.stop_grace_s = 7;
  w.max_unavailable = 2;
  w.max_surge = 1;
  return w;
}

inline Container MakeContainer(const std::string& id, const std::string& tenant,
                               const std::string& workload,
                               const std::string& vm) {
  Container c;
  c.id = ContainerId(id);
  c.tenant = TenantId(tenant);
  c.workload = WorkloadId(workload);
  c.vm = VmId(vm);
  c.spec_generation = 1;
  return c;
}

}  // namespace nest::store::testing

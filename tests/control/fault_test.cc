// Convergence from a failure after every single action: the controller's
// side effects on hosts and guests are numbered, and for each k the run
// stops working after action k (every later action fails, as if the
// daemon had died there), then a new controller takes over. Whatever k,
// the cluster must end converged with nothing duplicated and nothing left
// behind.
#include <stdlib.h>

#include <filesystem>

#include "control/controller.h"
#include "control/sim.h"
#include "doctest/doctest.h"
#include "tests/control/cluster_util.h"
#include "tests/control/forwarding.h"

namespace nest::control {
namespace {

// Counts actions; once armed, every action after the k-th fails.
class Faults {
 public:
  // True when this action must fail.
  bool Next() {
    absl::MutexLock lock(&mu_);
    ++actions_;
    return armed_ && actions_ > crash_after_;
  }
  void Arm(int64_t crash_after) {
    absl::MutexLock lock(&mu_);
    armed_ = true;
    crash_after_ = crash_after;
    actions_ = 0;
  }
  void Disarm() {
    absl::MutexLock lock(&mu_);
    armed_ = false;
  }
  int64_t actions() {
    absl::MutexLock lock(&mu_);
    return actions_;
  }

 private:
  absl::Mutex mu_;
  bool armed_ ABSL_GUARDED_BY(mu_) = false;
  int64_t crash_after_ ABSL_GUARDED_BY(mu_) = 0;
  int64_t actions_ ABSL_GUARDED_BY(mu_) = 0;
};

absl::Status Crashed() { return absl::UnavailableError("injected failure"); }

class FaultyAgent : public ForwardingAgent {
 public:
  FaultyAgent(std::shared_ptr<agent::AgentApi> inner, Faults* faults)
      : ForwardingAgent(std::move(inner)), faults_(faults) {}
  absl::StatusOr<agent::PutImageResult> PutImage(
      absl::string_view digest, absl::string_view tar) override {
    if (faults_->Next()) return Crashed();
    return ForwardingAgent::PutImage(digest, tar);
  }
  absl::StatusOr<agent::ContainerInfo> CreateContainer(
      const agent::ContainerSpec& spec) override {
    if (faults_->Next()) return Crashed();
    return ForwardingAgent::CreateContainer(spec);
  }
  absl::StatusOr<agent::ContainerInfo> StartContainer(
      absl::string_view id) override {
    if (faults_->Next()) return Crashed();
    return ForwardingAgent::StartContainer(id);
  }
  absl::Status KillContainer(absl::string_view id, int signal) override {
    if (faults_->Next()) return Crashed();
    return ForwardingAgent::KillContainer(id, signal);
  }
  absl::Status DeleteContainer(absl::string_view id) override {
    if (faults_->Next()) return Crashed();
    return ForwardingAgent::DeleteContainer(id);
  }

 private:
  Faults* faults_;
};

class FaultyDriver : public ForwardingDriver {
 public:
  FaultyDriver(std::shared_ptr<vmm::VmDriver> inner, Faults* faults)
      : ForwardingDriver(std::move(inner)), faults_(faults) {}
  absl::Status Create(const vmm::VmSpec& spec) override {
    if (faults_->Next()) return Crashed();
    return ForwardingDriver::Create(spec);
  }
  absl::Status Undefine(const VmId& id) override {
    if (faults_->Next()) return Crashed();
    return ForwardingDriver::Undefine(id);
  }
  absl::Status Destroy(const VmId& id) override {
    if (faults_->Next()) return Crashed();
    return ForwardingDriver::Destroy(id);
  }

 private:
  Faults* faults_;
};

class FaultyHosts : public HostConnector {
 public:
  FaultyHosts(SimHostConnector* inner, Faults* faults)
      : inner_(inner), faults_(faults) {}
  absl::StatusOr<std::shared_ptr<vmm::VmDriver>> Connect(
      const store::Host& host) override {
    NEST_ASSIGN_OR_RETURN(auto d, inner_->Connect(host));
    return std::shared_ptr<vmm::VmDriver>(
        std::make_shared<FaultyDriver>(std::move(d), faults_));
  }

 private:
  SimHostConnector* inner_;
  Faults* faults_;
};

class FaultyAgents : public AgentConnector {
 public:
  FaultyAgents(SimAgentConnector* inner, Faults* faults)
      : inner_(inner), faults_(faults) {}
  absl::StatusOr<std::shared_ptr<agent::AgentApi>> Boot(
      vmm::VmDriver& driver, const vmm::VmSpec& spec) override {
    NEST_ASSIGN_OR_RETURN(auto a, inner_->Boot(driver, spec));
    return Wrap(std::move(a));
  }
  absl::StatusOr<std::shared_ptr<agent::AgentApi>> Attach(
      vmm::VmDriver& driver, const VmId& vm) override {
    NEST_ASSIGN_OR_RETURN(auto a, inner_->Attach(driver, vm));
    return Wrap(std::move(a));
  }

 private:
  std::shared_ptr<agent::AgentApi> Wrap(std::shared_ptr<agent::AgentApi> a) {
    return std::make_shared<FaultyAgent>(std::move(a), faults_);
  }
  SimAgentConnector* inner_;
  Faults* faults_;
};

// One host, group web (1..3 VMs), workloads hello x3 and httpd x2.
struct FaultCluster {
  testing::TempDir dir;
  FakeClock clock;
  Faults faults;
  std::unique_ptr<store::Store> store;
  SimHostConnector sim_hosts{vmm::SimHostConfig{}, clock};
  SimAgentConnector sim_agents;
  FaultyHosts hosts{&sim_hosts, &faults};
  FaultyAgents agents{&sim_agents, &faults};
  SimProvisioner provisioner;
  StaticImageSource images;
  std::unique_ptr<Controller> controller;

  FaultCluster() {
    store = *store::Store::Open({dir.path + "/state.db"}, clock);
    images.Add(
        "img",
        ImageBlob{
            "sha256:" + std::string(64, 'c'), "tar", {"/bin/sh"}, {}, {}, "/"});
    REQUIRE(
        store
            ->Write([](store::WriteTx& tx) -> absl::Status {
              NEST_RETURN_IF_ERROR(testing::SeedHostAndGroup(tx));
              for (auto [name, n] :
                   {std::pair<const char*, int>{"hello", 3}, {"httpd", 2}}) {
                store::Workload w;
                w.tenant = TenantId("default");
                w.name = WorkloadId(name);
                w.image = "img";
                w.replicas = n;
                w.requests = Resources::Of(100, 32, 0);
                w.target_group = GroupId("web");
                NEST_RETURN_IF_ERROR(tx.CreateWorkload(w).status());
              }
              return absl::OkStatus();
            })
            .ok());
    NewController();
  }

  void NewController() {
    controller.reset();
    controller =
        std::make_unique<Controller>(*store, hosts, provisioner, agents, images,
                                     clock, testing::TestControllerOptions());
  }

  void Converge(int passes) {
    for (int i = 0; i < passes; ++i) {
      (void)controller->ReconcileOnce();
      controller->AwaitIdle();
    }
  }

  // Converged, with exactly one of everything.
  void CheckConverged() {
    store::Snapshot s = *store->ReadSnapshot();
    REQUIRE(s.vms.size() == 1);
    CHECK(s.vms[0].observed == store::VmObservedState::kRunning);
    auto domains = *sim_hosts.Host(HostId("h1"))->List(true);
    REQUIRE(domains.size() == 1);
    CHECK(domains[0].id == s.vms[0].id);
    REQUIRE(s.containers.size() == 5);
    for (const auto& c : s.containers) {
      CHECK(c.observed == store::ContainerObservedState::kRunning);
      CHECK(c.vm == s.vms[0].id);
    }
    auto listed = sim_agents.Agent(s.vms[0].id)->ListContainers();
    REQUIRE(listed.ok());
    CHECK(listed->size() == 5);
    for (const auto& info : *listed) {
      CHECK(info.state == agent::ContainerState::kRunning);
    }
  }
};

TEST_CASE("a failure after any single action converges with no duplicates") {
  int64_t total = 0;
  {
    FaultCluster clean;
    clean.Converge(6);
    clean.CheckConverged();
    total = clean.faults.actions();
  }
  REQUIRE(total >= 7);  // create + image + 5 x (create, start) at least
  for (int64_t k = 0; k <= total; ++k) {
    CAPTURE(k);
    FaultCluster c;
    c.faults.Arm(k);
    c.Converge(3);
    // The daemon "restarts": a new controller, nothing carried over but
    // the store, the hosts and the guests.
    c.faults.Disarm();
    c.NewController();
    c.clock.Advance(absl::Seconds(30));
    c.Converge(6);
    c.CheckConverged();
  }
}

}  // namespace
}  // namespace nest::control

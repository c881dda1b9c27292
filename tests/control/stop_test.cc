// Graceful stop of containers that should no longer run: SIGTERM first,
// SIGKILL only once the workload's stop_grace_s has passed, and the
// reconcile loop is never blocked while it waits.
#include <stdlib.h>

#include <csignal>
#include <filesystem>

#include "control/controller.h"
#include "control/sim.h"
#include "doctest/doctest.h"
#include "tests/control/cluster_util.h"
#include "tests/control/forwarding.h"

namespace nest::control {
namespace {

struct Signal {
  std::string id;
  int signal;
  absl::Time at;
};

// A FakeAgent seen through a recorder of every signal sent. With
// `trap_term`, SIGTERM reaches nothing: the process ignores it, as a
// server that never installed a handler for it would.
class RecordingAgent : public ForwardingAgent {
 public:
  RecordingAgent(std::shared_ptr<agent::AgentApi> inner, Clock& clock,
                 std::vector<Signal>* log, absl::Mutex* mu, bool* trap_term)
      : ForwardingAgent(std::move(inner)),
        clock_(clock),
        log_(log),
        mu_(mu),
        trap_term_(trap_term) {}

  absl::Status KillContainer(absl::string_view id, int signal) override {
    bool trapped;
    {
      absl::MutexLock lock(mu_);
      log_->push_back({std::string(id), signal, clock_.Now()});
      trapped = *trap_term_ && signal == SIGTERM;
    }
    if (trapped) return absl::OkStatus();
    return ForwardingAgent::KillContainer(id, signal);
  }

 private:
  Clock& clock_;
  std::vector<Signal>* log_;
  absl::Mutex* mu_;
  bool* trap_term_;
};

// SimAgentConnector whose agents record signals.
class RecordingConnector : public AgentConnector {
 public:
  explicit RecordingConnector(Clock& clock) : clock_(clock) {}
  absl::StatusOr<std::shared_ptr<agent::AgentApi>> Boot(
      vmm::VmDriver& driver, const vmm::VmSpec& spec) override {
    NEST_ASSIGN_OR_RETURN(auto a, inner_.Boot(driver, spec));
    return Wrap(std::move(a));
  }
  absl::StatusOr<std::shared_ptr<agent::AgentApi>> Attach(
      vmm::VmDriver& driver, const VmId& vm) override {
    NEST_ASSIGN_OR_RETURN(auto a, inner_.Attach(driver, vm));
    return Wrap(std::move(a));
  }
  void TrapTerm(bool trap) {
    absl::MutexLock lock(&mu_);
    trap_term_ = trap;
  }
  std::vector<Signal> signals() {
    absl::MutexLock lock(&mu_);
    return log_;
  }
  SimAgentConnector& inner() { return inner_; }

 private:
  std::shared_ptr<agent::AgentApi> Wrap(std::shared_ptr<agent::AgentApi> a) {
    return std::make_shared<RecordingAgent>(std::move(a), clock_, &log_, &mu_,
                                            &trap_term_);
  }
  Clock& clock_;
  SimAgentConnector inner_;
  absl::Mutex mu_;
  std::vector<Signal> log_ ABSL_GUARDED_BY(mu_);
  bool trap_term_ ABSL_GUARDED_BY(mu_) = false;
};

// One host, group web, workload httpd x2 with a 30 s stop grace.
struct StopCluster {
  testing::TempDir dir;
  FakeClock clock;
  std::unique_ptr<store::Store> store;
  SimHostConnector hosts{vmm::SimHostConfig{}, clock};
  RecordingConnector agents{clock};
  SimProvisioner provisioner;
  StaticImageSource images;
  std::unique_ptr<Controller> controller;

  StopCluster() {
    store = *store::Store::Open({dir.path + "/state.db"}, clock);
    images.Add("httpd", testing::HttpdImage());
    REQUIRE(testing::SeedHttpd(*store, 30).ok());
    ControllerOptions opts;
    opts.host_reserved = Resources::Of(0, 0, 0);
    controller = std::make_unique<Controller>(*store, hosts, provisioner,
                                              agents, images, clock, opts);
  }

  void Converge(int passes = 4) {
    for (int i = 0; i < passes; ++i) {
      (void)controller->ReconcileOnce();
      controller->AwaitIdle();
    }
  }

  store::Snapshot Snap() { return *store->ReadSnapshot(); }

  size_t InGuest() {
    store::Snapshot s = Snap();
    REQUIRE(s.vms.size() == 1);
    auto listed = agents.inner().Agent(s.vms[0].id)->ListContainers();
    REQUIRE(listed.ok());
    return listed->size();
  }

  int Count(int signal) {
    int n = 0;
    for (const auto& s : agents.signals()) n += s.signal == signal;
    return n;
  }
};

// Every SIGKILL follows a SIGTERM to the same container by >= `grace`.
void CheckKillsFollowGrace(const std::vector<Signal>& log,
                           absl::Duration grace) {
  for (size_t i = 0; i < log.size(); ++i) {
    if (log[i].signal != SIGKILL) continue;
    bool termed = false;
    for (size_t j = 0; j < i; ++j) {
      if (log[j].id != log[i].id || log[j].signal != SIGTERM) continue;
      termed = true;
      CHECK(log[i].at - log[j].at >= grace);
    }
    CHECK_MESSAGE(termed, "SIGKILL without an earlier SIGTERM to ", log[i].id);
  }
}

absl::Status ScaleTo(store::Store& store, int64_t replicas) {
  return testing::ScaleCarrying(store, "httpd", replicas);
}

TEST_CASE("scale-down: SIGTERM, then SIGKILL only after stop_grace_s") {
  StopCluster c;
  c.Converge();
  REQUIRE(c.InGuest() == 2);
  c.agents.TrapTerm(true);
  REQUIRE(ScaleTo(*c.store, 0).ok());

  c.Converge();
  CHECK(c.Count(SIGTERM) == 2);
  CHECK(c.Count(SIGKILL) == 0);
  CHECK(c.InGuest() == 2);  // still inside their grace period
  CHECK(c.Snap().containers.size() == 2);

  // The wait blocks nothing: other work goes on meanwhile (with a fake
  // clock, a pass that waited would never return at all).
  REQUIRE(c.store
              ->Write([](store::WriteTx& tx) {
                store::Workload w;
                w.tenant = TenantId("default");
                w.name = WorkloadId("side");
                w.image = "httpd";
                w.requests = Resources::Of(100, 32, 0);
                w.target_group = GroupId("web");
                return tx.CreateWorkload(w).status();
              })
              .ok());
  c.Converge();
  CHECK(c.InGuest() == 3);
  CHECK(c.Count(SIGKILL) == 0);

  c.clock.Advance(absl::Seconds(29));
  c.Converge();
  CHECK(c.Count(SIGTERM) == 2);  // asked once, not on every pass
  CHECK(c.Count(SIGKILL) == 0);
  CHECK(c.InGuest() == 3);  // two still in their grace, and "side"

  c.clock.Advance(absl::Seconds(2));
  c.Converge();
  CHECK(c.Count(SIGKILL) == 2);
  CheckKillsFollowGrace(c.agents.signals(), absl::Seconds(30));
  CHECK(c.InGuest() == 1);  // only "side"
  CHECK(c.Snap().containers.size() == 1);
}

TEST_CASE("a container that exits on SIGTERM is never SIGKILLed") {
  StopCluster c;
  c.Converge();
  REQUIRE(ScaleTo(*c.store, 1).ok());
  c.Converge();
  CHECK(c.Count(SIGTERM) == 1);
  CHECK(c.InGuest() == 1);
  CHECK(c.Snap().containers.size() == 1);
  c.clock.Advance(absl::Minutes(5));
  c.Converge();
  CHECK(c.Count(SIGKILL) == 0);
  CHECK(c.InGuest() == 1);
}

TEST_CASE("a deleted workload's containers get their grace period too") {
  StopCluster c;
  c.Converge();
  c.agents.TrapTerm(true);
  // As the API deletes a workload: its rows and itself in one transaction.
  REQUIRE(c.store
              ->Write([](store::WriteTx& tx) -> absl::Status {
                store::ListQuery q;
                q.workload = WorkloadId("httpd");
                NEST_ASSIGN_OR_RETURN(auto page, tx.ListContainers(q));
                for (const auto& row : page.items) {
                  NEST_RETURN_IF_ERROR(tx.DeleteContainer(row.id, 0));
                }
                return tx.DeleteWorkload(TenantId("default"),
                                         WorkloadId("httpd"), 0);
              })
              .ok());
  c.Converge();
  CHECK(c.Count(SIGTERM) == 2);
  CHECK(c.Count(SIGKILL) == 0);
  c.clock.Advance(absl::Seconds(25));
  c.Converge();
  CHECK(c.Count(SIGKILL) == 0);
  CHECK(c.InGuest() == 2);
  c.clock.Advance(absl::Seconds(6));
  c.Converge();
  CHECK(c.Count(SIGKILL) == 2);
  CheckKillsFollowGrace(c.agents.signals(), absl::Seconds(30));
  CHECK(c.InGuest() == 0);
}

}  // namespace
}  // namespace nest::control

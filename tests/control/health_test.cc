// Health checks through the controller (SimDriver, FakeAgent, fake clock):
// the agent is asked to run the workload's check; a replica counts toward
// a rollout only once healthy; an unhealthy one is recorded, stopped and
// restarted under its restart policy.
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "control/controller.h"
#include "control/sim.h"
#include "doctest/doctest.h"
#include "tests/control/cluster_util.h"

namespace nest::control {
namespace {

using store::ContainerHealth;
using store::ContainerObservedState;

struct HealthCluster : testing::SimParts {
  std::unique_ptr<Controller> controller;

  HealthCluster() {
    images.Add("httpd", testing::HttpdImage());
    REQUIRE(testing::SeedHttpd(*store, 1).ok());
    ControllerOptions opts = testing::TestControllerOptions();
    opts.vm_stop_deadline = absl::ZeroDuration();
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

  std::vector<store::Container> Live() {
    std::vector<store::Container> out;
    for (const auto& c : Snap().containers) {
      if (c.desired == store::ContainerDesiredState::kRunning) {
        out.push_back(c);
      }
    }
    return out;
  }

  std::shared_ptr<agent::FakeAgent> AgentOf(const store::Container& c) {
    auto a = agents.Agent(c.vm);
    REQUIRE(a != nullptr);
    return a;
  }

  void SetCheck(const store::HealthCheck& h) {
    REQUIRE(store
                ->Write([&](store::WriteTx& tx) -> absl::Status {
                  NEST_ASSIGN_OR_RETURN(
                      store::Workload w,
                      tx.GetWorkload(TenantId("default"), WorkloadId("httpd")));
                  w.health_check = h;
                  return tx.UpdateWorkload(w, 0).status();
                })
                .ok());
  }

  void NoAutoHealthy() {
    for (const auto& v : Snap().vms) {
      if (auto a = agents.Agent(v.id)) a->SetAutoHealthy(false);
    }
  }
};

store::HealthCheck TcpCheck() {
  store::HealthCheck h;
  h.kind = "tcp";
  h.port = 8080;
  h.period_s = 5;
  h.timeout_s = 1;
  return h;
}

TEST_CASE("a rollout adding a health check waits for healthy replicas") {
  HealthCluster c;
  c.Converge();
  REQUIRE(c.Live().size() == 2);
  std::set<std::string> old;
  for (const auto& ct : c.Live()) {
    CHECK(ct.health == ContainerHealth::kNone);
    old.insert(ct.id.str());
  }
  c.NoAutoHealthy();
  c.SetCheck(TcpCheck());
  c.Converge(8);
  // New replicas run their check but have no verdict: with max_surge 1 and
  // max_unavailable 1, one old replica may go and no more, however many
  // passes run.
  std::vector<store::Container> fresh;
  int old_live = 0;
  for (const auto& ct : c.Live()) {
    if (old.count(ct.id.str())) {
      ++old_live;
      continue;
    }
    fresh.push_back(ct);
  }
  CHECK(old_live == 1);
  REQUIRE(fresh.size() == 2);
  for (const auto& f : fresh) {
    REQUIRE(f.observed == ContainerObservedState::kRunning);
    CHECK(f.health == ContainerHealth::kStarting);
  }
  auto spec = c.AgentOf(fresh[0])->SpecOf(fresh[0].id.str());
  REQUIRE(spec.ok());
  CHECK(spec->health_check.kind == agent::HealthCheck::Kind::kTcp);
  CHECK(spec->health_check.port == 8080);
  CHECK(spec->health_check.period == absl::Seconds(5));

  // Neither serves yet: not ready, and the workload says why it waits.
  // One turns healthy: the last old replica may go.
  REQUIRE(c.AgentOf(fresh[0])
              ->SetHealth(fresh[0].id.str(), agent::Health::kHealthy)
              .ok());
  c.Converge(6);
  std::vector<store::Container> live = c.Live();
  REQUIRE(live.size() == 2);
  for (const auto& ct : live) CHECK_FALSE(old.count(ct.id.str()));
  REQUIRE(c.AgentOf(fresh[1])
              ->SetHealth(fresh[1].id.str(), agent::Health::kHealthy)
              .ok());
  c.Converge(2);
  for (const auto& ct : c.Live()) {
    CHECK(ct.health == ContainerHealth::kHealthy);
  }
}

TEST_CASE("an unhealthy replica is recorded, stopped and restarted") {
  HealthCluster c;
  c.Converge();
  c.SetCheck(TcpCheck());
  // auto_healthy: the rollout to checked replicas completes.
  c.Converge(12);
  std::vector<store::Container> live = c.Live();
  REQUIRE(live.size() == 2);
  for (const auto& ct : live) REQUIRE(ct.health == ContainerHealth::kHealthy);
  const store::Container victim = live[0];
  REQUIRE(c.AgentOf(victim)
              ->SetHealth(victim.id.str(), agent::Health::kUnhealthy,
                          "connect 10.0.0.5:8080: refused")
              .ok());
  c.Converge(3);
  store::Container now;
  for (const auto& ct : c.Snap().containers) {
    if (ct.id == victim.id) now = ct;
  }
  // Stopped (SIGTERM ends a FakeAgent container), recorded as failed with
  // the reason kept in an event.
  CHECK(now.observed != ContainerObservedState::kRunning);
  store::EventQuery q;
  q.tenant = TenantId("default");
  q.kind = "container";
  q.name = victim.id.str();
  auto events = c.store->EventsSince(q);
  REQUIRE(events.ok());
  bool unhealthy = false;
  for (const auto& e : *events) {
    if (e.reason == "Unhealthy") {
      unhealthy = true;
      CHECK(e.message.find("refused") != std::string::npos);
    }
  }
  CHECK(unhealthy);
  // restart_policy always: back after the back-off, checked again.
  c.clock.Advance(absl::Seconds(2));
  c.Converge(4);
  for (const auto& ct : c.Snap().containers) {
    if (ct.id != victim.id) continue;
    CHECK(ct.observed == ContainerObservedState::kRunning);
    CHECK(ct.restarts == 1);
    CHECK(ct.health == ContainerHealth::kHealthy);  // auto_healthy
  }
}

}  // namespace
}  // namespace nest::control

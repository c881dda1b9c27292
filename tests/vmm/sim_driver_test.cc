#include "vmm/sim_driver.h"

#include <thread>
#include <vector>

#include "doctest/doctest.h"
#include "vmm/boot.h"

namespace nest::vmm {
namespace {

VmSpec Spec(const std::string& id, int vcpus = 1, int64_t mib = 256) {
  VmSpec s;
  s.id = VmId(id);
  s.tenant = TenantId("t");
  s.vcpus = vcpus;
  s.memory_mib = mib;
  s.kernel_path = "/k";
  return s;
}

struct Recorder {
  std::vector<LifecycleEvent> events;
  EventCallback cb() {
    return [this](const LifecycleEvent& e) { events.push_back(e); };
  }
  int Count(LifecycleKind k) {
    int n = 0;
    for (auto& e : events) n += e.kind == k;
    return n;
  }
};

TEST_CASE("sim: lifecycle, events and no duplicates") {
  SimDriver d(SimHostConfig{});
  Recorder r;
  d.AddListener(r.cb());
  REQUIRE(d.Create(Spec("a")).ok());
  CHECK(absl::IsAlreadyExists(d.Create(Spec("a"))));
  CHECK(*d.GetState(VmId("a")) == VmState::kRunning);
  CHECK(r.Count(LifecycleKind::kStarted) == 1);
  REQUIRE(d.Pause(VmId("a")).ok());
  CHECK(*d.GetState(VmId("a")) == VmState::kPaused);
  REQUIRE(d.Resume(VmId("a")).ok());
  REQUIRE(d.Destroy(VmId("a")).ok());
  CHECK(*d.GetState(VmId("a")) == VmState::kStopped);
  CHECK(r.Count(LifecycleKind::kStopped) == 1);
  REQUIRE(d.Start(VmId("a")).ok());
  REQUIRE(d.Undefine(VmId("a")).ok());
  CHECK(absl::IsNotFound(d.GetState(VmId("a")).status()));
  CHECK(r.Count(LifecycleKind::kUndefined) == 1);
  CHECK(d.List(true)->empty());
}

TEST_CASE("sim: capacity is enforced and released") {
  SimDriver d(SimHostConfig{"h", 2, 1024});
  REQUIRE(d.Create(Spec("a", 1, 512)).ok());
  REQUIRE(d.Create(Spec("b", 1, 512)).ok());
  auto st = d.Create(Spec("c", 1, 256));
  CHECK(absl::IsResourceExhausted(st));
  CHECK(d.used_vcpus() == 2);
  REQUIRE(d.Destroy(VmId("a")).ok());
  CHECK(d.used_memory_mib() == 512);
  CHECK(d.Create(Spec("c", 1, 256)).ok());
  CHECK(d.GetHostFacts()->free_memory_mib == 1024 - 768);
}

TEST_CASE("sim: vCPUs overcommit up to the ratio, memory never") {
  SimHostConfig cfg{"h", 2, 4096};
  cfg.cpu_overcommit = 2.0;
  SimDriver d(cfg);
  REQUIRE(d.Create(Spec("a", 2, 256)).ok());
  REQUIRE(d.Create(Spec("b", 2, 256)).ok());  // 4 vCPUs on 2 CPUs
  auto st = d.Create(Spec("c", 1, 256));
  CHECK(absl::IsResourceExhausted(st));
  CHECK(st.message().find("2 CPUs x 2") != absl::string_view::npos);
  CHECK(d.used_vcpus() == 4);
}

TEST_CASE("sim: graceful shutdown through the channel vs forced") {
  SimDriver d(SimHostConfig{});
  REQUIRE(d.Create(Spec("a")).ok());
  auto ch = WaitReady(d, VmId("a"), absl::Now() + absl::Seconds(5));
  REQUIRE(ch.ok());
  char c = 0;
  REQUIRE(*(*ch)->Read(&c, 1, absl::Now() + absl::Seconds(1)) == 1);
  CHECK(c == 'H');  // the hello byte is replayed to the next reader
  auto path = d.Shutdown(VmId("a"), absl::Now() + absl::Seconds(5),
                         [&] { return (*ch)->Write("poweroff\n", 9); });
  REQUIRE(path.ok());
  CHECK(*path == ShutdownPath::kGraceful);
  CHECK(*d.GetState(VmId("a")) == VmState::kStopped);

  REQUIRE(d.Start(VmId("a")).ok());
  FakeClock clock;
  SimDriver slow(SimHostConfig{}, clock);
  REQUIRE(slow.Create(Spec("b")).ok());
  absl::Time deadline = clock.Now() + absl::Seconds(10);
  std::thread t([&] {
    clock.AwaitSleepers(1);
    clock.Advance(absl::Seconds(10));
  });
  // The guest ignores the request: only the deadline stops it.
  auto forced =
      slow.Shutdown(VmId("b"), deadline, [] { return absl::OkStatus(); });
  t.join();
  REQUIRE(forced.ok());
  CHECK(*forced == ShutdownPath::kForced);
  CHECK(*slow.Shutdown(VmId("b"), deadline, nullptr) ==
        ShutdownPath::kAlreadyStopped);
}

TEST_CASE("sim: faults") {
  SimDriver d(SimHostConfig{});
  Recorder r;
  d.AddListener(r.cb());
  d.FailNextCreates(1, absl::InternalError("injected"));
  CHECK(absl::IsInternal(d.Create(Spec("a"))));
  CHECK(d.List(false)->empty());
  REQUIRE(d.Create(Spec("a")).ok());
  REQUIRE(d.CrashVm(VmId("a")).ok());
  CHECK(*d.GetState(VmId("a")) == VmState::kStopped);
  CHECK(r.Count(LifecycleKind::kCrashed) == 1);
  VmSpec restart = Spec("b");
  restart.on_crash = CrashPolicy::kRestart;
  REQUIRE(d.Create(restart).ok());
  REQUIRE(d.CrashVm(VmId("b")).ok());
  CHECK(*d.GetState(VmId("b")) == VmState::kRunning);

  d.SetHostDown(true, /*lose_vms=*/true);
  CHECK(absl::IsUnavailable(d.GetState(VmId("b")).status()));
  CHECK(absl::IsUnavailable(d.List(false).status()));
  d.SetHostDown(false);
  CHECK(d.List(false)->empty());
  CHECK(d.used_vcpus() == 0);
}

TEST_CASE("sim: foreign VMs are listed and never touched") {
  SimDriver d(SimHostConfig{});
  d.AddForeignVm("nest-intruder");
  auto all = d.List(true);
  REQUIRE(all->size() == 1);
  CHECK_FALSE((*all)[0].owned);
  CHECK(d.List(false)->empty());
  CHECK(absl::IsFailedPrecondition(d.Destroy(VmId("intruder"))));
  CHECK(absl::IsFailedPrecondition(d.Undefine(VmId("intruder"))));
  CHECK(absl::IsAlreadyExists(d.Create(Spec("intruder"))));
}

TEST_CASE("BootVm retries a silent guest and counts it") {
  SimDriver d(SimHostConfig{});
  d.SetBootHang(true);
  BootCounters& c = GlobalBootCounters();
  int64_t retries0 = c.retries, failures0 = c.failures, boots0 = c.boots;
  BootOptions o;
  o.ready_timeout = absl::Milliseconds(30);
  o.max_retries = 2;
  auto r = BootVm(d, Spec("a"), o);
  CHECK(absl::IsDeadlineExceeded(r.status()));
  CHECK(c.retries - retries0 == 2);
  CHECK(c.failures - failures0 == 1);
  CHECK(d.List(false)->empty());  // nothing left defined

  d.SetBootHang(false);
  auto ok = BootVm(d, Spec("b"), o);
  REQUIRE(ok.ok());
  CHECK(ok->attempts == 1);
  CHECK(c.boots - boots0 == 1);
  char h = 0;
  CHECK(*ok->channel->Read(&h, 1, absl::Now() + absl::Seconds(1)) == 1);
  CHECK(h == 'H');
}

TEST_CASE("sim: 10,000 hosts are cheap") {
  std::vector<std::unique_ptr<SimDriver>> hosts;
  for (int i = 0; i < 10000; ++i) {
    hosts.push_back(std::make_unique<SimDriver>(
        SimHostConfig{"h" + std::to_string(i), 8, 16384}));
  }
  for (int i = 0; i < 10000; ++i) {
    REQUIRE(hosts[i]->Create(Spec("vm-" + std::to_string(i))).ok());
  }
  int64_t total = 0;
  for (auto& h : hosts) total += h->List(false)->size();
  CHECK(total == 10000);
}

}  // namespace
}  // namespace nest::vmm

// Tier 3: real libvirtd + QEMU (TCG here, through accel=auto). Root only.
// One microVM is reused across the checks to keep the tier to three boots:
// the KVM probe, the VM, and its restart for the forced-destroy check.
// The daemon is a private libvirtd (tests/vmm/private_libvirtd.h) so the
// kill/restart check never disturbs anyone else's libvirtd.
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "doctest/doctest.h"
#include "images/guest/exec.h"
#include "tests/vmm/e2e_env.h"
#include "tests/vmm/private_libvirtd.h"
#include "vmm/boot.h"
#include "vmm/libvirt_bootstrap.h"
#include "vmm/libvirt_driver.h"

namespace nest::vmm {
namespace {
namespace fs = std::filesystem;

class Events {
 public:
  EventCallback cb() {
    return [this](const LifecycleEvent& e) {
      absl::MutexLock l(&mu_);
      events_.push_back(e);
    };
  }
  bool WaitFor(const VmId& id, LifecycleKind kind, absl::Duration timeout) {
    absl::MutexLock l(&mu_);
    auto seen = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      for (auto& e : events_) {
        if (e.id == id && e.kind == kind) return true;
      }
      return false;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  }
  void Clear() {
    absl::MutexLock l(&mu_);
    events_.clear();
  }

 private:
  absl::Mutex mu_;
  std::vector<LifecycleEvent> events_ ABSL_GUARDED_BY(mu_);
};

// Undefines the VM even when a CHECK fails half-way.
struct VmGuard {
  VmDriver* d;
  VmId id;
  ~VmGuard() { (void)d->Undefine(id); }
};

int CountDomains(const std::string& uri, const std::string& name) {
  auto out = images::guest_internal::ExecOk(
      {"virsh", "-c", uri, "list", "--all", "--name"});
  if (!out.ok()) return -1;
  int n = 0;
  size_t pos = 0;
  while ((pos = out->find(name, pos)) != std::string::npos) {
    ++n;
    pos += name.size();
  }
  return n;
}

TEST_CASE("e2e: microVM lifecycle on real libvirtd + QEMU") {
  if (geteuid() != 0) {
    MESSAGE("e2e needs root; skipped");
    return;
  }
  absl::Time t0 = absl::Now();
  // The bootstrap helper, against the host's own daemon.
  REQUIRE(EnsureLibvirtd("qemu:///system").ok());

  testenv::TestDir dir;
  REQUIRE_FALSE(dir.path().empty());
  auto set = testenv::BuildAgentBootSet(dir.path() + "/guest");
  REQUIRE(set.ok());
  auto daemon = testenv::PrivateLibvirtd::Start(dir.path() + "/libvirtd");
  REQUIRE(daemon.ok());
  const std::string uri = (*daemon)->uri();

  LibvirtOptions o;
  o.uri = uri;
  o.accel = Accel::kAuto;
  o.probe_kernel = set->kernel_path;
  o.probe_initrd = set->initrd_path;
  o.probe_timeout = absl::Seconds(10);
  auto opened = LibvirtDriver::Open(o);
  REQUIRE(opened.ok());
  LibvirtDriver& d = **opened;
  Events ev;
  d.AddListener(ev.cb());
  auto accel = d.ResolvedAccel();
  REQUIRE(accel.ok());
  MESSAGE("accel=auto resolved to " << AccelName(*accel));

  // A raw ext4 data disk, so the init's /dev/vda mount is exercised.
  std::string disk = dir.path() + "/data.img";
  REQUIRE(images::guest_internal::ExecOk({"truncate", "-s", "64M", disk}).ok());
  REQUIRE(images::guest_internal::ExecOk({"mkfs.ext4", "-q", "-F", disk}).ok());

  VmSpec spec;
  spec.id = VmId(absl::StrCat("e2e-", getpid()));
  spec.tenant = TenantId("e2e");
  spec.memory_mib = 256;
  spec.kernel_path = set->kernel_path;
  spec.initrd_path = set->initrd_path;
  spec.data_disk = DiskSpec{disk, "raw", false};
  spec.console_log_path = dir.path() + "/console.log";
  VmGuard guard{&d, spec.id};
  const std::string name = DomainName(spec.id);

  BootOptions bo;
  bo.ready_timeout = absl::Seconds(90);  // TCG on a loaded 2-core host
  bo.max_retries = 2;
  int64_t retries0 = GlobalBootCounters().retries;
  auto boot = BootVm(d, spec, bo);
  REQUIRE_MESSAGE(boot.ok(), boot.status().ToString());
  MESSAGE("boot: create-to-ready "
          << absl::FormatDuration(boot->create_to_ready) << ", attempts "
          << boot->attempts << ", boot retries this run: "
          << GlobalBootCounters().retries - retries0);
  CHECK(ev.WaitFor(spec.id, LifecycleKind::kStarted, absl::Seconds(10)));
  CHECK(*d.GetState(spec.id) == VmState::kRunning);

  // The hello byte is replayed; the channel works both ways; the default
  // init mounted the data disk before starting the (stand-in) agent.
  ByteStream& ch = *boot->channel;
  char hello = 0;
  REQUIRE(*ch.Read(&hello, 1, absl::Now() + absl::Seconds(1)) == 1);
  CHECK(hello == 'H');
  REQUIRE(ch.Write("ping\n", 5).ok());
  auto pong = testenv::ReadLine(ch, absl::Now() + absl::Seconds(30));
  REQUIRE(pong.ok());
  CHECK(*pong == "pong mounted");

  auto stats = d.GetStats(spec.id);
  REQUIRE(stats.ok());
  CHECK(stats->cpu_time_ns > 0);
  CHECK(stats->memory_kib == 256 * 1024);
  auto facts = d.GetHostFacts();
  REQUIRE(facts.ok());
  CHECK(facts->cpus > 0);
  CHECK(facts->accel == *accel);
  boot->channel->Close();

  // libvirtd dies while the VM runs, and comes back.
  int64_t gen = d.connection_generation();
  REQUIRE((*daemon)->Kill().ok());
  REQUIRE((*daemon)->Restart().ok());
  absl::Time deadline = absl::Now() + absl::Seconds(60);
  while ((d.connection_generation() == gen || !d.IsConnected()) &&
         absl::Now() < deadline) {
    absl::SleepFor(absl::Milliseconds(50));  // polling a condition
  }
  REQUIRE(d.connection_generation() > gen);
  auto owned = d.List(false);
  REQUIRE(owned.ok());
  int mine = 0;
  for (const auto& vm : *owned) {
    if (vm.id == spec.id) {
      ++mine;
      CHECK(vm.owned);
      CHECK(vm.state == VmState::kRunning);
      CHECK(vm.tenant == TenantId("e2e"));
    }
  }
  CHECK(mine == 1);
  CHECK(absl::IsAlreadyExists(d.Create(spec)));
  CHECK(CountDomains(uri, name) == 1);

  // Graceful: the guest powers off on request, before the deadline.
  auto ch2 = d.OpenChannel(spec.id, kAgentChannel);
  REQUIRE(ch2.ok());
  ev.Clear();
  absl::Time asked = absl::Now();
  auto graceful = d.Shutdown(spec.id, absl::Now() + absl::Seconds(60),
                             [&] { return (*ch2)->Write("poweroff\n", 9); });
  REQUIRE(graceful.ok());
  CHECK(*graceful == ShutdownPath::kGraceful);
  MESSAGE("graceful stop took " << absl::FormatDuration(absl::Now() - asked));
  CHECK(ev.WaitFor(spec.id, LifecycleKind::kStopped, absl::Seconds(10)));
  (*ch2)->Close();

  // Forced: a guest that ignores the request is destroyed at the deadline
  // and reported as such.
  REQUIRE(d.Start(spec.id).ok());
  CHECK(ev.WaitFor(spec.id, LifecycleKind::kStarted, absl::Seconds(10)));
  ev.Clear();
  auto forced = d.Shutdown(spec.id, absl::Now() + absl::Seconds(2),
                           [] { return absl::OkStatus(); });
  REQUIRE(forced.ok());
  CHECK(*forced == ShutdownPath::kForced);
  CHECK(ev.WaitFor(spec.id, LifecycleKind::kStopped, absl::Seconds(10)));

  // Nothing left behind.
  REQUIRE(fs::exists(spec.console_log_path));
  REQUIRE(d.Undefine(spec.id).ok());
  CHECK(CountDomains(uri, name) == 0);
  CHECK_FALSE(fs::exists(spec.console_log_path));
  auto all = d.List(true);
  REQUIRE(all.ok());
  for (const auto& vm : *all) CHECK(vm.name.rfind("nest-accel-probe", 0) != 0);
  MESSAGE("e2e tier took " << absl::FormatDuration(absl::Now() - t0));
}

}  // namespace
}  // namespace nest::vmm

// Tier 2: LibvirtDriver against libvirt's test:///default driver (in
// process, no daemon, no QEMU). The test driver's state is shared by every
// connection in the process while one is open, which lets a raw connection
// play "someone else" and a second driver instance play "after a restart".
#include "vmm/libvirt_driver.h"

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <vector>

#include "absl/synchronization/mutex.h"
#include "doctest/doctest.h"

namespace nest::vmm {
namespace {

constexpr char kUri[] = "test:///default";

VmSpec Spec(const std::string& id) {
  VmSpec s;
  s.id = VmId(id);
  s.tenant = TenantId("acme");
  s.group = GroupId("web");
  s.kernel_path = "/var/lib/nest/k/vmlinuz";
  s.initrd_path = "/var/lib/nest/k/initrd";
  return s;
}

std::unique_ptr<LibvirtDriver> OpenDriver() {
  LibvirtOptions o;
  o.uri = kUri;
  auto d = LibvirtDriver::Open(o);
  REQUIRE(d.ok());
  return std::move(*d);
}

// A plain libvirt connection: the "other tool" on the host.
struct RawConn {
  RawConn() : c(virConnectOpen(kUri)) { REQUIRE(c != nullptr); }
  ~RawConn() { virConnectClose(c); }
  void DefineForeign(const std::string& name, const std::string& metadata) {
    std::string xml =
        "<domain type='test'><name>" + name + "</name>" + metadata +
        "<memory unit='MiB'>64</memory><os><type>hvm</type></os></domain>";
    virDomainPtr d = virDomainDefineXML(c, xml.c_str());
    REQUIRE(d != nullptr);
    REQUIRE(virDomainCreate(d) == 0);
    virDomainFree(d);
  }
  int State(const std::string& name) {
    virDomainPtr d = virDomainLookupByName(c, name.c_str());
    if (d == nullptr) return -1;
    int st = 0, reason = 0;
    virDomainGetState(d, &st, &reason, 0);
    virDomainFree(d);
    return st;
  }
  void Remove(const std::string& name) {
    virDomainPtr d = virDomainLookupByName(c, name.c_str());
    if (d == nullptr) return;
    virDomainDestroy(d);
    virDomainUndefine(d);
    virDomainFree(d);
  }
  virConnectPtr c;
};

// Collects events; waits for them with a deadline instead of sleeping.
class Events {
 public:
  EventCallback cb() {
    return [this](const LifecycleEvent& e) {
      absl::MutexLock l(&mu_);
      events_.push_back(e);
    };
  }
  bool WaitFor(const VmId& id, LifecycleKind kind,
               absl::Duration timeout = absl::Seconds(10)) {
    absl::MutexLock l(&mu_);
    auto seen = [&]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
      for (auto& e : events_) {
        if (e.id == id && e.kind == kind) return true;
      }
      return false;
    };
    return mu_.AwaitWithTimeout(absl::Condition(&seen), timeout);
  }

 private:
  absl::Mutex mu_;
  std::vector<LifecycleEvent> events_ ABSL_GUARDED_BY(mu_);
};

TEST_CASE(
    "define, start, pause, stop, undefine with state mapping and events") {
  RawConn raw;
  Events ev;  // declared first: destroyed after the driver that feeds it
  auto d = OpenDriver();
  d->AddListener(ev.cb());
  VmId id("life");
  REQUIRE(d->Create(Spec("life")).ok());
  CHECK(*d->GetState(id) == VmState::kRunning);
  CHECK(ev.WaitFor(id, LifecycleKind::kStarted));
  CHECK(absl::IsAlreadyExists(d->Create(Spec("life"))));

  REQUIRE(d->Pause(id).ok());
  CHECK(*d->GetState(id) == VmState::kPaused);
  CHECK(ev.WaitFor(id, LifecycleKind::kPaused));
  REQUIRE(d->Resume(id).ok());
  CHECK(*d->GetState(id) == VmState::kRunning);

  auto stats = d->GetStats(id);
  REQUIRE(stats.ok());
  CHECK(stats->vcpus == 1);
  CHECK(stats->memory_kib > 0);

  REQUIRE(d->Destroy(id).ok());
  CHECK(*d->GetState(id) == VmState::kStopped);
  CHECK(ev.WaitFor(id, LifecycleKind::kStopped));
  CHECK(d->Destroy(id).ok());  // idempotent
  REQUIRE(d->Start(id).ok());
  CHECK(*d->GetState(id) == VmState::kRunning);

  REQUIRE(d->Undefine(id).ok());
  CHECK(absl::IsNotFound(d->GetState(id).status()));
  CHECK(raw.State("nest-life") == -1);
  CHECK(ev.WaitFor(id, LifecycleKind::kUndefined));
}

TEST_CASE("shutdown reports graceful vs forced") {
  RawConn raw;
  auto d = OpenDriver();
  VmId id("stopme");
  REQUIRE(d->Create(Spec("stopme")).ok());
  // The "guest" obeys: the test driver shuts down at once.
  auto graceful = d->Shutdown(id, absl::Now() + absl::Seconds(5), [&] {
    virDomainPtr dom = virDomainLookupByName(raw.c, "nest-stopme");
    int rc = virDomainShutdown(dom);
    virDomainFree(dom);
    return rc == 0 ? absl::OkStatus() : absl::InternalError("shutdown");
  });
  REQUIRE(graceful.ok());
  CHECK(*graceful == ShutdownPath::kGraceful);
  CHECK(*d->Shutdown(id, absl::Now(), nullptr) ==
        ShutdownPath::kAlreadyStopped);

  REQUIRE(d->Start(id).ok());
  // The "guest" ignores the request: destroyed at the deadline.
  absl::Time start = absl::Now();
  auto forced = d->Shutdown(id, absl::Now() + absl::Milliseconds(300),
                            [] { return absl::OkStatus(); });
  REQUIRE(forced.ok());
  CHECK(*forced == ShutdownPath::kForced);
  CHECK(absl::Now() - start >= absl::Milliseconds(300));
  CHECK(*d->GetState(id) == VmState::kStopped);
  // A failed request goes straight to destroy.
  REQUIRE(d->Start(id).ok());
  auto failed = d->Shutdown(id, absl::Now() + absl::Seconds(30),
                            [] { return absl::UnavailableError("no agent"); });
  CHECK(*failed == ShutdownPath::kForced);
  REQUIRE(d->Undefine(id).ok());
}

TEST_CASE("foreign domains are listed and never touched") {
  RawConn raw;
  raw.DefineForeign("nest-foreign", "");
  // Carries Nest's namespace but another VM's id: an impostor.
  raw.DefineForeign(
      "nest-impostor",
      "<metadata><nest:vm xmlns:nest='https://nest.dev/xmlns/vm/1'>"
      "<nest:id>someone-else</nest:id></nest:vm></metadata>");
  auto d = OpenDriver();
  auto all = d->List(true);
  REQUIRE(all.ok());
  int foreign = 0;
  for (auto& vm : *all) {
    if (vm.name == "nest-foreign" || vm.name == "nest-impostor" ||
        vm.name == "test") {
      CHECK_FALSE(vm.owned);
      ++foreign;
    }
  }
  CHECK(foreign == 3);  // "test" ships with test:///default
  auto owned_only = d->List(false);
  REQUIRE(owned_only.ok());
  for (auto& vm : *owned_only) CHECK(vm.owned);

  for (const char* id : {"foreign", "impostor"}) {
    VmId v(id);
    CHECK(absl::IsFailedPrecondition(d->Destroy(v)));
    CHECK(absl::IsFailedPrecondition(d->Undefine(v)));
    CHECK(absl::IsFailedPrecondition(d->Pause(v)));
    CHECK(absl::IsFailedPrecondition(
        d->Shutdown(v, absl::Now(), nullptr).status()));
    CHECK(absl::IsAlreadyExists(d->Create(Spec(id))));
    CHECK(raw.State(std::string("nest-") + id) == VIR_DOMAIN_RUNNING);
  }
  CHECK(raw.State("test") == VIR_DOMAIN_RUNNING);
  raw.Remove("nest-foreign");
  raw.Remove("nest-impostor");
}

TEST_CASE("a fresh driver re-adopts Nest domains from their metadata") {
  RawConn raw;
  Events ev;  // declared first: destroyed after the driver that feeds it
  auto first = OpenDriver();
  REQUIRE(first->Create(Spec("adopt-me")).ok());
  first.reset();  // nestd restarts

  auto second = OpenDriver();
  second->AddListener(ev.cb());
  auto owned = second->List(false);
  REQUIRE(owned.ok());
  int found = 0;
  for (auto& vm : *owned) {
    if (vm.id == VmId("adopt-me")) {
      ++found;
      CHECK(vm.owned);
      CHECK(vm.tenant == TenantId("acme"));
      CHECK(vm.group == GroupId("web"));
      CHECK(vm.state == VmState::kRunning);
    }
  }
  CHECK(found == 1);
  CHECK(absl::IsAlreadyExists(second->Create(Spec("adopt-me"))));
  // Adopted domains deliver events to the new driver.
  REQUIRE(second->Destroy(VmId("adopt-me")).ok());
  CHECK(ev.WaitFor(VmId("adopt-me"), LifecycleKind::kStopped));
  REQUIRE(second->Undefine(VmId("adopt-me")).ok());
  CHECK(raw.State("nest-adopt-me") == -1);
}

TEST_CASE("host facts and unsupported channel") {
  RawConn raw;
  auto d = OpenDriver();
  auto f = d->GetHostFacts();
  REQUIRE(f.ok());
  CHECK_FALSE(f->hostname.empty());
  CHECK(f->cpus > 0);
  CHECK(f->memory_mib > 0);
  CHECK(f->accel == Accel::kTcg);
  CHECK(d->IsConnected());
  CHECK(d->connection_generation() == 1);
  REQUIRE(d->Create(Spec("chan")).ok());
  CHECK_FALSE(d->OpenChannel(VmId("chan"), kAgentChannel).ok());
  CHECK(absl::IsNotFound(d->OpenChannel(VmId("nope"), kAgentChannel).status()));
  REQUIRE(d->Undefine(VmId("chan")).ok());
  CHECK(absl::IsNotFound(d->Undefine(VmId("chan"))));
}

TEST_CASE("an unreachable URI fails with UNAVAILABLE") {
  LibvirtOptions o;
  o.uri = "qemu+unix:///system?socket=/nonexistent/libvirt-sock";
  auto d = LibvirtDriver::Open(o);
  CHECK(absl::IsUnavailable(d.status()));
}

}  // namespace
}  // namespace nest::vmm

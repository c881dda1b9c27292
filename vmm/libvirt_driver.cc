#include "vmm/libvirt_driver.h"

#include <unistd.h>

#include <map>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/mutex.h"
#include "spdlog/spdlog.h"
#include "vmm/domain_xml.h"
#include "vmm/libvirt_util.h"
#include "vmm/libvirt_volumes.h"

namespace nest::vmm {

using internal::ConnPtr;
using internal::CString;
using internal::DomainPtr;
using internal::LibvirtError;
using internal::MapState;
using internal::StreamPtr;

class LibvirtDriver::Impl {
 public:
  explicit Impl(LibvirtOptions o)
      : o_(std::move(o)), clock_(o_.clock ? *o_.clock : RealClock()) {}

  ~Impl() {
    {
      absl::MutexLock l(&mu_);
      stopping_ = true;
    }
    if (reconnector_.joinable()) reconnector_.join();
    ConnPtr old;
    int cb = -1;
    {
      absl::MutexLock l(&mu_);
      old = std::move(conn_);
      cb = lifecycle_cb_;
    }
    if (old) Detach(old.get(), cb);
    old.reset();
    // libvirt releases a deregistered callback only once no dispatch is
    // using it, and says so through its free callback: until every one of
    // ours is released, the event thread may still call into `this`.
    absl::MutexLock l(&callbacks_mu_);
    auto released = [this]() ABSL_SHARED_LOCKS_REQUIRED(callbacks_mu_) {
      return live_callbacks_ == 0;
    };
    if (!callbacks_mu_.AwaitWithTimeout(absl::Condition(&released),
                                        absl::Seconds(10))) {
      spdlog::error("libvirt kept {} event callback(s) of {} past shutdown",
                    live_callbacks_, o_.uri);
    }
  }

  // The free callback of every registration: see ~Impl.
  static void OnCallbackReleased(void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    absl::MutexLock l(&self->callbacks_mu_);
    --self->live_callbacks_;
  }
  void CountCallback(int delta) {
    absl::MutexLock l(&callbacks_mu_);
    live_callbacks_ += delta;
  }

  absl::Status Connect() {
    internal::EnsureEventLoop();
    ConnPtr conn(virConnectOpen(o_.uri.c_str()));
    if (!conn) return LibvirtError(absl::StrCat("connect to ", o_.uri));
    // Unsupported by local/test drivers (returns 1); remote ones use it to
    // notice a dead peer.
    virConnectSetKeepAlive(
        conn.get(),
        static_cast<int>(absl::ToInt64Seconds(o_.keepalive_interval)),
        o_.keepalive_count);
    virResetLastError();
    // Close callbacks run under the lock that unregistering takes, so
    // unregistering is enough. Lifecycle callbacks are not: see ~Impl.
    if (virConnectRegisterCloseCallback(conn.get(), &OnClose, this, nullptr) <
        0) {
      virResetLastError();  // not every driver has close callbacks
    }
    // Counted before registering: libvirt may release it (and call
    // OnCallbackReleased) at any time after a successful registration.
    CountCallback(1);
    int cb = virConnectDomainEventRegisterAny(
        conn.get(), nullptr, VIR_DOMAIN_EVENT_ID_LIFECYCLE,
        VIR_DOMAIN_EVENT_CALLBACK(&OnLifecycle), this, &OnCallbackReleased);
    if (cb < 0) {
      CountCallback(-1);
      auto st = LibvirtError("register lifecycle events");
      virConnectUnregisterCloseCallback(conn.get(), &OnClose);
      return st;
    }
    virConnectRef(conn.get());
    ConnPtr ref(conn.get());
    ConnPtr old;
    int old_cb = -1;
    bool emit = false;
    {
      absl::MutexLock l(&mu_);
      old = std::move(conn_);
      old_cb = lifecycle_cb_;
      conn_ = std::move(conn);
      lifecycle_cb_ = cb;
      emit = generation_ > 0;
      ++generation_;
      alive_ = true;
      need_reconnect_ = false;
    }
    if (old) Detach(old.get(), old_cb);
    Resync(ref.get(), emit);
    return absl::OkStatus();
  }

  void StartReconnector() {
    reconnector_ = std::thread([this] { ReconnectLoop(); });
  }

  // A counted reference to the live connection, or UNAVAILABLE.
  absl::StatusOr<ConnPtr> Conn() {
    absl::MutexLock l(&mu_);
    if (!conn_ || !alive_) {
      need_reconnect_ = true;
      return absl::UnavailableError(
          absl::StrCat("not connected to ", o_.uri, "; reconnecting"));
    }
    virConnectRef(conn_.get());
    return ConnPtr(conn_.get());
  }

  // Looks up the domain of `id` and proves Nest owns it.
  absl::StatusOr<DomainPtr> Lookup(virConnectPtr conn, const VmId& id) {
    std::string name = DomainName(id);
    DomainPtr dom(virDomainLookupByName(conn, name.c_str()));
    if (!dom) {
      auto st = LibvirtError(absl::StrCat("vm ", id.str()));
      NoteError(st);
      return st;
    }
    NEST_RETURN_IF_ERROR(CheckOwned(dom.get(), id).status());
    return dom;
  }

  absl::StatusOr<NestMetadata> CheckOwned(virDomainPtr dom, const VmId& id) {
    auto md = Metadata(dom);
    if (!md.ok() || md->id != id) {
      return absl::FailedPreconditionError(
          absl::StrCat("domain ", virDomainGetName(dom),
                       " is not owned by Nest (no matching metadata in ",
                       kNestXmlNs, "); refusing to touch it"));
    }
    return md;
  }

  static absl::StatusOr<NestMetadata> Metadata(virDomainPtr dom) {
    CString xml(
        virDomainGetMetadata(dom, VIR_DOMAIN_METADATA_ELEMENT, kNestXmlNs, 0));
    if (!xml) return LibvirtError("metadata");
    return ParseMetadataXml(xml.get());
  }

  absl::StatusOr<Accel> ResolvedAccel() {
    {
      absl::MutexLock l(&mu_);
      if (accel_) return *accel_;
    }
    Accel a = o_.accel;
    if (a == Accel::kAuto) {
      NEST_ASSIGN_OR_RETURN(ConnPtr conn, Conn());
      a = internal::ResolveAutoAccel(conn.get(), o_);
    }
    absl::MutexLock l(&mu_);
    accel_ = a;
    return a;
  }

  absl::Status Create(const VmSpec& spec) {
    NEST_RETURN_IF_ERROR(ValidateVmSpec(spec));
    NEST_ASSIGN_OR_RETURN(Accel accel, ResolvedAccel());
    NEST_ASSIGN_OR_RETURN(std::string xml, BuildDomainXml(spec, accel));
    NEST_ASSIGN_OR_RETURN(ConnPtr conn, Conn());
    std::string name = DomainName(spec.id);
    if (DomainPtr existing{virDomainLookupByName(conn.get(), name.c_str())}) {
      bool owned = CheckOwned(existing.get(), spec.id).ok();
      return absl::AlreadyExistsError(
          owned ? absl::StrCat("vm ", spec.id.str(), " already exists")
                : absl::StrCat("domain ", name,
                               " exists and is not Nest's; refusing to "
                               "replace it"));
    }
    virResetLastError();
    {
      // Known before the define so its lifecycle events map to the id.
      absl::MutexLock l(&mu_);
      known_[name] = Known{spec.id, VmState::kStopped};
    }
    DomainPtr dom(virDomainDefineXML(conn.get(), xml.c_str()));
    if (!dom) {
      auto st = LibvirtError(absl::StrCat("define vm ", spec.id.str()));
      Forget(name);
      return st;
    }
    if (virDomainCreate(dom.get()) < 0) {
      auto st = LibvirtError(absl::StrCat("start vm ", spec.id.str()));
      virDomainUndefine(dom.get());
      virResetLastError();
      Forget(name);
      return st;
    }
    return absl::OkStatus();
  }

  template <typename Fn>
  absl::Status WithDomain(const VmId& id, Fn fn) {
    NEST_ASSIGN_OR_RETURN(ConnPtr conn, Conn());
    NEST_ASSIGN_OR_RETURN(DomainPtr dom, Lookup(conn.get(), id));
    return fn(conn.get(), dom.get());
  }

  absl::Status Call(int rc, const VmId& id, absl::string_view what) {
    if (rc >= 0) return absl::OkStatus();
    auto st = LibvirtError(absl::StrCat(what, " vm ", id.str()));
    NoteError(st);
    return st;
  }

  absl::StatusOr<ShutdownPath> Shutdown(const VmId& id, absl::Time deadline,
                                        const GracefulRequest& graceful) {
    NEST_ASSIGN_OR_RETURN(ConnPtr conn, Conn());
    NEST_ASSIGN_OR_RETURN(DomainPtr dom, Lookup(conn.get(), id));
    if (virDomainIsActive(dom.get()) == 0) return ShutdownPath::kAlreadyStopped;
    bool asked = false;
    if (graceful) {
      absl::Status st = graceful();
      asked = st.ok();
      if (!asked) {
        spdlog::warn(
            "vm {}: graceful shutdown request failed ({}); "
            "destroying",
            id.str(), st.ToString());
      }
    }
    // The ACPI power button does nothing in our guests, so without a
    // request we wait only in case the guest is already on its way down.
    while (asked && clock_.Now() < deadline) {
      int active = virDomainIsActive(dom.get());
      if (active == 0) return ShutdownPath::kGraceful;
      if (active < 0) break;
      clock_.SleepFor(std::min(o_.shutdown_poll, deadline - clock_.Now()));
    }
    virResetLastError();
    if (virDomainIsActive(dom.get()) == 0) {
      return asked ? ShutdownPath::kGraceful : ShutdownPath::kAlreadyStopped;
    }
    if (virDomainDestroy(dom.get()) < 0) {
      if (virDomainIsActive(dom.get()) == 0) return ShutdownPath::kGraceful;
      return LibvirtError(absl::StrCat("destroy vm ", id.str()));
    }
    return ShutdownPath::kForced;
  }

  absl::Status Destroy(const VmId& id) {
    return WithDomain(id, [&](virConnectPtr, virDomainPtr dom) {
      if (virDomainIsActive(dom) == 0) return absl::OkStatus();
      return Call(virDomainDestroy(dom), id, "destroy");
    });
  }

  absl::Status Undefine(const VmId& id) {
    NEST_ASSIGN_OR_RETURN(ConnPtr conn, Conn());
    NEST_ASSIGN_OR_RETURN(DomainPtr dom, Lookup(conn.get(), id));
    NEST_ASSIGN_OR_RETURN(NestMetadata md, CheckOwned(dom.get(), id));
    if (virDomainIsActive(dom.get()) == 1) {
      NEST_RETURN_IF_ERROR(Call(virDomainDestroy(dom.get()), id, "destroy"));
    }
    NEST_RETURN_IF_ERROR(Call(virDomainUndefine(dom.get()), id, "undefine"));
    // known_ keeps the name until the UNDEFINED event arrives (it erases it
    // there), so that event still maps to the id; a resync drops it if the
    // event is lost.
    // The console log (and virtlogd's rotations of it) is ours; on a remote
    // host it lives there and is not ours to unlink from here.
    if (vmm::IsLocalUri(o_.uri) && !md.console_log_path.empty()) {
      unlink(md.console_log_path.c_str());
      for (int i = 0; i < 10; ++i) {
        unlink(absl::StrCat(md.console_log_path, ".", i).c_str());
      }
    }
    return absl::OkStatus();
  }

  absl::StatusOr<VmState> GetState(const VmId& id) {
    NEST_ASSIGN_OR_RETURN(ConnPtr conn, Conn());
    NEST_ASSIGN_OR_RETURN(DomainPtr dom, Lookup(conn.get(), id));
    int state = 0, reason = 0;
    NEST_RETURN_IF_ERROR(
        Call(virDomainGetState(dom.get(), &state, &reason, 0), id, "state of"));
    return MapState(state);
  }

  absl::StatusOr<VmStats> GetStats(const VmId& id);

  absl::StatusOr<std::vector<VmInfo>> List(bool include_foreign) {
    NEST_ASSIGN_OR_RETURN(ConnPtr conn, Conn());
    return ListOn(conn.get(), include_foreign);
  }

  absl::StatusOr<std::vector<VmInfo>> ListOn(virConnectPtr conn,
                                             bool include_foreign) {
    virDomainPtr* doms = nullptr;
    int n = virConnectListAllDomains(conn, &doms, 0);
    if (n < 0) {
      auto st = LibvirtError("list domains");
      NoteError(st);
      return st;
    }
    std::vector<DomainPtr> owned_doms;
    for (int i = 0; i < n; ++i) owned_doms.emplace_back(doms[i]);
    free(doms);
    std::vector<VmInfo> out;
    for (auto& d : owned_doms) {
      VmInfo info;
      info.name = virDomainGetName(d.get());
      auto md = Metadata(d.get());
      virResetLastError();
      if (md.ok() && DomainName(md->id) == info.name) {
        info.owned = true;
        info.id = md->id;
        info.tenant = md->tenant;
        info.group = md->group;
      } else if (!include_foreign) {
        continue;
      }
      int state = 0, reason = 0;
      if (virDomainGetState(d.get(), &state, &reason, 0) == 0) {
        info.state = MapState(state);
      }
      virResetLastError();
      out.push_back(std::move(info));
    }
    return out;
  }

  absl::StatusOr<HostFacts> GetHostFacts() {
    NEST_ASSIGN_OR_RETURN(Accel accel, ResolvedAccel());
    NEST_ASSIGN_OR_RETURN(ConnPtr conn, Conn());
    HostFacts f;
    f.accel = accel;
    CString host(virConnectGetHostname(conn.get()));
    if (!host) return LibvirtError("hostname");
    f.hostname = host.get();
    virNodeInfo ni;
    if (virNodeGetInfo(conn.get(), &ni) < 0) return LibvirtError("node info");
    f.cpus = static_cast<int>(ni.cpus);
    f.memory_mib = static_cast<int64_t>(ni.memory / 1024);
    unsigned long long free_bytes = virNodeGetFreeMemory(conn.get());
    virResetLastError();
    f.free_memory_mib = static_cast<int64_t>(free_bytes / (1024 * 1024));
    unsigned long ver = 0;
    const char* type = virConnectGetType(conn.get());
    if (virConnectGetVersion(conn.get(), &ver) == 0) {
      f.hypervisor = absl::StrCat(type ? type : "?", " ", ver / 1000000, ".",
                                  (ver / 1000) % 1000, ".", ver % 1000);
    }
    virResetLastError();
    return f;
  }

  absl::StatusOr<std::unique_ptr<ByteStream>> OpenChannel(
      const VmId& id, absl::string_view channel) {
    std::string name(channel);
    for (char c : name) {
      if (c < 0x21 || c > 0x7e) {
        return absl::InvalidArgumentError(
            "channel must be a printable name like org.nest.agent.0");
      }
    }
    NEST_ASSIGN_OR_RETURN(ConnPtr conn, Conn());
    NEST_ASSIGN_OR_RETURN(DomainPtr dom, Lookup(conn.get(), id));
    StreamPtr st(virStreamNew(conn.get(), VIR_STREAM_NONBLOCK));
    if (!st) return LibvirtError("new stream");
    if (virDomainOpenChannel(dom.get(), name.c_str(), st.get(), 0) < 0) {
      return LibvirtError(
          absl::StrCat("open channel ", name, " of vm ", id.str()));
    }
    return internal::MakeStreamByteStream(std::move(st), conn.get());
  }

  int AddListener(EventCallback cb) {
    absl::MutexLock l(&listeners_mu_);
    int h = next_listener_++;
    listeners_[h] = std::move(cb);
    return h;
  }
  void RemoveListener(int h) {
    absl::MutexLock l(&listeners_mu_);
    listeners_.erase(h);
  }

  bool IsConnected() {
    absl::MutexLock l(&mu_);
    return conn_ && alive_;
  }
  int64_t generation() {
    absl::MutexLock l(&mu_);
    return generation_;
  }

 private:
  struct Known {
    VmId id;
    VmState state;
  };

  void Forget(const std::string& name) {
    absl::MutexLock l(&mu_);
    known_.erase(name);
  }

  void NoteError(const absl::Status& st) {
    if (!internal::IsConnectionError(st)) return;
    absl::MutexLock l(&mu_);
    if (conn_ && virConnectIsAlive(conn_.get()) != 1) {
      alive_ = false;
      need_reconnect_ = true;
    }
  }

  void Detach(virConnectPtr conn, int cb) {
    if (cb >= 0) virConnectDomainEventDeregisterAny(conn, cb);
    virConnectUnregisterCloseCallback(conn, &OnClose);
    virResetLastError();
  }

  void Dispatch(const std::vector<LifecycleEvent>& events) {
    if (events.empty()) return;
    std::vector<EventCallback> cbs;
    {
      absl::MutexLock l(&listeners_mu_);
      for (auto& [h, cb] : listeners_) cbs.push_back(cb);
    }
    for (const auto& e : events) {
      for (auto& cb : cbs) cb(e);
    }
  }

  static LifecycleKind KindForState(VmState s) {
    switch (s) {
      case VmState::kRunning:
        return LifecycleKind::kStarted;
      case VmState::kPaused:
        return LifecycleKind::kPaused;
      case VmState::kShuttingDown:
        return LifecycleKind::kShuttingDown;
      case VmState::kCrashed:
        return LifecycleKind::kCrashed;
      default:
        return LifecycleKind::kStopped;
    }
  }

  // Level-triggered: compares what is there now with what we last knew and
  // reports the differences, whatever events were missed in between.
  void Resync(virConnectPtr conn, bool emit) {
    auto list = ListOn(conn, false);
    if (!list.ok()) {
      spdlog::warn("resync with {} failed: {}", o_.uri,
                   list.status().ToString());
      return;
    }
    std::vector<LifecycleEvent> events;
    {
      absl::MutexLock l(&mu_);
      std::map<std::string, Known> now;
      for (const auto& vm : *list) {
        now[vm.name] = Known{vm.id, vm.state};
        auto it = known_.find(vm.name);
        if (emit && (it == known_.end() || it->second.state != vm.state)) {
          events.push_back(
              LifecycleEvent{vm.id, KindForState(vm.state), "resync", true});
        }
      }
      for (const auto& [name, k] : known_) {
        if (emit && !now.contains(name)) {
          events.push_back(
              LifecycleEvent{k.id, LifecycleKind::kUndefined, "resync", true});
        }
      }
      known_ = std::move(now);
    }
    absl::MutexLock d(&dispatch_mu_);
    Dispatch(events);
  }

  void ReconnectLoop() {
    absl::Duration backoff = absl::Milliseconds(50);
    for (;;) {
      {
        absl::MutexLock l(&mu_);
        auto wake = [this]() ABSL_SHARED_LOCKS_REQUIRED(mu_) {
          return stopping_ || need_reconnect_;
        };
        mu_.Await(absl::Condition(&wake));
        if (stopping_) return;
      }
      absl::Status st = Connect();
      if (st.ok()) {
        spdlog::info("reconnected to {}", o_.uri);
        backoff = absl::Milliseconds(50);
        continue;
      }
      absl::MutexLock l(&mu_);
      auto stop = [this]()
                      ABSL_SHARED_LOCKS_REQUIRED(mu_) { return stopping_; };
      // Interruptible backoff: destruction must not wait for it.
      mu_.AwaitWithTimeout(absl::Condition(&stop), backoff);
      backoff = std::min(backoff * 2, o_.reconnect_backoff_max);
    }
  }

  static void OnClose(virConnectPtr, int reason, void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    spdlog::warn("connection to {} closed (reason {}); reconnecting",
                 self->o_.uri, reason);
    absl::MutexLock l(&self->mu_);
    self->alive_ = false;
    self->need_reconnect_ = true;
  }

  static int OnLifecycle(virConnectPtr, virDomainPtr dom, int event, int detail,
                         void* opaque) {
    auto* self = static_cast<Impl*>(opaque);
    absl::MutexLock d(&self->dispatch_mu_);
    LifecycleKind kind;
    std::string text;
    if (!internal::MapLifecycle(event, detail, &kind, &text)) return 0;
    std::string name = virDomainGetName(dom);
    LifecycleEvent e{VmId(), kind, text, false};
    {
      absl::MutexLock l(&self->mu_);
      auto it = self->known_.find(name);
      // Unknown names are foreign (or not yet adopted): no events for them.
      if (it == self->known_.end()) return 0;
      e.id = it->second.id;
      switch (kind) {
        case LifecycleKind::kStarted:
        case LifecycleKind::kResumed:
          it->second.state = VmState::kRunning;
          break;
        case LifecycleKind::kStopped:
          it->second.state = VmState::kStopped;
          break;
        case LifecycleKind::kPaused:
          it->second.state = VmState::kPaused;
          break;
        case LifecycleKind::kCrashed:
          it->second.state = VmState::kCrashed;
          break;
        case LifecycleKind::kShuttingDown:
          it->second.state = VmState::kShuttingDown;
          break;
        case LifecycleKind::kUndefined:
          self->known_.erase(it);
          break;
        case LifecycleKind::kDefined:
          break;
      }
    }
    self->Dispatch({e});
    return 0;
  }

  const LibvirtOptions o_;
  Clock& clock_;
  absl::Mutex mu_;
  ConnPtr conn_ ABSL_GUARDED_BY(mu_);
  int lifecycle_cb_ ABSL_GUARDED_BY(mu_) = -1;
  int64_t generation_ ABSL_GUARDED_BY(mu_) = 0;
  bool alive_ ABSL_GUARDED_BY(mu_) = false;
  bool need_reconnect_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  std::optional<Accel> accel_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Known> known_ ABSL_GUARDED_BY(mu_);
  std::thread reconnector_;
  absl::Mutex listeners_mu_;
  std::map<int, EventCallback> listeners_ ABSL_GUARDED_BY(listeners_mu_);
  int next_listener_ ABSL_GUARDED_BY(listeners_mu_) = 1;
  // Held while delivering events so the destructor can wait for a delivery
  // in flight.
  absl::Mutex dispatch_mu_;
  absl::Mutex callbacks_mu_;
  // Registrations libvirt has not released yet (see ~Impl).
  int live_callbacks_ ABSL_GUARDED_BY(callbacks_mu_) = 0;
};

absl::StatusOr<VmStats> LibvirtDriver::Impl::GetStats(const VmId& id) {
  NEST_ASSIGN_OR_RETURN(ConnPtr conn, Conn());
  NEST_ASSIGN_OR_RETURN(DomainPtr dom, Lookup(conn.get(), id));
  VmStats s;
  virDomainInfo info;
  NEST_RETURN_IF_ERROR(Call(virDomainGetInfo(dom.get(), &info), id, "info"));
  s.cpu_time_ns = info.cpuTime;
  s.vcpus = info.nrVirtCpu;
  s.memory_kib = info.memory;
  virDomainPtr doms[] = {dom.get(), nullptr};
  virDomainStatsRecordPtr* recs = nullptr;
  unsigned int what = VIR_DOMAIN_STATS_BALLOON | VIR_DOMAIN_STATS_BLOCK |
                      VIR_DOMAIN_STATS_INTERFACE;
  int n = virDomainListGetStats(doms, what, &recs, 0);
  if (n < 0) {
    // Drivers without bulk stats (test://) still give the basics above.
    virResetLastError();
    return s;
  }
  for (int r = 0; r < n; ++r) {
    for (int i = 0; i < recs[r]->nparams; ++i) {
      const virTypedParameter& p = recs[r]->params[i];
      if (p.type != VIR_TYPED_PARAM_ULLONG) continue;
      absl::string_view f(p.field);
      uint64_t v = p.value.ul;
      if (f == "balloon.rss") s.rss_kib = v;
      if (absl::StartsWith(f, "block.") && absl::EndsWith(f, ".rd.bytes")) {
        s.block_rd_bytes += v;
      }
      if (absl::StartsWith(f, "block.") && absl::EndsWith(f, ".wr.bytes")) {
        s.block_wr_bytes += v;
      }
      if (absl::StartsWith(f, "net.") && absl::EndsWith(f, ".rx.bytes")) {
        s.net_rx_bytes += v;
      }
      if (absl::StartsWith(f, "net.") && absl::EndsWith(f, ".tx.bytes")) {
        s.net_tx_bytes += v;
      }
    }
  }
  virDomainStatsRecordListFree(recs);
  return s;
}

absl::StatusOr<std::unique_ptr<LibvirtDriver>> LibvirtDriver::Open(
    LibvirtOptions options) {
  auto impl = std::make_unique<Impl>(std::move(options));
  NEST_RETURN_IF_ERROR(impl->Connect());
  impl->StartReconnector();
  return std::unique_ptr<LibvirtDriver>(new LibvirtDriver(std::move(impl)));
}

LibvirtDriver::LibvirtDriver(std::unique_ptr<Impl> impl)
    : impl_(std::move(impl)) {}
LibvirtDriver::~LibvirtDriver() = default;

absl::Status LibvirtDriver::Create(const VmSpec& spec) {
  return impl_->Create(spec);
}
absl::Status LibvirtDriver::Start(const VmId& id) {
  return impl_->WithDomain(id, [&](virConnectPtr, virDomainPtr dom) {
    return impl_->Call(virDomainCreate(dom), id, "start");
  });
}
absl::StatusOr<ShutdownPath> LibvirtDriver::Shutdown(
    const VmId& id, absl::Time deadline, const GracefulRequest& graceful) {
  return impl_->Shutdown(id, deadline, graceful);
}
absl::Status LibvirtDriver::Destroy(const VmId& id) {
  return impl_->Destroy(id);
}
absl::Status LibvirtDriver::Undefine(const VmId& id) {
  return impl_->Undefine(id);
}
absl::Status LibvirtDriver::Pause(const VmId& id) {
  return impl_->WithDomain(id, [&](virConnectPtr, virDomainPtr dom) {
    return impl_->Call(virDomainSuspend(dom), id, "pause");
  });
}
absl::Status LibvirtDriver::Resume(const VmId& id) {
  return impl_->WithDomain(id, [&](virConnectPtr, virDomainPtr dom) {
    return impl_->Call(virDomainResume(dom), id, "resume");
  });
}
absl::StatusOr<VmState> LibvirtDriver::GetState(const VmId& id) {
  return impl_->GetState(id);
}
absl::StatusOr<VmStats> LibvirtDriver::GetStats(const VmId& id) {
  return impl_->GetStats(id);
}
absl::StatusOr<std::vector<VmInfo>> LibvirtDriver::List(bool include_foreign) {
  return impl_->List(include_foreign);
}
absl::StatusOr<HostFacts> LibvirtDriver::GetHostFacts() {
  return impl_->GetHostFacts();
}
absl::StatusOr<std::unique_ptr<ByteStream>> LibvirtDriver::OpenChannel(
    const VmId& id, absl::string_view channel) {
  return impl_->OpenChannel(id, channel);
}
int LibvirtDriver::AddListener(EventCallback cb) {
  return impl_->AddListener(std::move(cb));
}
void LibvirtDriver::RemoveListener(int handle) {
  impl_->RemoveListener(handle);
}
absl::StatusOr<Accel> LibvirtDriver::ResolvedAccel() {
  return impl_->ResolvedAccel();
}
bool LibvirtDriver::IsConnected() { return impl_->IsConnected(); }
int64_t LibvirtDriver::connection_generation() { return impl_->generation(); }

}  // namespace nest::vmm

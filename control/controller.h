// The Controller runs Nest's reconcilers: hosts, container replicas,
// placement and VMs, then containers inside VMs. Each pass is
// level-triggered: it reads the whole state from the store and from the
// hosts and recomputes what to do (diff.h), so a pass can run at any time,
// any number of times, and a crash between two steps converges on the next
// pass without duplicates.
//
// A pass runs when the store commits an event, when a driver or agent
// reports something, when a container's stop grace period ends, and at
// least every `resync_interval`.
//
// Observations (a VM answered, a container started or exited) are queued
// and written in one transaction per pass rather than one each: at 10,000
// VMs a commit per observation made the store the bottleneck. Losing the
// queue in a crash loses nothing the next pass does not observe again.
//
// Containers that should no longer run are stopped gracefully: SIGTERM,
// then SIGKILL once the workload's stop_grace_s has passed. The wait is a
// deadline kept between passes, never a blocked thread.
//
// Thread-safety: Start/Stop/Wake/AgentFor/ReconcileOnce are thread-safe;
// ReconcileOnce calls are serialized internally.
#pragma once

#include <atomic>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "control/diff.h"
#include "control/host_probe.h"
#include "control/networking.h"
#include "control/ports.h"
#include "control/telemetry.h"
#include "control/worker_pool.h"
#include "core/clock.h"
#include "core/rng.h"
#include "store/store.h"

namespace nest::control {

struct ControllerOptions {
  absl::Duration resync_interval = absl::Seconds(5);
  // A host unreachable this long is marked down.
  absl::Duration host_down_grace = absl::Seconds(30);
  // How long a pass waits for a host whose calls may hang (a remote one)
  // to list its VMs before counting it unreachable.
  absl::Duration host_probe_timeout = absl::Seconds(5);
  // How often a reachable host's heartbeat is written to the store.
  absl::Duration heartbeat_interval = absl::Seconds(30);
  // Graceful VM stop through the agent, then destroy.
  absl::Duration vm_stop_deadline = absl::Seconds(20);
  // Wait before retrying a VM whose boot failed.
  absl::Duration boot_retry_delay = absl::Seconds(5);
  int max_parallel_vm_ops = 4;
  // Grace before SIGKILL for a container whose workload is gone and whose
  // grace this controller does not remember (started before a restart).
  absl::Duration orphan_stop_grace = absl::Seconds(10);
  // Host memory each VM costs on top of its shape (QEMU itself).
  int64_t vmm_overhead_mib = 64;
  // Held back on every host for the host itself.
  Resources host_reserved = Resources::Of(0, 512, 0);
  uint64_t seed = 1;
  // Where pass and placement timings go; none when null. Must outlive the
  // controller.
  const ControlMetrics* metrics = nullptr;
  // Tenant networks (networking.h); none when null: VMs get no NIC and
  // containers share their guest's network. Must outlive the controller.
  Networking* network = nullptr;
  // The latest usage of the running VMs (UsageSampler::Latest), for the
  // groups' utilization targets (utilization.h); without it those targets
  // are not acted on. Called from the reconcile loop.
  std::function<UsageSample()> usage;
};

struct PassStats {
  int64_t passes = 0;
  int64_t placements = 0;
  int64_t vms_created = 0;
  int64_t containers_started = 0;
  int64_t containers_stopped = 0;
  int64_t errors = 0;
  absl::Duration last_pass;
};

class Controller {
 public:
  Controller(store::Store& store, HostConnector& hosts,
             VmProvisioner& provisioner, AgentConnector& agents,
             ImageSource& images, Clock& clock, ControllerOptions options);
  ~Controller();
  Controller(const Controller&) = delete;
  Controller& operator=(const Controller&) = delete;

  // Starts the reconcile loop thread.
  void Start();
  // Stops the loop and waits for in-flight VM operations. VMs keep running.
  void Stop();
  // Requests a pass soon.
  void Wake();

  // One full pass, synchronously (the loop calls this; tests may too).
  [[nodiscard]] absl::Status ReconcileOnce();

  // Waits until VM operations started by earlier passes finish and writes
  // what they observed to the store (tests). A boot still waiting for its
  // guest (AgentConnector::BootAsync) is not waited for.
  void AwaitIdle();

  // The agent of a running VM, or NOT_FOUND / UNAVAILABLE.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<agent::AgentApi>> AgentFor(
      const VmId& vm);
  // The driver of a host, or UNAVAILABLE.
  [[nodiscard]] absl::StatusOr<std::shared_ptr<vmm::VmDriver>> DriverFor(
      const HostId& host);

  PassStats stats() const;

 private:
  struct HostConn {
    std::shared_ptr<vmm::VmDriver> driver;
    int listener = -1;
    absl::Time next_connect = absl::InfinitePast();
    absl::Time last_heartbeat_write = absl::InfinitePast();
    // The connect-and-list of a host whose calls may hang, when one ran
    // past a pass's deadline and has not finished yet.
    std::shared_ptr<HostProbe> probe;
  };
  struct Session {
    std::shared_ptr<agent::AgentApi> agent;
    std::set<std::string> images;  // digests already pushed
    // Stop grace of each container started through this session, for when
    // its row is gone (workload deleted) by the time it must stop.
    std::map<std::string, absl::Duration> grace;
  };
  // One queued observation: applied inside its own savepoint.
  using Change = std::function<absl::Status(store::WriteTx&)>;

  void Loop();
  // When the loop must run a pass at the latest (a stop grace ends).
  absl::Time NextDeadline();
  absl::Status SyncHosts(const store::Snapshot& s, Observed* observed);
  // A probe started for a host whose calls may hang, or why none was.
  struct ProbeStart {
    std::shared_ptr<HostProbe> probe;
    std::string why_not;
    std::shared_ptr<vmm::VmDriver> adopt;  // opened by a late probe
  };
  std::map<HostId, ProbeStart> StartProbes(const store::Snapshot& s);
  // Records a new connection to `h`; returns true (it is fresh).
  bool Adopt(const store::Host& h, std::shared_ptr<vmm::VmDriver> driver);
  absl::Status SyncContainerRows(const store::Snapshot& s);
  absl::Status Place(const store::Snapshot& s);
  // The autoscaler (controller_autoscale.cc). Scale-up is placement's: new
  // VMs for pending containers; these hold it during a group's cooldown
  // and record each decision. ScaleDown drains VMs whose containers fit in
  // the group's other VMs, then removes them once empty; a group with a
  // utilization target is resized by its VMs' load there instead.
  std::map<std::string, absl::Duration> HoldScaleUpsInCooldown(
      const store::Snapshot& s, PlacementInput& in) const;
  absl::Status RecordScaleUps(
      store::WriteTx& tx, const PlacementInput& in,
      const std::map<std::string, std::pair<int, int>>& grown);
  absl::Status ScaleDown(const store::Snapshot& s);
  // A host just declared down: its VMs are given up (desired deleted; the
  // stale domains are destroyed when it comes back, before anything else
  // is done there) and their containers go back to pending, so placement
  // starts them in VMs on other hosts.
  static absl::Status EvacuateHost(store::WriteTx& tx, const HostId& host);
  absl::Status SyncVms(const store::Snapshot& s, const Observed& observed);
  absl::Status SyncContainers(const store::Snapshot& s);
  // Brings the guest of `vm` in line with its network (address, VIPs,
  // rules, names) unless it already is; before any container of the pass
  // stops, so a leaving replica is out of every VIP first.
  absl::Status PushGuestNetwork(const VmId& vm, const Session& session);

  // VM operations, run on the worker pool. BootVm calls `done` when the
  // guest answered or failed, which may be after it returns.
  void BootVm(const store::Vm& vm, const store::VmGroup& group, bool recreate,
              std::function<void()> done);
  void AttachVm(const store::Vm& vm);
  void TeardownVm(const store::Vm& vm);
  void RemoveOrphan(const HostId& host, const VmId& vm);
  // Marks `vm` busy and runs `op` on a worker; the VM stays busy until
  // `op` calls the callback it is given.
  void LaunchAsync(const VmId& vm,
                   std::function<void(std::function<void()>)> op);
  void Launch(const VmId& vm, std::function<void()> op);
  void Done(const VmId& vm);

  absl::Status StartContainer(const store::Container& c,
                              const store::Workload& w, Session& session);
  // One step of a graceful stop of container `id` in `vm`: SIGTERM first,
  // SIGKILL once `grace` has passed since, delete once it has exited.
  // Returns true when the container is gone from the guest.
  bool StopContainer(const VmId& vm, Session& session,
                     const agent::ContainerInfo& info, absl::Duration grace,
                     std::vector<absl::Status>* errors);
  // Records a running replica's health as its agent reports it, and stops
  // one that stays unhealthy (its restart policy then decides).
  void ObserveHealth(const store::Container& c, const store::Workload& w,
                     const VmId& vm, Session& session,
                     const agent::ContainerInfo& info,
                     std::vector<absl::Status>* errors);
  // Queues a read-modify-write of one VM / container row for the next
  // flush. A row deleted meanwhile is skipped.
  void RecordVm(const VmId& id, std::function<void(store::Vm&)> mutate,
                std::string reason, std::string message);
  void RecordContainer(const ContainerId& id,
                       std::function<void(store::Container&)> mutate,
                       std::string reason, std::string message);
  void Record(Change change);
  // Writes every queued change in one transaction.
  absl::Status FlushRecords();
  // Ends the VM's agent session. With `unreachable_host`, the session's
  // stream is closed only once that host answers again (SyncHosts): a
  // close waits on the host's connection, and libvirt crashed when a
  // connection died under such a wait.
  void DropSession(const VmId& vm, const HostId& unreachable_host = {});
  // Sessions parked by DropSession, per host.
  std::map<HostId, std::vector<std::shared_ptr<agent::AgentApi>>> parked_
      ABSL_GUARDED_BY(mu_);
  std::shared_ptr<vmm::VmDriver> Driver(const HostId& host);

  store::Store& store_;
  HostConnector& host_connector_;
  VmProvisioner& provisioner_;
  AgentConnector& agent_connector_;
  ImageSource& images_;
  Clock& clock_;
  const ControllerOptions options_;

  absl::Mutex pass_mu_;  // serializes passes
  SeededRng rng_ ABSL_GUARDED_BY(pass_mu_);
  // Per group: since when it has had VMs it could do without, with no
  // pending work (hysteresis of scale-down; reset by any pass that finds
  // otherwise, and by a restart).
  std::map<std::string, absl::Time> underused_since_ ABSL_GUARDED_BY(pass_mu_);
  absl::Time next_scale_down_check_ ABSL_GUARDED_BY(pass_mu_) =
      absl::InfinitePast();
  // Containers sent SIGTERM: (vm, container) -> when SIGKILL is due.
  std::map<std::pair<VmId, std::string>, absl::Time> kill_at_
      ABSL_GUARDED_BY(pass_mu_);
  // What each guest's network was last set to, through which agent (a new
  // session starts over) and when: an unchanged one is sent again every
  // kGuestNetworkRecheck, so the agent restores what was removed by hand.
  struct PushedNetwork {
    const agent::AgentApi* agent = nullptr;
    agent::GuestNetwork network;
    absl::Time at = absl::InfinitePast();
  };
  static constexpr absl::Duration kGuestNetworkRecheck = absl::Seconds(30);
  std::map<VmId, PushedNetwork> guest_networks_ ABSL_GUARDED_BY(pass_mu_);

  absl::Mutex flush_mu_;  // keeps flushes, and so each row's changes, in order

  mutable absl::Mutex mu_;
  std::map<HostId, HostConn> hosts_ ABSL_GUARDED_BY(mu_);
  std::map<VmId, Session> sessions_ ABSL_GUARDED_BY(mu_);
  std::set<VmId> busy_ ABSL_GUARDED_BY(mu_);
  std::vector<Change> records_ ABSL_GUARDED_BY(mu_);
  absl::Time next_deadline_ ABSL_GUARDED_BY(mu_) = absl::InfiniteFuture();
  std::map<VmId, absl::Time> retry_after_ ABSL_GUARDED_BY(mu_);
  bool wake_ ABSL_GUARDED_BY(mu_) = false;
  bool stopping_ ABSL_GUARDED_BY(mu_) = false;
  PassStats stats_ ABSL_GUARDED_BY(mu_);

  std::unique_ptr<WorkerPool> workers_;
  std::thread loop_;
};

}  // namespace nest::control

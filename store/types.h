// The objects Nest keeps in its store: plain values, copied in and out.
//
// Every object carries `generation` (1 on create, +1 on every change) and
// created/updated times; the store sets those three, callers' values are
// ignored on write. Times that have not happened are absl::InfinitePast().
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "core/ids.h"
#include "core/resources.h"
#include "core/status.h"

namespace nest::store {

using Labels = std::map<std::string, std::string>;

enum class HostState { kReady, kCordoned, kDraining, kDown };
enum class PlacementPolicy { kBinpack, kSpread };
enum class VmDesiredState { kRunning, kStopped, kDeleted };
enum class VmObservedState {
  kPending,   // not yet placed or defined
  kCreating,  // overlay/XML/define in progress
  kBooting,   // started, waiting for the agent's hello
  kRunning,   // agent answered
  kStopping,
  kStopped,
  kFailed,
  kUnknown,  // host unreachable
};
enum class RestartPolicy { kAlways, kOnFailure, kNever };
enum class Isolation { kShared, kDedicated };
enum class ContainerDesiredState { kRunning, kStopped, kDeleted };
enum class ContainerObservedState {
  kPending,  // not placed yet
  kCreating,
  kRunning,
  kExited,  // exit_code is set
  kFailed,
  kCrashLoop,
  kUnknown,
};
// Of a running replica whose workload has a health check: kNone without a
// check, kStarting until the first verdict (and after each start).
enum class ContainerHealth { kNone, kStarting, kHealthy, kUnhealthy };

// Lower-case names as stored and shown ("ready", "on-failure", ...), and the
// inverse; Parse* errors name `field` and list the accepted values.
absl::string_view Name(HostState v);
absl::string_view Name(PlacementPolicy v);
absl::string_view Name(VmDesiredState v);
absl::string_view Name(VmObservedState v);
absl::string_view Name(RestartPolicy v);
absl::string_view Name(Isolation v);
absl::string_view Name(ContainerDesiredState v);
absl::string_view Name(ContainerObservedState v);
absl::string_view Name(ContainerHealth v);  // "" for kNone
absl::StatusOr<HostState> ParseHostState(absl::string_view field,
                                         absl::string_view text);
absl::StatusOr<PlacementPolicy> ParsePlacementPolicy(absl::string_view field,
                                                     absl::string_view text);
absl::StatusOr<VmDesiredState> ParseVmDesiredState(absl::string_view field,
                                                   absl::string_view text);
absl::StatusOr<VmObservedState> ParseVmObservedState(absl::string_view field,
                                                     absl::string_view text);
absl::StatusOr<RestartPolicy> ParseRestartPolicy(absl::string_view field,
                                                 absl::string_view text);
absl::StatusOr<Isolation> ParseIsolation(absl::string_view field,
                                         absl::string_view text);
absl::StatusOr<ContainerDesiredState> ParseContainerDesiredState(
    absl::string_view field, absl::string_view text);
absl::StatusOr<ContainerObservedState> ParseContainerObservedState(
    absl::string_view field, absl::string_view text);
absl::StatusOr<ContainerHealth> ParseContainerHealth(absl::string_view field,
                                                     absl::string_view text);

// Fields every object has. Set by the store.
struct Meta {
  int64_t generation = 0;
  absl::Time created_at = absl::InfinitePast();
  absl::Time updated_at = absl::InfinitePast();
  friend bool operator==(const Meta&, const Meta&) = default;
};

// Limits on what one tenant may hold; an unset field is unlimited. VM
// memory counts each VM's VMM overhead as well as its shape.
struct Quota {
  std::optional<int64_t> vcpus;
  std::optional<int64_t> memory_mib;
  std::optional<int64_t> vms;
  std::optional<int64_t> containers;  // running replicas, over workloads
  std::optional<int64_t> images;
  bool empty() const {
    return !vcpus && !memory_mib && !vms && !containers && !images;
  }
  friend bool operator==(const Quota&, const Quota&) = default;
};

struct Tenant {
  TenantId name;
  Quota quota;
  Meta meta;
  friend bool operator==(const Tenant&, const Tenant&) = default;
};

struct Host {
  HostId name;
  std::string libvirt_uri;  // "qemu:///system", "qemu+tls://h/system"
  Labels labels;
  // The IPv4 CIDR its VMs and containers take addresses from
  // ("10.89.0.0/16"); empty: nestd's net.pool, like the local host.
  std::string pool;
  HostState state = HostState::kReady;
  Resources capacity;  // what Nest may allocate on this host
  Labels facts;        // last facts reported (cpu model, libvirt version...)
  // Only moves forward: UpdateHost stores max(given, stored). Prefer
  // WriteTx::RecordHostHeartbeat, which does not bump the generation.
  absl::Time last_heartbeat = absl::InfinitePast();
  Meta meta;
  friend bool operator==(const Host&, const Host&) = default;
};

struct VmGroup {
  TenantId tenant;
  GroupId name;
  // VM shape.
  int64_t vcpus = 1;
  int64_t memory_mib = 256;
  int64_t disk_mib = 1024;
  std::string boot_image;
  PlacementPolicy placement = PlacementPolicy::kBinpack;
  std::string spread_label;  // host label to spread over; empty = host name
  int64_t min_size = 0;
  int64_t max_size = 0;
  int64_t desired_size = 0;
  absl::Duration scale_up_cooldown = absl::ZeroDuration();
  absl::Duration scale_down_cooldown = absl::ZeroDuration();
  absl::Time last_scaled_at = absl::InfinitePast();
  // Utilization targets (control/utilization.h): percent of the VMs' vCPUs
  // and memory, 0 = none; the tolerance is in percent of the target.
  int64_t target_cpu_percent = 0;
  int64_t target_memory_percent = 0;
  int64_t utilization_tolerance_percent = 10;
  Meta meta;
  friend bool operator==(const VmGroup&, const VmGroup&) = default;
};

struct Vm {
  VmId id;  // unique across tenants
  TenantId tenant;
  GroupId group;
  HostId host;  // empty while unplaced
  VmDesiredState desired = VmDesiredState::kRunning;
  VmObservedState observed = VmObservedState::kPending;
  int64_t boot_attempts = 0;
  std::string domain_name;  // libvirt domain name once defined
  std::string ip;           // empty when unknown
  bool cordoned = false;    // no new containers (scale-down drain)
  std::string message;      // last observation detail, for humans
  Meta meta;
  friend bool operator==(const Vm&, const Vm&) = default;
};

struct EnvVar {
  std::string name;
  std::string value;
  bool secret = false;
  friend bool operator==(const EnvVar&, const EnvVar&) = default;
};

// A file written into each container of a workload (read-only, at `path`).
// A secret one is write-only through the API, like a secret env value.
struct WorkloadFile {
  std::string path;  // absolute, inside the container
  std::string content;
  int64_t mode = 0444;
  bool secret = false;
  friend bool operator==(const WorkloadFile&, const WorkloadFile&) = default;
};

struct Port {
  std::string name;
  int64_t container_port = 0;
  int64_t host_port = 0;  // 0 = not published
  std::string protocol = "tcp";
  friend bool operator==(const Port&, const Port&) = default;
};

// A health check the agent runs on each replica (issue 10). kind "" means
// none; "exec" runs `exec` in the container (exit 0 passes); "tcp" connects
// to `port`; "http" GETs `path` on `port` (200-399 passes).
struct HealthCheck {
  std::string kind;
  std::vector<std::string> exec;
  int64_t port = 0;
  std::string path;
  int64_t initial_delay_s = 0;
  int64_t period_s = 10;
  int64_t timeout_s = 2;
  int64_t failure_threshold = 3;
  int64_t success_threshold = 1;
  friend bool operator==(const HealthCheck&, const HealthCheck&) = default;
};

struct Workload {
  TenantId tenant;
  WorkloadId name;
  std::string image;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::vector<EnvVar> env;
  Resources requests;
  int64_t replicas = 1;
  RestartPolicy restart_policy = RestartPolicy::kAlways;
  std::vector<Port> ports;
  Isolation isolation = Isolation::kShared;
  int64_t priority = 0;
  GroupId target_group;  // need not exist yet (declarative apply order)
  int64_t stop_grace_s = 10;
  int64_t max_unavailable = 1;
  int64_t max_surge = 1;
  std::vector<WorkloadFile> files;
  HealthCheck health_check;
  Meta meta;
  friend bool operator==(const Workload&, const Workload&) = default;
};

// True when the two differ in what their replicas run (image, command,
// args, env, resources, ports, files, health check, restart policy, stop
// grace, isolation): a change that rolls replicas over and is kept as a
// revision. Replicas, priority, group and the rollout bounds are not.
bool TemplateDiffers(const Workload& a, const Workload& b);

// A workload's earlier template, kept when an update replaced it (the last
// kMaxRevisions per workload). `workload` holds the whole row as it was.
struct WorkloadRevision {
  int64_t revision = 0;  // 1, 2, ... per workload, in the order replaced
  Workload workload;
  absl::Time replaced_at = absl::InfinitePast();
};
inline constexpr int kMaxRevisions = 10;

struct Container {
  ContainerId id;  // unique across tenants
  TenantId tenant;
  WorkloadId workload;
  VmId vm;  // empty while unplaced
  ContainerDesiredState desired = ContainerDesiredState::kRunning;
  ContainerObservedState observed = ContainerObservedState::kPending;
  std::optional<int64_t> exit_code;
  int64_t restarts = 0;
  absl::Time started_at = absl::InfinitePast();
  absl::Time finished_at = absl::InfinitePast();
  int64_t spec_generation = 0;  // workload generation this replica runs
  std::string message;
  ContainerHealth health = ContainerHealth::kNone;
  // The image reference this run was started from (the workload's may
  // have changed since); empty before the first start.
  std::string image;
  Meta meta;
  friend bool operator==(const Container&, const Container&) = default;
};

struct Image {
  TenantId tenant;
  ImageId name;        // the reference users wrote, e.g. "busybox:1.36"
  std::string digest;  // "sha256:..."
  int64_t size_bytes = 0;
  int64_t refcount = 0;  // containers/groups using it, maintained by control
  Meta meta;
  friend bool operator==(const Image&, const Image&) = default;
};

// One row of the event log. `seq` is assigned by the store at commit and
// strictly increases; it is never reused, even after pruning.
struct Event {
  int64_t seq = 0;
  absl::Time time = absl::InfinitePast();
  std::string kind;    // "tenant", "host", "group", "vm", "workload", ...
  std::string name;    // the object's name or id
  TenantId tenant;     // empty for cluster-wide objects (hosts)
  std::string reason;  // CamelCase, fixed strings: "Created", "ScaledUp"
  std::string message;
  std::string actor;       // token id or component ("control", "api")
  std::string request_id;  // the API request that caused it, if any
  friend bool operator==(const Event&, const Event&) = default;
};

// A consistent view of everything placement and the reconcilers need, read
// in one transaction. Lists are ordered by key.
struct Snapshot {
  int64_t event_seq = 0;  // last event visible in this snapshot
  std::vector<Tenant> tenants;
  std::vector<Host> hosts;
  std::vector<VmGroup> groups;
  std::vector<Vm> vms;
  std::vector<Workload> workloads;
  std::vector<Container> containers;
};

}  // namespace nest::store

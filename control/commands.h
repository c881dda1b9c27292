// Commands: the typed, validated operations behind every nest.v1 RPC. The
// api/ layer translates protos to these inputs and the results back; all
// validation, tenancy, idempotency and optimistic concurrency happen here.
//
// Contract:
//  - Inputs carry values as users wrote them ("500m", "256Mi", enum names);
//    validation reports every bad field at once as one INVALID_ARGUMENT
//    carrying FieldViolations with proto field paths ("spec.replicas").
//  - Every mutation runs in one store transaction that also records the
//    idempotency key and the encoded response (WriteMeta::request_id): a
//    retry with the same id and request hash returns the stored bytes
//    without writing; the same id with another hash is INVALID_ARGUMENT.
//    The caller supplies the encoder (api/ serializes the proto response),
//    so control/ never sees generated code.
//  - WriteMeta::expected_generation != 0 makes a mutation of an existing
//    object fail with FAILED_PRECONDITION unless the generation matches.
//  - Until authentication exists (issue 11) every request acts as tenant
//    "default", created by the first mutation that needs it.
//  - Every successful, non-replayed mutation wakes the controller.
//
// Thread-safety: thread-safe (the store serializes writers).
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/agent_api.h"
#include "control/controller.h"
#include "control/placement_bridge.h"
#include "control/ports.h"
#include "control/quota.h"
#include "control/telemetry.h"
#include "core/clock.h"
#include "core/field_errors.h"
#include "core/status.h"
#include "net/ipam.h"
#include "store/store.h"

namespace nest::control {

inline constexpr absl::string_view kDefaultTenant = "default";
// What reads show instead of a secret env value.
inline constexpr absl::string_view kSecretShown = "<secret>";

// Identity and guard of one mutation, from the request's WriteOptions.
struct WriteMeta {
  std::string request_id;  // empty: not idempotent
  // Digest of the method and the whole request (store::HashRequest).
  std::string request_hash;
  int64_t expected_generation = 0;  // 0: don't care
};

// What a mutation returns: the encoded response, either produced now or
// replayed from the idempotency table.
struct Written {
  std::string response;
  bool replayed = false;
};

// Serializes a mutation's result into the response bytes that are stored
// for replay. Runs inside the write transaction; must not block.
template <typename T>
using Encoder = std::function<std::string(const T&)>;

struct ListOptions {
  int64_t page_size = 0;  // 0: kDefaultPageSize; capped at kMaxPageSize
  std::string page_token;
};
inline constexpr int64_t kDefaultPageSize = 100;
inline constexpr int64_t kMaxPageSize = 1000;

// ---- Inputs (as users wrote them) ----------------------------------------

struct HostInput {
  std::string name;
  std::string uri;
  store::Labels labels;
  std::string pool = {};  // IPv4 CIDR; empty: net.pool
};

// A group's scale-down cooldown when its spec says 0: VMs are not drained
// for less than this after a scale-up (or the group's creation).
inline constexpr absl::Duration kDefaultScaleDownCooldown = absl::Minutes(5);
// A group's utilization_tolerance_percent when the spec gives 0.
inline constexpr int64_t kDefaultUtilizationTolerance = 10;

struct GroupSpecInput {
  int64_t vcpus = 0;
  std::string memory;  // "256Mi"
  std::string disk;    // "2Gi"; empty: 1Gi
  std::string boot_image;
  std::string policy;  // "binpack" (default when empty) or "spread"
  std::string spread_label;
  int64_t min_vms = 0;
  int64_t max_vms = 0;
  int64_t desired_vms = 0;  // 0: the autoscaler decides, at least min
  int64_t scale_up_cooldown_s = 0;
  int64_t scale_down_cooldown_s = 0;
  int64_t target_cpu_percent = 0;             // 0: no target
  int64_t target_memory_percent = 0;          // 0: no target
  int64_t utilization_tolerance_percent = 0;  // 0: 10
};

struct PortInput {
  std::string name;
  int64_t container_port = 0;
  int64_t host_port = 0;
  std::string protocol;  // "tcp" (default when empty) or "udp"
};

// A file given to each container (read-only at `path`); a secret one is
// write-only like secret_env (kSecretShown as content keeps the stored one).
struct FileInput {
  std::string path;
  std::string content;
  int64_t mode = 0;  // 0: 0444
  bool secret = false;
};

// A workload's health check (api: HealthCheck). `set` is false for none;
// otherwise exactly one of exec, tcp_port and http (http_port) is given.
struct HealthCheckInput {
  bool set = false;
  std::vector<std::string> exec;
  int64_t tcp_port = 0;
  bool http = false;
  int64_t http_port = 0;
  std::string http_path;  // empty: "/"
  int64_t initial_delay_s = 0;
  int64_t period_s = 0;           // 0: 10
  int64_t timeout_s = 0;          // 0: 2 (at most period_s)
  int64_t failure_threshold = 0;  // 0: 3
  int64_t success_threshold = 0;  // 0: 1
};

struct WorkloadSpecInput {
  std::string image;
  std::vector<std::string> command;
  std::vector<std::string> args;
  std::map<std::string, std::string> env;
  // Write-only variables; kSecretShown as a value keeps the stored one.
  std::map<std::string, std::string> secret_env;
  std::string cpu;     // "100m"
  std::string memory;  // "32Mi"
  std::string disk;    // empty: none
  int64_t replicas = 0;
  std::string restart_policy;  // "always" (default), "on-failure", "never"
  std::vector<PortInput> ports;
  std::string isolation;  // "shared" (default) or "dedicated"
  int64_t priority = 0;
  std::string group;
  int64_t stop_grace_s = 0;     // 0: 10 s
  int64_t max_unavailable = 0;  // 0: 1
  std::vector<FileInput> files;
  HealthCheckInput health_check;
};

// One object of a declarative Apply.
struct ApplyItem {
  enum class Kind { kGroup, kWorkload };
  Kind kind = Kind::kWorkload;
  std::string name;
  GroupSpecInput group;        // when kGroup
  WorkloadSpecInput workload;  // when kWorkload
};

// ---- Views (a stored object plus what is derived from other rows) ---------

struct HostView {
  store::Host host;
  int64_t vm_count = 0;
  Resources allocated;  // shapes of the VMs on it
};

struct GroupView {
  store::VmGroup group;
  int64_t vms_running = 0;
  int64_t vms_pending = 0;  // not yet running
  int64_t containers = 0;
  int64_t vms = 0;      // every VM row, including ones being torn down
  std::string message;  // "deleting: 2 VMs left"
};

struct VmView {
  store::Vm vm;
  int64_t vcpus = 0;
  int64_t memory_mib = 0;
  int64_t containers = 0;
};

// Counts are over the live replicas (desired not deleted).
struct WorkloadView {
  store::Workload workload;
  int64_t running = 0;
  int64_t pending = 0;  // unplaced or starting
  int64_t succeeded = 0;
  int64_t failed = 0;
  std::string message;  // the first unplaced replica's reason
  // The oldest workload generation a live replica runs (its
  // spec_generation); the workload's generation when every live replica
  // runs it, or when there is none.
  int64_t observed_generation = 0;
  // Live replicas running the workload's current generation.
  int64_t ready = 0;
  std::string vip;  // of a workload with ports; empty without networking
};

// One template of a workload as `rollout history` shows it. Secret env
// values and secret file contents read as kSecretShown.
struct RevisionView {
  int64_t revision = 0;
  store::Workload workload;  // the row as it was (template and all)
  // When an update replaced it; InfinitePast for the current template.
  absl::Time replaced_at = absl::InfinitePast();
  std::string summary;  // "image httpd:1, 2 env, 100m/32Mi"
};

struct RevisionsView {
  // The kept revisions, oldest first, then the current template as
  // revision `current_revision`.
  std::vector<RevisionView> revisions;
  int64_t current_revision = 1;  // the newest kept revision + 1
};

struct RollbackView {
  WorkloadView workload;  // after the rollback
  int64_t rolled_back_to = 0;
  // The workload already ran that template: nothing was written.
  bool unchanged = false;
};

struct ContainerView {
  store::Container container;
  HostId host;        // the host of its VM, when placed
  std::string image;  // the workload's image
  bool oom_killed = false;
  std::string address;  // in its tenant network; empty without one
};

struct ImageView {
  store::Image image;
  int64_t layers = 0;  // known only in the import response
};

enum class ApplyAction { kCreate, kUpdate, kUnchanged };

struct ApplyChange {
  ApplyItem::Kind kind = ApplyItem::Kind::kWorkload;
  std::string name;
  ApplyAction action = ApplyAction::kCreate;
  std::vector<std::string> diff;  // "replicas: 2 -> 3"
  int64_t generation = 0;         // after the write (dry run: current)
};

struct ContainerStatsView {
  ContainerId container;
  double cpu_seconds = 0;
  int64_t memory_bytes = 0;
  int64_t memory_limit_bytes = 0;
  int64_t pids = 0;
};

// A token as the API shows it: never the digest; the secret only in the
// answer to its creation.
struct TokenView {
  store::ApiTokenRow token;
  std::string secret;  // set only by CreateToken
};

// A tenant's quota and what its objects commit to (control/quota.h).
struct QuotaView {
  TenantId tenant;
  store::Quota quota;
  QuotaUsage used;
};

struct HostUsageView {
  HostView host;
  double cpu_cores = 0;      // used by its VMs (last sample)
  int64_t memory_bytes = 0;  // used by its VMs
};

struct UsageView {
  absl::Time sampled_at = absl::InfinitePast();
  std::vector<HostUsageView> hosts;
  std::vector<VmUsage> vms;  // the caller's tenant's
  std::vector<ContainerUsage> containers;
};

struct EventFilter {
  int64_t after_seq = 0;
  int64_t limit = 1000;
  std::string kind;
  std::string name;
};

struct ReasonCountView {
  std::string reason;
  int64_t count = 0;
  std::string unit;  // "vms" or "hosts"
};

struct ExplainView {
  WorkloadId workload;
  int64_t pending = 0;
  std::vector<ReasonCountView> reasons;
  std::string suggestion;
};

struct PlannedActionView {
  std::string action;  // "create_vm", "place_container", "stop_container"
  std::string container;
  std::string vm;
  std::string group;
  std::string host;
  std::string workload;
};

struct DryRunView {
  std::vector<PlannedActionView> actions;
  std::vector<ExplainView> unplaceable;
};

struct CommandsOptions {
  // The console log file of a VM; empty or null: no console logs.
  std::function<std::string(const VmId&)> console_log_path;
  // The console log tail of a VM on a remote host (read through libvirt);
  // nullopt for a local host, whose file console_log_path names.
  std::function<std::optional<absl::StatusOr<std::string>>(
      const HostId&, const VmId&, int64_t tail)>
      remote_console_tail;
  // Must match the controller's, so Explain/DryRun see what it sees.
  PlacementParams placement;
  // nestd's net settings (NetworkOptions::ipam): a host's pool must hold a
  // tenant subnet and overlap neither net.pool nor another host's pool.
  net::IpamConfig ipam;
  // Default and cap of GetConsoleLog's tail.
  int64_t console_tail_default = 64 * 1024;
  int64_t console_tail_max = 4 * 1024 * 1024;
  // Where scale decisions are counted; none when null.
  const ControlMetrics* metrics = nullptr;
  // The usage Usage() reports; Usage() is UNAVAILABLE when null.
  const UsageSampler* usage = nullptr;
};

class Commands {
 public:
  // `controller` may be null (tests): logs/exec/stats are then UNAVAILABLE.
  Commands(store::Store& store, Controller* controller, ImageSource& images,
           Clock& clock, CommandsOptions options = {},
           TenantId tenant = TenantId(std::string(kDefaultTenant)));

  // The tenant requests act as.
  const TenantId& tenant() const { return tenant_; }

  // These commands acting for one authenticated caller: objects of
  // `tenant`, events recorded with `actor` (the token id), and, when
  // `cluster_wide`, every tenant's events and the hosts' usage. Cheap: a
  // copy of references and options.
  Commands As(const TenantId& tenant, std::string actor,
              bool cluster_wide) const;

  // ---- API tokens (operators) ----
  // Creates a token for `tenant` with `role` (operator, tenant-admin or
  // tenant-reader); the secret is returned once and only its digest kept.
  // Not idempotent: a replayed response would have to store the secret.
  [[nodiscard]] absl::StatusOr<TokenView> CreateToken(
      const std::string& request_id, const std::string& tenant,
      const std::string& role, const std::string& description);
  [[nodiscard]] absl::StatusOr<std::vector<TokenView>> ListTokens();

  // Quotas (operator): replaces the quota of `tenant` (created if new);
  // unset fields are unlimited. Lowering a quota below what is in use is
  // allowed: it stops growth, it removes nothing.
  [[nodiscard]] absl::StatusOr<Written> SetQuota(const WriteMeta& m,
                                                 const std::string& tenant,
                                                 const store::Quota& quota);
  // Empty `tenant`: the caller's. NOT_FOUND for a tenant never used, and
  // for any other tenant than the caller's unless cluster-wide.
  [[nodiscard]] absl::StatusOr<QuotaView> GetQuota(const std::string& tenant);
  // Every tenant, quota or not.
  [[nodiscard]] absl::StatusOr<std::vector<QuotaView>> ListQuotas();
  [[nodiscard]] absl::StatusOr<TokenView> RevokeToken(
      const std::string& request_id, const std::string& id);
  // The active token whose secret is `secret`; UNAUTHENTICATED otherwise
  // (unknown, malformed or revoked, without saying which).
  [[nodiscard]] absl::StatusOr<store::ApiTokenRow> Authenticate(
      absl::string_view secret);

  // ---- Hosts (cluster-scoped) ----
  [[nodiscard]] absl::StatusOr<Written> CreateHost(
      const WriteMeta& m, const HostInput& in, const Encoder<HostView>& enc);
  [[nodiscard]] absl::StatusOr<HostView> GetHost(const std::string& name);
  [[nodiscard]] absl::StatusOr<store::Page<HostView>> ListHosts(
      const ListOptions& page);
  // FAILED_PRECONDITION while VMs are on the host (drain and delete them).
  [[nodiscard]] absl::StatusOr<Written> DeleteHost(const WriteMeta& m,
                                                   const std::string& name);
  // Cordon: no new VMs; uncordon: ready; drain: draining (no new VMs, and
  // the controller moves work away).
  [[nodiscard]] absl::StatusOr<Written> SetHostState(
      const WriteMeta& m, const std::string& name, store::HostState state,
      const Encoder<HostView>& enc);

  // ---- VM groups ----
  [[nodiscard]] absl::StatusOr<Written> CreateGroup(
      const WriteMeta& m, const std::string& name, const GroupSpecInput& spec,
      const Encoder<GroupView>& enc);
  // Replaces the spec (autoscaler bookkeeping is kept).
  [[nodiscard]] absl::StatusOr<Written> UpdateGroup(
      const WriteMeta& m, const std::string& name, const GroupSpecInput& spec,
      const Encoder<GroupView>& enc);
  [[nodiscard]] absl::StatusOr<GroupView> GetGroup(const std::string& name);
  [[nodiscard]] absl::StatusOr<store::Page<GroupView>> ListGroups(
      const ListOptions& page);
  // Refuses (FAILED_PRECONDITION) while workloads target the group.
  // Otherwise sets every VM of the group to desired-deleted and sizes the
  // group to zero (max_size 0 marks it as deleting), and removes the group
  // row when no VM row is left: at once when it has none, else once the
  // controller has torn them down, by the next GetGroup/ListGroups/
  // DeleteGroup that sees it (or SweepDeletedGroups). Until then it shows
  // in Get/List with a "deleting" message.
  [[nodiscard]] absl::StatusOr<Written> DeleteGroup(const WriteMeta& m,
                                                    const std::string& name);
  // desired_size = desired_vms, which must be within [min, max].
  [[nodiscard]] absl::StatusOr<Written> ScaleGroup(
      const WriteMeta& m, const std::string& name, int64_t desired_vms,
      const Encoder<GroupView>& enc);
  // Removes deleting groups whose VMs are all gone. Returns how many.
  [[nodiscard]] absl::StatusOr<int64_t> SweepDeletedGroups();

  // ---- VMs ----
  [[nodiscard]] absl::StatusOr<VmView> GetVm(const std::string& id);
  [[nodiscard]] absl::StatusOr<store::Page<VmView>> ListVms(
      const ListOptions& page, const std::string& group,
      const std::string& host);
  [[nodiscard]] absl::StatusOr<Written> SetVmDesired(
      const WriteMeta& m, const std::string& id, store::VmDesiredState state,
      const Encoder<VmView>& enc);
  // The last `tail_bytes` (0: default) of the VM's console log;
  // UNAVAILABLE when there is none (not configured, or not written yet).
  [[nodiscard]] absl::StatusOr<std::string> ConsoleLog(const std::string& id,
                                                       int64_t tail_bytes);

  // ---- Workloads ----
  [[nodiscard]] absl::StatusOr<Written> CreateWorkload(
      const WriteMeta& m, const std::string& name,
      const WorkloadSpecInput& spec, const Encoder<WorkloadView>& enc);
  // Replaces the spec.
  [[nodiscard]] absl::StatusOr<Written> UpdateWorkload(
      const WriteMeta& m, const std::string& name,
      const WorkloadSpecInput& spec, const Encoder<WorkloadView>& enc);
  [[nodiscard]] absl::StatusOr<WorkloadView> GetWorkload(
      const std::string& name);
  [[nodiscard]] absl::StatusOr<store::Page<WorkloadView>> ListWorkloads(
      const ListOptions& page);
  // Removes the workload row and all its container rows in one
  // transaction; the controller then stops whatever still runs in a guest.
  [[nodiscard]] absl::StatusOr<Written> DeleteWorkload(const WriteMeta& m,
                                                       const std::string& name);
  [[nodiscard]] absl::StatusOr<Written> ScaleWorkload(
      const WriteMeta& m, const std::string& name, int64_t replicas,
      const Encoder<WorkloadView>& enc);
  // The templates updates replaced (the last store::kMaxRevisions) and
  // the current one. NOT_FOUND for a workload the tenant does not have.
  [[nodiscard]] absl::StatusOr<RevisionsView> ListRevisions(
      const std::string& name);
  // Puts the template (exactly what store::TemplateDiffers compares) of
  // kept revision `to_revision` back, 0 meaning the newest one (the
  // template before the current one). Replicas, priority, group and the
  // rollout bounds stay as they are. Checked and written like
  // UpdateWorkload, with a "RolledBack" event; the template it replaces is
  // kept as a revision in turn, so rolling back twice flips back.
  // FAILED_PRECONDITION when no revision is kept; INVALID_ARGUMENT naming
  // to_revision for a number that is neither kept nor the current one. A
  // revision whose template the workload already runs (the current one
  // always) changes nothing (RollbackView::unchanged).
  [[nodiscard]] absl::StatusOr<Written> RollbackWorkload(
      const WriteMeta& m, const std::string& name, int64_t to_revision,
      const Encoder<RollbackView>& enc);

  // Validates every item first (violations are prefixed "objects[i]."),
  // then creates, updates or leaves each object as it is, groups before
  // workloads, in one transaction. With `dry_run`, computes the same
  // changes and writes nothing. WriteMeta::expected_generation is ignored
  // (it names no single object).
  [[nodiscard]] absl::StatusOr<Written> Apply(
      const WriteMeta& m, const std::vector<ApplyItem>& items, bool dry_run,
      const Encoder<std::vector<ApplyChange>>& enc);

  // ---- Containers ----
  [[nodiscard]] absl::StatusOr<ContainerView> GetContainer(
      const std::string& id);
  [[nodiscard]] absl::StatusOr<store::Page<ContainerView>> ListContainers(
      const ListOptions& page, const std::string& workload,
      const std::string& vm);
  // Streams the container's output to `sink` (return false to stop).
  // With `follow`, keeps going until the container exits, `cancelled`
  // returns true, or `deadline` (wall-clock) passes. `tail_lines` > 0:
  // only the last that many lines of what is retained are sent first.
  [[nodiscard]] absl::Status Logs(const std::string& id, bool follow,
                                  int64_t tail_lines,
                                  const agent::LogSink& sink,
                                  const std::function<bool()>& cancelled,
                                  absl::Time deadline);
  [[nodiscard]] absl::StatusOr<agent::ExecResult> Exec(
      const std::string& id, const std::vector<std::string>& command,
      int64_t timeout_s);
  // `id` empty: every running container of the tenant.
  // The last usage sample: every host, and the tenant's VMs and containers.
  [[nodiscard]] absl::StatusOr<UsageView> Usage();
  [[nodiscard]] absl::StatusOr<std::vector<ContainerStatsView>> Stats(
      const std::string& id);

  // ---- Images ----
  [[nodiscard]] absl::StatusOr<Written> ImportImage(
      const WriteMeta& m, const std::string& name, const std::string& source,
      const Encoder<ImageView>& enc);
  [[nodiscard]] absl::StatusOr<store::Page<ImageView>> ListImages(
      const ListOptions& page);
  // FAILED_PRECONDITION while a workload uses the image.
  [[nodiscard]] absl::StatusOr<Written> DeleteImage(const WriteMeta& m,
                                                    const std::string& name);

  // ---- Events ----
  // OUT_OF_RANGE (naming the oldest retained seq) when events after
  // `after_seq` were already pruned.
  [[nodiscard]] absl::StatusOr<std::vector<store::Event>> ListEvents(
      const EventFilter& f);
  [[nodiscard]] absl::StatusOr<int64_t> OldestEventSeq();
  int64_t LastEventSeq() const;
  // Blocks until an event after `after_seq` commits or `timeout` passes.
  int64_t WaitForEvents(int64_t after_seq, absl::Duration timeout);

  // ---- Placement (read-only) ----
  // Why the workload's pending replicas do not run. Replicas the
  // controller has not created rows for yet count as pending.
  [[nodiscard]] absl::StatusOr<ExplainView> Explain(const std::string& name);
  // What the scheduler would do now with the current state; writes nothing.
  [[nodiscard]] absl::StatusOr<DryRunView> DryRun();

 private:
  // Runs `fn` (which returns the encoded response) as one idempotent write
  // acting as the tenant, then wakes the controller.
  absl::StatusOr<Written> Mutate(
      const WriteMeta& m,
      const std::function<absl::StatusOr<std::string>(store::WriteTx&)>& fn);
  absl::Status EnsureTenant(store::WriteTx& tx);
  // Writes `next`, a change of the stored `cur` (same tenant and name), as
  // every update of a workload is written: references, host ports and
  // secret placeholders checked, the generation guard applied, replicas
  // carried over when only their count changed. Returns the row as it is
  // after (`cur` when `next` changes nothing).
  absl::StatusOr<store::Workload> ReplaceWorkload(store::WriteTx& tx,
                                                  const store::Workload& cur,
                                                  const store::Workload& next,
                                                  int64_t expected_generation,
                                                  const store::EventNote& note);
  absl::StatusOr<store::Page<GroupView>> ListGroupsOnce(
      const ListOptions& page);
  absl::StatusOr<std::shared_ptr<agent::AgentApi>> AgentOf(
      const store::Container& c);
  // The store query of a page request; INVALID_ARGUMENT naming
  // page.page_size when it is negative.
  absl::StatusOr<store::ListQuery> Query(const ListOptions& page) const;
  // A list's failure, with a page token the store could not decode named
  // as the field page.page_token.
  static absl::Status PageError(const absl::Status& listed);
  // One page of rows turned into views in one read transaction: `narrow`
  // adds the list's filters to the query, `list` reads the rows and `view`
  // makes each row what the API shows.
  template <typename View, typename ListFn, typename ViewFn>
  absl::StatusOr<store::Page<View>> ListPage(
      const ListOptions& page,
      const std::function<void(store::ListQuery&)>& narrow, ListFn list,
      ViewFn view) {
    store::Page<View> out;
    NEST_RETURN_IF_ERROR(
        PageError(store_.Read([&](store::ReadTx& tx) -> absl::Status {
          NEST_ASSIGN_OR_RETURN(store::ListQuery q, Query(page));
          narrow(q);
          NEST_ASSIGN_OR_RETURN(auto rows, list(tx, q));
          for (auto& row : rows.items) {
            NEST_ASSIGN_OR_RETURN(View v, view(tx, row));
            out.items.push_back(std::move(v));
          }
          out.next_page_token = rows.next_page_token;
          return absl::OkStatus();
        })));
    return out;
  }

  store::Store& store_;
  Controller* controller_;
  ImageSource& images_;
  Clock& clock_;
  const CommandsOptions options_;
  const TenantId tenant_;
  std::string actor_ = "api";
  bool cluster_wide_ = true;
};

// Validation and views shared by the commands_*.cc files.
namespace commands_internal {

[[nodiscard]] absl::StatusOr<store::VmGroup> BuildGroup(
    const TenantId& tenant, const std::string& name, const GroupSpecInput& in,
    absl::string_view prefix, FieldErrors& errors);
[[nodiscard]] store::Workload BuildWorkload(const TenantId& tenant,
                                            const std::string& name,
                                            const WorkloadSpecInput& in,
                                            absl::string_view prefix,
                                            FieldErrors& errors);
absl::Status ValidateHostUri(absl::string_view field, absl::string_view uri);
// INVALID_ARGUMENT for a secret whose value is the "<secret>" placeholder
// in a workload that has no stored value to keep (a create).
absl::Status RejectSecretPlaceholders(const store::Workload& w,
                                      absl::string_view prefix);

absl::StatusOr<HostView> ViewHost(store::ReadTx& tx, const store::Host& h);
absl::StatusOr<GroupView> ViewGroup(store::ReadTx& tx, const store::VmGroup& g);
absl::StatusOr<VmView> ViewVm(store::ReadTx& tx, const store::Vm& vm);
absl::StatusOr<WorkloadView> ViewWorkload(store::ReadTx& tx,
                                          const store::Workload& w);
absl::StatusOr<ContainerView> ViewContainer(store::ReadTx& tx,
                                            const store::Container& c);

// Human field diffs of the user-visible spec ("replicas: 2 -> 3").
std::vector<std::string> DiffGroups(const store::VmGroup& a,
                                    const store::VmGroup& b);
std::vector<std::string> DiffWorkloads(const store::Workload& a,
                                       const store::Workload& b);
// Copies the user-visible spec of `from` onto `to` (keeps identity, meta
// and controller bookkeeping).
void CopyGroupSpec(const store::VmGroup& from, store::VmGroup& to);
void CopyWorkloadSpec(const store::Workload& from, store::Workload& to);

}  // namespace commands_internal

}  // namespace nest::control

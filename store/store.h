// Nest's desired and observed state in one SQLite file.
//
// Contract:
//  - Every change happens inside Store::Write (or WriteIdempotent): one
//    SQLite transaction that commits entirely or not at all, and appends one
//    event row per changed object in the same transaction.
//  - Every object has a generation: 1 on create, +1 on every change. Update
//    and Delete take `expected_generation` (0 = don't care); a stale value
//    fails with FAILED_PRECONDITION naming the current generation.
//  - Creating an existing key -> ALREADY_EXISTS; a missing object or parent
//    -> NOT_FOUND; deleting an object others still refer to ->
//    FAILED_PRECONDITION. Messages name the kind and the name.
//  - Reads see a consistent snapshot for the whole Read callback.
//
// Thread-safety: Store is thread-safe. Writers are serialized by one mutex
// around the single writer connection; readers use a pool of connections and
// run concurrently with the writer (WAL). ReadTx/WriteTx are only valid
// inside the callback that received them and must not cross threads.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/functional/function_ref.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "core/clock.h"
#include "core/status.h"
#include "store/types.h"

namespace nest::store {
namespace internal {
class Db;
}  // namespace internal

struct StoreOptions {
  std::string path;  // the database file; created when missing
  int busy_timeout_ms = 5000;
  int max_idle_readers = 4;  // read connections kept open between reads
};

// Filters and paging for List* calls. Lists are ordered by key. A filter
// that does not apply to the kind being listed is INVALID_ARGUMENT:
//   tenant:         every tenant-scoped kind (not hosts; for tenants it
//                   selects that one tenant)
//   group, host:    VMs
//   workload, vm:   containers
struct ListQuery {
  TenantId tenant;
  GroupId group;
  HostId host;
  WorkloadId workload;
  VmId vm;
  int64_t limit = 0;       // 0 = no limit
  std::string page_token;  // from a previous Page; opaque
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_page_token;  // empty on the last page
};

// Overrides the event a mutation appends. Empty fields keep the defaults
// (reason "Created"/"Updated"/"Deleted").
struct EventNote {
  std::string reason;
  std::string message;
};

// One address range the IPAM handed out, as plain text: the store keeps
// rows, net/ gives them meaning (net::Allocation; store/ may not depend on
// net/, so the control layer converts). (kind, owner) is the key and no two
// rows hold the same prefix. Not an object: no generation and no event,
// because the object the range belongs to records the change.
struct IpAllocationRow {
  std::string kind;    // "network", "vm_address", "container_block"
  std::string owner;   // the network's key or the VM id
  std::string prefix;  // "10.88.0.0/20"
  friend bool operator==(const IpAllocationRow&,
                         const IpAllocationRow&) = default;
};

// An API bearer token. The secret itself is never stored: `digest` is the
// hex SHA-256 of it. Not an object (no generation); creating and revoking
// one is audited by the API call's event.
struct ApiTokenRow {
  std::string id;  // "tok-…", shown in lists and audit events
  TenantId tenant;
  std::string role;  // "operator", "tenant-admin", "tenant-reader"
  std::string digest;
  std::string description;
  absl::Time created_at = absl::InfinitePast();
  absl::Time revoked_at = absl::InfinitePast();  // InfinitePast: active
  friend bool operator==(const ApiTokenRow&, const ApiTokenRow&) = default;
};

struct EventQuery {
  int64_t after_seq = 0;  // return events with seq > after_seq
  int64_t limit = 1000;
  TenantId tenant;   // empty = all tenants (and cluster-wide events)
  std::string kind;  // empty = every kind; else only this object kind
  std::string name;  // empty = every object; else only this name/id
};

// Read access inside Store::Read, Store::Write and Store::WriteIdempotent.
class ReadTx {
 public:
  ReadTx(const ReadTx&) = delete;
  ReadTx& operator=(const ReadTx&) = delete;

  [[nodiscard]] absl::StatusOr<Tenant> GetTenant(const TenantId& name);
  [[nodiscard]] absl::StatusOr<Host> GetHost(const HostId& name);
  [[nodiscard]] absl::StatusOr<VmGroup> GetGroup(const TenantId& tenant,
                                                 const GroupId& name);
  [[nodiscard]] absl::StatusOr<Vm> GetVm(const VmId& id);
  [[nodiscard]] absl::StatusOr<Workload> GetWorkload(const TenantId& tenant,
                                                     const WorkloadId& name);
  [[nodiscard]] absl::StatusOr<Container> GetContainer(const ContainerId& id);
  [[nodiscard]] absl::StatusOr<Image> GetImage(const TenantId& tenant,
                                               const ImageId& name);

  [[nodiscard]] absl::StatusOr<Page<Tenant>> ListTenants(
      const ListQuery& q = {});
  [[nodiscard]] absl::StatusOr<Page<Host>> ListHosts(const ListQuery& q = {});
  [[nodiscard]] absl::StatusOr<Page<VmGroup>> ListGroups(
      const ListQuery& q = {});
  [[nodiscard]] absl::StatusOr<Page<Vm>> ListVms(const ListQuery& q = {});
  [[nodiscard]] absl::StatusOr<Page<Workload>> ListWorkloads(
      const ListQuery& q = {});
  [[nodiscard]] absl::StatusOr<Page<Container>> ListContainers(
      const ListQuery& q = {});
  [[nodiscard]] absl::StatusOr<Page<Image>> ListImages(const ListQuery& q = {});

  // Events with seq > q.after_seq, oldest first, at most q.limit. When
  // events after q.after_seq were already pruned, fails with OUT_OF_RANGE
  // naming the oldest retained sequence (a watcher must re-list).
  [[nodiscard]] absl::StatusOr<std::vector<Event>> EventsSince(
      const EventQuery& q);
  // Every IP allocation, ordered by (kind, owner).
  [[nodiscard]] absl::StatusOr<std::vector<IpAllocationRow>>
  ListIpAllocations();
  // The prefix (kind, owner) holds, e.g. "10.88.0.64/32"; empty when none.
  [[nodiscard]] absl::StatusOr<std::string> GetIpAllocation(
      absl::string_view kind, absl::string_view owner);

  // The templates updates replaced (store/types.h), oldest first; empty
  // for a workload never changed, or unknown.
  [[nodiscard]] absl::StatusOr<std::vector<WorkloadRevision>>
  ListWorkloadRevisions(const TenantId& tenant, const WorkloadId& name);

  // API tokens, oldest first; NOT_FOUND for an unknown digest or id.
  [[nodiscard]] absl::StatusOr<std::vector<ApiTokenRow>> ListApiTokens();
  [[nodiscard]] absl::StatusOr<ApiTokenRow> GetApiTokenByDigest(
      absl::string_view digest);
  [[nodiscard]] absl::StatusOr<ApiTokenRow> GetApiToken(absl::string_view id);

  // The oldest retained event's seq; LastEventSeq()+1 when none is retained.
  [[nodiscard]] absl::StatusOr<int64_t> OldestEventSeq();
  // The highest seq ever assigned (0 for a new store).
  [[nodiscard]] absl::StatusOr<int64_t> LastEventSeq();

 protected:
  explicit ReadTx(internal::Db* db) : db_(db) {}
  ~ReadTx() = default;

  template <typename T>
  absl::StatusOr<T> GetT(const T& probe);
  template <typename T>
  absl::StatusOr<Page<T>> ListT(const ListQuery& q);

  internal::Db* db_;

 private:
  friend class Store;
};

// Read and write access inside Store::Write / Store::WriteIdempotent. The
// store sets generation and times; the caller's values are ignored.
class WriteTx : public ReadTx {
 public:
  // Recorded on every event this transaction appends from now on (audit).
  void SetActor(std::string actor, std::string request_id);

  [[nodiscard]] absl::StatusOr<Tenant> CreateTenant(const Tenant& t,
                                                    const EventNote& n = {});
  [[nodiscard]] absl::StatusOr<Tenant> UpdateTenant(const Tenant& t,
                                                    int64_t expected_generation,
                                                    const EventNote& n = {});
  [[nodiscard]] absl::Status DeleteTenant(const TenantId& name,
                                          int64_t expected_generation,
                                          const EventNote& n = {});

  [[nodiscard]] absl::StatusOr<Host> CreateHost(const Host& h,
                                                const EventNote& n = {});
  [[nodiscard]] absl::StatusOr<Host> UpdateHost(const Host& h,
                                                int64_t expected_generation,
                                                const EventNote& n = {});
  [[nodiscard]] absl::Status DeleteHost(const HostId& name,
                                        int64_t expected_generation,
                                        const EventNote& n = {});

  [[nodiscard]] absl::StatusOr<VmGroup> CreateGroup(const VmGroup& g,
                                                    const EventNote& n = {});
  [[nodiscard]] absl::StatusOr<VmGroup> UpdateGroup(const VmGroup& g,
                                                    int64_t expected_generation,
                                                    const EventNote& n = {});
  [[nodiscard]] absl::Status DeleteGroup(const TenantId& tenant,
                                         const GroupId& name,
                                         int64_t expected_generation,
                                         const EventNote& n = {});

  [[nodiscard]] absl::StatusOr<Vm> CreateVm(const Vm& vm,
                                            const EventNote& n = {});
  [[nodiscard]] absl::StatusOr<Vm> UpdateVm(const Vm& vm,
                                            int64_t expected_generation,
                                            const EventNote& n = {});
  [[nodiscard]] absl::Status DeleteVm(const VmId& id,
                                      int64_t expected_generation,
                                      const EventNote& n = {});

  [[nodiscard]] absl::StatusOr<Workload> CreateWorkload(
      const Workload& w, const EventNote& n = {});
  [[nodiscard]] absl::StatusOr<Workload> UpdateWorkload(
      const Workload& w, int64_t expected_generation, const EventNote& n = {});
  [[nodiscard]] absl::Status DeleteWorkload(const TenantId& tenant,
                                            const WorkloadId& name,
                                            int64_t expected_generation,
                                            const EventNote& n = {});

  [[nodiscard]] absl::StatusOr<Container> CreateContainer(
      const Container& c, const EventNote& n = {});
  [[nodiscard]] absl::StatusOr<Container> UpdateContainer(
      const Container& c, int64_t expected_generation, const EventNote& n = {});
  [[nodiscard]] absl::Status DeleteContainer(const ContainerId& id,
                                             int64_t expected_generation,
                                             const EventNote& n = {});

  [[nodiscard]] absl::StatusOr<Image> CreateImage(const Image& i,
                                                  const EventNote& n = {});
  [[nodiscard]] absl::StatusOr<Image> UpdateImage(const Image& i,
                                                  int64_t expected_generation,
                                                  const EventNote& n = {});
  [[nodiscard]] absl::Status DeleteImage(const TenantId& tenant,
                                         const ImageId& name,
                                         int64_t expected_generation,
                                         const EventNote& n = {});

  // Records that host `name` answered at `at`. The one write that is not a
  // "change": no generation bump and no event, because every host
  // heartbeats every few seconds. A later UpdateHost never moves it back.
  [[nodiscard]] absl::Status RecordHostHeartbeat(const HostId& name,
                                                 absl::Time at);

  // IP allocations, written in the transaction of the object they belong
  // to so that both commit or neither does. Fields must be non-empty
  // (INVALID_ARGUMENT naming the field).
  //
  // Put: OK when the same row is already there. ALREADY_EXISTS when the
  // owner holds another prefix of that kind, or another row holds the
  // prefix, naming the holder: a range is never given out twice.
  [[nodiscard]] absl::Status PutIpAllocation(const IpAllocationRow& row);
  // OK when there is no such row (releasing twice is harmless).
  [[nodiscard]] absl::Status DeleteIpAllocation(absl::string_view kind,
                                                absl::string_view owner);
  // Makes the table hold exactly `rows` (the IPAM's Allocations()), touching
  // only rows that differ. Same checks as Put, on the final state.
  [[nodiscard]] absl::Status ReplaceIpAllocations(
      const std::vector<IpAllocationRow>& rows);

  // ALREADY_EXISTS for a used id or digest; created_at is set here.
  [[nodiscard]] absl::StatusOr<ApiTokenRow> CreateApiToken(ApiTokenRow row);
  // Marks the token revoked (idempotent); NOT_FOUND for an unknown id.
  [[nodiscard]] absl::StatusOr<ApiTokenRow> RevokeApiToken(
      absl::string_view id);

  // Appends an event that is not a CRUD change (a scale decision, a
  // placement failure). seq and time are assigned here; actor/request_id
  // default to SetActor's. Returns the seq.
  [[nodiscard]] absl::StatusOr<int64_t> AppendEvent(Event e);

  // Runs `fn` inside a savepoint: when it fails, everything it wrote (rows
  // and events) is undone and its error returned, while the rest of the
  // transaction stands. Lets one transaction carry many independent
  // changes (a batch of observations) without one bad change spoiling the
  // others or leaving half of itself behind.
  [[nodiscard]] absl::Status Nested(
      absl::FunctionRef<absl::Status(WriteTx&)> fn);

 private:
  friend class Store;
  WriteTx(internal::Db* db, Clock& clock) : ReadTx(db), clock_(clock) {}

  template <typename T>
  absl::StatusOr<T> CreateT(const T& obj, const EventNote& n);
  template <typename T>
  absl::StatusOr<T> UpdateT(const T& obj, int64_t expected_generation,
                            const EventNote& n);
  template <typename T>
  absl::Status DeleteT(const T& probe, int64_t expected_generation,
                       const EventNote& n);
  template <typename T>
  absl::Status CheckParents(const T& obj);
  template <typename T>
  absl::Status AppendChange(const T& obj, absl::string_view default_reason,
                            const EventNote& n);
  // Keeps `replaced` as the workload's next revision (store/revisions.cc).
  absl::Status KeepRevision(const Workload& replaced);

  Clock& clock_;
  std::string actor_;
  std::string request_id_;
  int64_t last_seq_ = 0;  // highest seq appended in this transaction
  int64_t rows_ = 0;      // object rows and events written (WriteStats)
};

// Identifies one API request for idempotency. `request_hash` is a digest
// of everything that makes the request what it is (method and body);
// HashRequest() below gives a suitable one.
struct IdempotencyKey {
  TenantId tenant;
  std::string request_id;  // empty = not idempotent, just run the write
  std::string request_hash;
};

struct IdempotentResult {
  std::string response;   // the bytes the mutation returned the first time
  bool replayed = false;  // true when served from the idempotency table
};

class Store {
 public:
  // Opens or creates the store at options.path and migrates it to
  // kSchemaVersion. Refuses (FAILED_PRECONDITION) a file whose schema is
  // newer than this binary or that is not a Nest store.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<Store>> Open(
      const StoreOptions& options, Clock& clock);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Runs `fn` in one read transaction (a consistent snapshot).
  [[nodiscard]] absl::Status Read(absl::FunctionRef<absl::Status(ReadTx&)> fn);

  // Runs `fn` in one write transaction: commits when it returns OK, rolls
  // back everything (objects and events) otherwise and returns its error.
  [[nodiscard]] absl::Status Write(
      absl::FunctionRef<absl::Status(WriteTx&)> fn);

  // Check the idempotency key, run the mutation, store its response: all in
  // one transaction. The same (tenant, request_id) with the same hash
  // returns the stored response without running `fn`; with a different
  // hash it fails with INVALID_ARGUMENT. A failed `fn` stores nothing, so
  // the request may be retried with the same id.
  [[nodiscard]] absl::StatusOr<IdempotentResult> WriteIdempotent(
      const IdempotencyKey& key,
      absl::FunctionRef<absl::StatusOr<std::string>(WriteTx&)> fn);

  // Everything placement needs, in one read transaction.
  [[nodiscard]] absl::StatusOr<Snapshot> ReadSnapshot();

  // Convenience wrappers of the ReadTx calls, each in its own transaction.
  [[nodiscard]] absl::StatusOr<std::vector<Event>> EventsSince(
      const EventQuery& q);
  [[nodiscard]] absl::StatusOr<int64_t> OldestEventSeq();

  // Highest committed event seq, from memory (no I/O).
  int64_t LastEventSeq() const;

  // Blocks until an event with seq > after_seq has committed, or `timeout`
  // passes, or Shutdown() is called. Returns LastEventSeq() at wake-up.
  int64_t WaitForEvents(int64_t after_seq, absl::Duration timeout);

  // Wakes every WaitForEvents caller and makes later calls return at once.
  void Shutdown();

  // Deletes events older than `older_than`. Sequence numbers are never
  // reused. Returns how many were deleted.
  [[nodiscard]] absl::StatusOr<int64_t> PruneEvents(absl::Time older_than);

  // Deletes idempotency keys older than `older_than` (their requests can no
  // longer be deduplicated). Returns how many were deleted.
  [[nodiscard]] absl::StatusOr<int64_t> PruneIdempotencyKeys(
      absl::Time older_than);

  // Online backup through SQLite's backup API: writers keep going while it
  // runs. Writes `path` atomically (temp file + rename). The result opens
  // with Store::Open like any store.
  [[nodiscard]] absl::Status Backup(const std::string& path);

  // Write transactions committed since Open (for benchmarks).
  int64_t commits() const;

  // Committed write work since Open (for benchmarks and metrics).
  struct WriteStats {
    int64_t commits = 0;  // transactions committed
    int64_t rows = 0;     // rows those transactions wrote (objects + events)
    int64_t changes = 0;  // object changes (events appended)
    // Time spent inside committed write transactions, BEGIN to COMMIT
    // (fsync included), on the store's clock.
    absl::Duration busy;
  };
  WriteStats write_stats() const;

  const std::string& path() const { return options_.path; }

 private:
  struct Reader;
  Store(const StoreOptions& options, Clock& clock);

  absl::StatusOr<std::unique_ptr<Reader>> AcquireReader();
  void ReleaseReader(std::unique_ptr<Reader> r);
  // Runs `fn` between BEGIN IMMEDIATE and COMMIT on the writer connection.
  absl::Status WriteLocked(absl::FunctionRef<absl::Status(WriteTx&)> fn)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(write_mu_);
  void Published(const WriteTx& tx, absl::Duration took);

  StoreOptions options_;
  Clock& clock_;

  absl::Mutex write_mu_;
  std::unique_ptr<internal::Db> writer_ ABSL_GUARDED_BY(write_mu_);

  absl::Mutex pool_mu_;
  std::vector<std::unique_ptr<Reader>> idle_ ABSL_GUARDED_BY(pool_mu_);

  mutable absl::Mutex events_mu_;
  int64_t last_seq_ ABSL_GUARDED_BY(events_mu_) = 0;
  WriteStats stats_ ABSL_GUARDED_BY(events_mu_);
  bool shutdown_ ABSL_GUARDED_BY(events_mu_) = false;
};

// Lower-case hex SHA-256 of `bytes`: a stable request digest for
// IdempotencyKey (stable across processes and versions, unlike absl::Hash).
std::string HashRequest(absl::string_view bytes);

}  // namespace nest::store

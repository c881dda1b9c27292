// Generic CRUD over Row<T>, and the typed ReadTx/WriteTx entry points.

#include <algorithm>
#include <optional>
#include <type_traits>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/validate.h"
#include "store/rows.h"
#include "store/store.h"

namespace nest::store {

using internal::BindTime;
using internal::ReadTime;
using internal::Row;
using internal::Stmt;

namespace {

constexpr int CountColumns(absl::string_view cols) {
  int n = 1;
  for (char c : cols) n += c == ',' ? 1 : 0;
  return n;
}

std::string Placeholders(int n) {
  std::string out;
  for (int i = 0; i < n; ++i) absl::StrAppend(&out, i == 0 ? "?" : ", ?");
  return out;
}

template <typename T>
constexpr bool kHasTenantColumn =
    !std::is_same_v<T, Tenant> && !std::is_same_v<T, Host>;

template <typename T>
std::string Describe(const T& o) {
  std::string out =
      absl::StrCat(Row<T>::kKind, " ", QuoteForMessage(Row<T>::Name(o)));
  // VMs and containers have globally unique ids; naming their tenant would
  // add nothing.
  if constexpr (std::is_same_v<T, VmGroup> || std::is_same_v<T, Workload> ||
                std::is_same_v<T, Image>) {
    absl::StrAppend(&out, " of tenant ", QuoteForMessage(o.tenant.str()));
  }
  return out;
}

template <typename T>
std::string SelectSql() {
  return absl::StrCat("SELECT ", Row<T>::kCols,
                      ", generation, created_ns, updated_ns FROM ",
                      Row<T>::kTable);
}

template <typename T>
absl::StatusOr<T> ReadFull(const Stmt& s) {
  NEST_ASSIGN_OR_RETURN(T obj, Row<T>::Read(s));
  constexpr int n = CountColumns(Row<T>::kCols);
  obj.meta.generation = s.Int(n);
  obj.meta.created_at = ReadTime(s, n + 1);
  obj.meta.updated_at = ReadTime(s, n + 2);
  return obj;
}

template <typename T>
absl::StatusOr<std::optional<T>> Find(internal::Db* db, const T& probe) {
  constexpr int keys = CountColumns(Row<T>::kKeyCols);
  static const std::string sql =
      absl::StrCat(SelectSql<T>(), " WHERE (", Row<T>::kKeyCols, ") = (",
                   Placeholders(keys), ")");
  NEST_ASSIGN_OR_RETURN(Stmt s, db->Prepare(sql));
  Row<T>::BindKey(s, probe);
  NEST_ASSIGN_OR_RETURN(bool row, s.Step());
  if (!row) return std::optional<T>();
  NEST_ASSIGN_OR_RETURN(T obj, ReadFull<T>(s));
  return std::optional<T>(std::move(obj));
}

// Existence only: parents are checked on every create, and decoding a
// whole row (JSON columns included) just to drop it is wasted work.
template <typename T>
absl::StatusOr<bool> Exists(internal::Db* db, const T& probe) {
  constexpr int keys = CountColumns(Row<T>::kKeyCols);
  static const std::string sql =
      absl::StrCat("SELECT 1 FROM ", Row<T>::kTable, " WHERE (",
                   Row<T>::kKeyCols, ") = (", Placeholders(keys), ")");
  NEST_ASSIGN_OR_RETURN(Stmt s, db->Prepare(sql));
  Row<T>::BindKey(s, probe);
  return s.Step();
}

// Whether two versions of one row refer to the same parents. Keys never
// change in an update, and the kinds not listed have only key parents.
template <typename T>
bool SameParents(const T&, const T&) {
  return true;
}
bool SameParents(const Vm& a, const Vm& b) {
  return a.tenant == b.tenant && a.group == b.group && a.host == b.host;
}
bool SameParents(const Container& a, const Container& b) {
  return a.tenant == b.tenant && a.workload == b.workload && a.vm == b.vm;
}

template <typename T>
absl::Status NotFound(const T& probe) {
  return absl::NotFoundError(absl::StrCat(Describe(probe), " not found"));
}

// The parent must exist; `what` says which reference of `child` failed.
template <typename P, typename C>
absl::Status RequireParent(internal::Db* db, const P& probe, const C& child) {
  NEST_ASSIGN_OR_RETURN(bool found, Exists(db, probe));
  if (!found) {
    return absl::NotFoundError(absl::StrCat(Describe(child), " refers to ",
                                            Describe(probe),
                                            ", which was not found"));
  }
  return absl::OkStatus();
}

absl::Status Unused(const char* filter, absl::string_view kind) {
  return absl::InvalidArgumentError(absl::StrCat(
      "filter ", filter, " does not apply to listing ", kind, "s"));
}

template <typename T>
absl::Status AddFilters(const ListQuery& q, std::string* where,
                        std::vector<std::string>* binds) {
  auto add = [&](const char* col, const std::string& value) {
    absl::StrAppend(where, " AND ", col, " = ?");
    binds->push_back(value);
  };
  if (!q.tenant.empty()) {
    if constexpr (std::is_same_v<T, Host>) {
      return Unused("tenant", Row<T>::kKind);
    } else if constexpr (std::is_same_v<T, Tenant>) {
      add("name", q.tenant.str());
    } else {
      add("tenant", q.tenant.str());
    }
  }
  if (!q.group.empty()) {
    if constexpr (!std::is_same_v<T, Vm>) return Unused("group", Row<T>::kKind);
    add("group_name", q.group.str());
  }
  if (!q.host.empty()) {
    if constexpr (!std::is_same_v<T, Vm>) return Unused("host", Row<T>::kKind);
    add("host", q.host.str());
  }
  if (!q.workload.empty()) {
    if constexpr (!std::is_same_v<T, Container>) {
      return Unused("workload", Row<T>::kKind);
    }
    add("workload", q.workload.str());
  }
  if (!q.vm.empty()) {
    if constexpr (!std::is_same_v<T, Container>) {
      return Unused("vm", Row<T>::kKind);
    }
    add("vm", q.vm.str());
  }
  return absl::OkStatus();
}

constexpr char kTokenSep = '\x1f';

// A page token is the last key of the page, prefixed with the kind so a
// token from one list cannot be replayed against another.
template <typename T>
std::string EncodeToken(const T& last) {
  std::vector<std::string> parts = Row<T>::KeyParts(last);
  parts.insert(parts.begin(), std::string(Row<T>::kKind));
  return absl::WebSafeBase64Escape(
      absl::StrJoin(parts, std::string(1, kTokenSep)));
}

template <typename T>
absl::StatusOr<std::vector<std::string>> DecodeToken(absl::string_view token) {
  std::string raw;
  std::vector<std::string> out;
  if (absl::WebSafeBase64Unescape(token, &raw)) {
    out = absl::StrSplit(raw, kTokenSep);
  }
  constexpr int keys = CountColumns(Row<T>::kKeyCols);
  if (static_cast<int>(out.size()) != keys + 1 || out[0] != Row<T>::kKind) {
    return absl::InvalidArgumentError(absl::StrCat(
        "page_token is not a token returned by a previous list of ",
        Row<T>::kKind, "s"));
  }
  out.erase(out.begin());
  return out;
}

}  // namespace

template <typename T>
absl::StatusOr<T> ReadTx::GetT(const T& probe) {
  NEST_ASSIGN_OR_RETURN(std::optional<T> found, Find(db_, probe));
  if (!found) return NotFound(probe);
  return std::move(*found);
}

template <typename T>
absl::StatusOr<Page<T>> ReadTx::ListT(const ListQuery& q) {
  if (q.limit < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("limit must be >= 0, got ", q.limit));
  }
  std::string where = "1";
  std::vector<std::string> binds;
  NEST_RETURN_IF_ERROR(AddFilters<T>(q, &where, &binds));
  constexpr int keys = CountColumns(Row<T>::kKeyCols);
  if (!q.page_token.empty()) {
    NEST_ASSIGN_OR_RETURN(std::vector<std::string> after,
                          DecodeToken<T>(q.page_token));
    absl::StrAppend(&where, " AND (", Row<T>::kKeyCols, ") > (",
                    Placeholders(keys), ")");
    binds.insert(binds.end(), after.begin(), after.end());
  }
  // LIMIT is a parameter so the statement cache holds one entry per filter
  // combination, not per page size; -1 means no limit. One extra row tells
  // whether another page exists.
  std::string sql = absl::StrCat(SelectSql<T>(), " WHERE ", where, " ORDER BY ",
                                 Row<T>::kKeyCols, " LIMIT ?");
  NEST_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(sql));
  for (const std::string& b : binds) s.Bind(b);
  s.BindInt(q.limit > 0 ? q.limit + 1 : -1);
  Page<T> page;
  while (true) {
    NEST_ASSIGN_OR_RETURN(bool row, s.Step());
    if (!row) break;
    if (q.limit > 0 && static_cast<int64_t>(page.items.size()) == q.limit) {
      page.next_page_token = EncodeToken(page.items.back());
      break;
    }
    NEST_ASSIGN_OR_RETURN(T obj, ReadFull<T>(s));
    page.items.push_back(std::move(obj));
  }
  return page;
}

// Parents: names are checked here (the API validates first; this is the
// last line of defence for the other writers), references must exist, and a
// container may only run in a VM of its own tenant.
template <>
absl::Status WriteTx::CheckParents(const Tenant& t) {
  return ValidateName("tenant name", t.name.str());
}
template <>
absl::Status WriteTx::CheckParents(const Host& h) {
  return ValidateName("host name", h.name.str());
}
template <>
absl::Status WriteTx::CheckParents(const VmGroup& g) {
  NEST_RETURN_IF_ERROR(ValidateName("group name", g.name.str()));
  return RequireParent(db_, Tenant{g.tenant, {}, {}}, g);
}
template <>
absl::Status WriteTx::CheckParents(const Vm& vm) {
  if (vm.id.empty()) return absl::InvalidArgumentError("vm id must be set");
  VmGroup group;
  group.tenant = vm.tenant;
  group.name = vm.group;
  NEST_RETURN_IF_ERROR(RequireParent(db_, group, vm));
  if (!vm.host.empty()) {
    Host host;
    host.name = vm.host;
    NEST_RETURN_IF_ERROR(RequireParent(db_, host, vm));
  }
  return absl::OkStatus();
}
template <>
absl::Status WriteTx::CheckParents(const Workload& w) {
  NEST_RETURN_IF_ERROR(ValidateName("workload name", w.name.str()));
  return RequireParent(db_, Tenant{w.tenant, {}, {}}, w);
}
template <>
absl::Status WriteTx::CheckParents(const Container& c) {
  if (c.id.empty()) {
    return absl::InvalidArgumentError("container id must be set");
  }
  Workload w;
  w.tenant = c.tenant;
  w.name = c.workload;
  NEST_RETURN_IF_ERROR(RequireParent(db_, w, c));
  if (!c.vm.empty()) {
    Vm probe;
    probe.id = c.vm;
    NEST_ASSIGN_OR_RETURN(std::optional<Vm> vm, Find(db_, probe));
    if (!vm) {
      return absl::NotFoundError(absl::StrCat(Describe(c), " refers to ",
                                              Describe(probe),
                                              ", which was not found"));
    }
    if (vm->tenant != c.tenant) {
      return absl::FailedPreconditionError(absl::StrCat(
          Describe(c), " of tenant ", QuoteForMessage(c.tenant.str()),
          " cannot run in ", Describe(*vm), " of another tenant"));
    }
  }
  return absl::OkStatus();
}
template <>
absl::Status WriteTx::CheckParents(const Image& i) {
  if (i.name.empty())
    return absl::InvalidArgumentError("image name must be set");
  return RequireParent(db_, Tenant{i.tenant, {}, {}}, i);
}

template <typename T>
absl::Status WriteTx::AppendChange(const T& obj,
                                   absl::string_view default_reason,
                                   const EventNote& n) {
  Event e;
  e.kind = std::string(Row<T>::kKind);
  e.name = Row<T>::Name(obj);
  e.tenant = Row<T>::TenantOf(obj);
  e.reason = n.reason.empty() ? std::string(default_reason) : n.reason;
  e.message = !n.message.empty()
                  ? n.message
                  : absl::StrCat(Describe(obj), " ",
                                 absl::AsciiStrToLower(default_reason),
                                 " (generation ", obj.meta.generation, ")");
  return AppendEvent(std::move(e)).status();
}

template <typename T>
absl::StatusOr<T> WriteTx::CreateT(const T& in, const EventNote& n) {
  NEST_RETURN_IF_ERROR(CheckParents(in));
  NEST_ASSIGN_OR_RETURN(std::optional<T> existing, Find(db_, in));
  if (existing) {
    return absl::AlreadyExistsError(
        absl::StrCat(Describe(in), " already exists (generation ",
                     existing->meta.generation, ")"));
  }
  T obj = in;
  absl::Time now = clock_.Now();
  obj.meta = Meta{1, now, now};
  constexpr int cols = CountColumns(Row<T>::kCols);
  static const std::string sql =
      absl::StrCat("INSERT INTO ", Row<T>::kTable, " (", Row<T>::kCols,
                   ", generation, created_ns, "
                   "updated_ns) VALUES (",
                   Placeholders(cols + 3), ")");
  NEST_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(sql));
  Row<T>::Bind(s, obj);
  s.BindInt(1);
  BindTime(s, now);
  BindTime(s, now);
  NEST_RETURN_IF_ERROR(
      Annotate(s.Run(), absl::StrCat("creating ", Describe(in))));
  ++rows_;
  NEST_RETURN_IF_ERROR(AppendChange(obj, "Created", n));
  return obj;
}

template <typename T>
absl::StatusOr<T> WriteTx::UpdateT(const T& in, int64_t expected_generation,
                                   const EventNote& n) {
  NEST_ASSIGN_OR_RETURN(std::optional<T> cur, Find(db_, in));
  if (!cur) return NotFound(in);
  if (expected_generation != 0 && expected_generation != cur->meta.generation) {
    return absl::FailedPreconditionError(
        absl::StrCat(Describe(in), " is at generation ", cur->meta.generation,
                     ", but the update expected generation ",
                     expected_generation, "; read it again and retry"));
  }
  T obj = in;
  obj.meta = cur->meta;
  // Heartbeats only move forward: an update built from an older read must
  // not undo a RecordHostHeartbeat that landed in between.
  if constexpr (std::is_same_v<T, Host>) {
    obj.last_heartbeat = std::max(obj.last_heartbeat, cur->last_heartbeat);
  }
  // A write that changes nothing is not a change: no generation bump and no
  // event, so level-triggered reconcilers re-recording the same observation
  // do not wake each other up forever.
  if (obj == *cur) return obj;
  // Foreign keys keep a stored row's parents alive, so they need checking
  // only when the update points elsewhere. Most updates are observations
  // that move no reference, and the check was a third of their cost.
  if (!SameParents(obj, *cur)) NEST_RETURN_IF_ERROR(CheckParents(in));
  absl::Time now = clock_.Now();
  obj.meta.generation = cur->meta.generation + 1;
  obj.meta.updated_at = now;
  constexpr int cols = CountColumns(Row<T>::kCols);
  constexpr int keys = CountColumns(Row<T>::kKeyCols);
  static const std::string sql = absl::StrCat(
      "UPDATE ", Row<T>::kTable, " SET (", Row<T>::kCols,
      ", generation, updated_ns) = (", Placeholders(cols + 2), ") WHERE (",
      Row<T>::kKeyCols, ") = (", Placeholders(keys), ")");
  NEST_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(sql));
  Row<T>::Bind(s, obj);
  s.BindInt(obj.meta.generation);
  BindTime(s, now);
  Row<T>::BindKey(s, obj);
  NEST_RETURN_IF_ERROR(
      Annotate(s.Run(), absl::StrCat("updating ", Describe(in))));
  ++rows_;
  NEST_RETURN_IF_ERROR(AppendChange(obj, "Updated", n));
  return obj;
}

template <typename T>
absl::Status WriteTx::DeleteT(const T& probe, int64_t expected_generation,
                              const EventNote& n) {
  NEST_ASSIGN_OR_RETURN(std::optional<T> cur, Find(db_, probe));
  if (!cur) return NotFound(probe);
  if (expected_generation != 0 && expected_generation != cur->meta.generation) {
    return absl::FailedPreconditionError(absl::StrCat(
        Describe(probe), " is at generation ", cur->meta.generation,
        ", but the delete expected generation ", expected_generation,
        "; read it again and retry"));
  }
  constexpr int keys = CountColumns(Row<T>::kKeyCols);
  static const std::string sql =
      absl::StrCat("DELETE FROM ", Row<T>::kTable, " WHERE (", Row<T>::kKeyCols,
                   ") = (", Placeholders(keys), ")");
  NEST_ASSIGN_OR_RETURN(Stmt s, db_->Prepare(sql));
  Row<T>::BindKey(s, probe);
  absl::Status st = s.Run();
  if (!st.ok()) {
    if ((s.last_rc() & 0xff) == SQLITE_CONSTRAINT) {
      return absl::FailedPreconditionError(
          absl::StrCat("cannot delete ", Describe(probe), ": ",
                       Row<T>::kDependents, " still refer to it"));
    }
    return Annotate(st, absl::StrCat("deleting ", Describe(probe)));
  }
  ++rows_;
  return AppendChange(*cur, "Deleted", n);
}

absl::Status WriteTx::RecordHostHeartbeat(const HostId& name, absl::Time at) {
  NEST_ASSIGN_OR_RETURN(
      Stmt s, db_->Prepare("UPDATE hosts SET last_heartbeat_ns = ? WHERE "
                           "name = ?"));
  BindTime(s, at);
  s.Bind(name.str());
  NEST_RETURN_IF_ERROR(s.Run());
  if (sqlite3_changes(db_->raw()) == 0) {
    Host probe;
    probe.name = name;
    return NotFound(probe);
  }
  ++rows_;
  return absl::OkStatus();
}

// Typed entry points.

absl::StatusOr<Tenant> ReadTx::GetTenant(const TenantId& name) {
  return GetT(Tenant{name, {}, {}});
}
absl::StatusOr<Host> ReadTx::GetHost(const HostId& name) {
  Host p;
  p.name = name;
  return GetT(p);
}
absl::StatusOr<VmGroup> ReadTx::GetGroup(const TenantId& tenant,
                                         const GroupId& name) {
  VmGroup p;
  p.tenant = tenant;
  p.name = name;
  return GetT(p);
}
absl::StatusOr<Vm> ReadTx::GetVm(const VmId& id) {
  Vm p;
  p.id = id;
  return GetT(p);
}
absl::StatusOr<Workload> ReadTx::GetWorkload(const TenantId& tenant,
                                             const WorkloadId& name) {
  Workload p;
  p.tenant = tenant;
  p.name = name;
  return GetT(p);
}
absl::StatusOr<Container> ReadTx::GetContainer(const ContainerId& id) {
  Container p;
  p.id = id;
  return GetT(p);
}
absl::StatusOr<Image> ReadTx::GetImage(const TenantId& tenant,
                                       const ImageId& name) {
  Image p;
  p.tenant = tenant;
  p.name = name;
  return GetT(p);
}

absl::StatusOr<Page<Tenant>> ReadTx::ListTenants(const ListQuery& q) {
  return ListT<Tenant>(q);
}
absl::StatusOr<Page<Host>> ReadTx::ListHosts(const ListQuery& q) {
  return ListT<Host>(q);
}
absl::StatusOr<Page<VmGroup>> ReadTx::ListGroups(const ListQuery& q) {
  return ListT<VmGroup>(q);
}
absl::StatusOr<Page<Vm>> ReadTx::ListVms(const ListQuery& q) {
  return ListT<Vm>(q);
}
absl::StatusOr<Page<Workload>> ReadTx::ListWorkloads(const ListQuery& q) {
  return ListT<Workload>(q);
}
absl::StatusOr<Page<Container>> ReadTx::ListContainers(const ListQuery& q) {
  return ListT<Container>(q);
}
absl::StatusOr<Page<Image>> ReadTx::ListImages(const ListQuery& q) {
  return ListT<Image>(q);
}

absl::StatusOr<Tenant> WriteTx::CreateTenant(const Tenant& t,
                                             const EventNote& n) {
  return CreateT(t, n);
}
absl::StatusOr<Tenant> WriteTx::UpdateTenant(const Tenant& t, int64_t gen,
                                             const EventNote& n) {
  return UpdateT(t, gen, n);
}
absl::Status WriteTx::DeleteTenant(const TenantId& name, int64_t gen,
                                   const EventNote& n) {
  return DeleteT(Tenant{name, {}, {}}, gen, n);
}

absl::StatusOr<Host> WriteTx::CreateHost(const Host& h, const EventNote& n) {
  return CreateT(h, n);
}
absl::StatusOr<Host> WriteTx::UpdateHost(const Host& h, int64_t gen,
                                         const EventNote& n) {
  return UpdateT(h, gen, n);
}
absl::Status WriteTx::DeleteHost(const HostId& name, int64_t gen,
                                 const EventNote& n) {
  Host p;
  p.name = name;
  return DeleteT(p, gen, n);
}

absl::StatusOr<VmGroup> WriteTx::CreateGroup(const VmGroup& g,
                                             const EventNote& n) {
  return CreateT(g, n);
}
absl::StatusOr<VmGroup> WriteTx::UpdateGroup(const VmGroup& g, int64_t gen,
                                             const EventNote& n) {
  return UpdateT(g, gen, n);
}
absl::Status WriteTx::DeleteGroup(const TenantId& tenant, const GroupId& name,
                                  int64_t gen, const EventNote& n) {
  VmGroup p;
  p.tenant = tenant;
  p.name = name;
  return DeleteT(p, gen, n);
}

absl::StatusOr<Vm> WriteTx::CreateVm(const Vm& vm, const EventNote& n) {
  return CreateT(vm, n);
}
absl::StatusOr<Vm> WriteTx::UpdateVm(const Vm& vm, int64_t gen,
                                     const EventNote& n) {
  return UpdateT(vm, gen, n);
}
absl::Status WriteTx::DeleteVm(const VmId& id, int64_t gen,
                               const EventNote& n) {
  Vm p;
  p.id = id;
  return DeleteT(p, gen, n);
}

absl::StatusOr<Workload> WriteTx::CreateWorkload(const Workload& w,
                                                 const EventNote& n) {
  return CreateT(w, n);
}
absl::StatusOr<Workload> WriteTx::UpdateWorkload(const Workload& w, int64_t gen,
                                                 const EventNote& n) {
  NEST_ASSIGN_OR_RETURN(std::optional<Workload> cur, Find(db_, w));
  NEST_ASSIGN_OR_RETURN(Workload out, UpdateT(w, gen, n));
  if (cur && TemplateDiffers(*cur, out)) {
    NEST_RETURN_IF_ERROR(KeepRevision(*cur));
  }
  return out;
}
absl::Status WriteTx::DeleteWorkload(const TenantId& tenant,
                                     const WorkloadId& name, int64_t gen,
                                     const EventNote& n) {
  Workload p;
  p.tenant = tenant;
  p.name = name;
  return DeleteT(p, gen, n);
}

absl::StatusOr<Container> WriteTx::CreateContainer(const Container& c,
                                                   const EventNote& n) {
  return CreateT(c, n);
}
absl::StatusOr<Container> WriteTx::UpdateContainer(const Container& c,
                                                   int64_t gen,
                                                   const EventNote& n) {
  return UpdateT(c, gen, n);
}
absl::Status WriteTx::DeleteContainer(const ContainerId& id, int64_t gen,
                                      const EventNote& n) {
  Container p;
  p.id = id;
  return DeleteT(p, gen, n);
}

absl::StatusOr<Image> WriteTx::CreateImage(const Image& i, const EventNote& n) {
  return CreateT(i, n);
}
absl::StatusOr<Image> WriteTx::UpdateImage(const Image& i, int64_t gen,
                                           const EventNote& n) {
  return UpdateT(i, gen, n);
}
absl::Status WriteTx::DeleteImage(const TenantId& tenant, const ImageId& name,
                                  int64_t gen, const EventNote& n) {
  Image p;
  p.tenant = tenant;
  p.name = name;
  return DeleteT(p, gen, n);
}

}  // namespace nest::store

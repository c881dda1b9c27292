// Internal to store/: how each object kind maps onto its table. One Row<T>
// specialization per kind; the generic CRUD in objects.cc is written once
// against this interface.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/status.h"
#include "store/sqlite_util.h"
#include "store/types.h"

namespace nest::store::internal {

// Times are stored as Unix nanoseconds, "never" as NULL.
void BindTime(Stmt& s, absl::Time t);
absl::Time ReadTime(const Stmt& s, int col);

// Row<T> provides:
//   kKind      user-facing kind name, also used in events ("vm")
//   kTable     table name
//   kCols      columns other than generation/created_ns/updated_ns, in the
//              order Bind() binds and Read() reads them
//   kKeyCols   primary key columns, in the order BindKey() binds them
//   Bind(s, obj)       binds kCols
//   Read(s) -> T       reads kCols starting at column 0 (meta not included)
//   BindKey(s, obj)    binds kKeyCols from obj
//   KeyParts(obj)      the key values, for page tokens
//   Name(obj), Tenant(obj) for events and messages
//   kDependents        what may still refer to a row, for delete errors
template <typename T>
struct Row;

template <>
struct Row<Tenant> {
  static constexpr absl::string_view kKind = "tenant";
  static constexpr absl::string_view kTable = "tenants";
  static constexpr absl::string_view kCols = "name, quota";
  static constexpr absl::string_view kKeyCols = "name";
  static constexpr absl::string_view kDependents =
      "groups, VMs, workloads, containers or images";
  static void Bind(Stmt& s, const Tenant& o);
  static absl::StatusOr<Tenant> Read(const Stmt& s);
  static void BindKey(Stmt& s, const Tenant& o) { s.Bind(o.name.str()); }
  static std::vector<std::string> KeyParts(const Tenant& o) {
    return {o.name.str()};
  }
  static std::string Name(const Tenant& o) { return o.name.str(); }
  static TenantId TenantOf(const Tenant& o) { return o.name; }
};

template <>
struct Row<Host> {
  static constexpr absl::string_view kKind = "host";
  static constexpr absl::string_view kTable = "hosts";
  static constexpr absl::string_view kCols =
      "name, libvirt_uri, labels, state, cap_cpu_milli, cap_memory_mib, "
      "cap_disk_mib, facts, last_heartbeat_ns, pool";
  static constexpr absl::string_view kKeyCols = "name";
  static constexpr absl::string_view kDependents = "VMs";
  static void Bind(Stmt& s, const Host& o);
  static absl::StatusOr<Host> Read(const Stmt& s);
  static void BindKey(Stmt& s, const Host& o) { s.Bind(o.name.str()); }
  static std::vector<std::string> KeyParts(const Host& o) {
    return {o.name.str()};
  }
  static std::string Name(const Host& o) { return o.name.str(); }
  static TenantId TenantOf(const Host&) { return TenantId(); }
};

template <>
struct Row<VmGroup> {
  static constexpr absl::string_view kKind = "group";
  static constexpr absl::string_view kTable = "vm_groups";
  static constexpr absl::string_view kCols =
      "tenant, name, vcpus, memory_mib, disk_mib, boot_image, placement, "
      "spread_label, min_size, max_size, desired_size, scale_up_cooldown_ms, "
      "scale_down_cooldown_ms, last_scaled_ns, target_cpu_percent, "
      "target_memory_percent, utilization_tolerance_percent";
  static constexpr absl::string_view kKeyCols = "tenant, name";
  static constexpr absl::string_view kDependents = "VMs";
  static void Bind(Stmt& s, const VmGroup& o);
  static absl::StatusOr<VmGroup> Read(const Stmt& s);
  static void BindKey(Stmt& s, const VmGroup& o) {
    s.Bind(o.tenant.str()).Bind(o.name.str());
  }
  static std::vector<std::string> KeyParts(const VmGroup& o) {
    return {o.tenant.str(), o.name.str()};
  }
  static std::string Name(const VmGroup& o) { return o.name.str(); }
  static TenantId TenantOf(const VmGroup& o) { return o.tenant; }
};

template <>
struct Row<Vm> {
  static constexpr absl::string_view kKind = "vm";
  static constexpr absl::string_view kTable = "vms";
  static constexpr absl::string_view kCols =
      "id, tenant, group_name, host, desired, observed, boot_attempts, "
      "domain_name, ip, cordoned, message";
  static constexpr absl::string_view kKeyCols = "id";
  static constexpr absl::string_view kDependents = "containers";
  static void Bind(Stmt& s, const Vm& o);
  static absl::StatusOr<Vm> Read(const Stmt& s);
  static void BindKey(Stmt& s, const Vm& o) { s.Bind(o.id.str()); }
  static std::vector<std::string> KeyParts(const Vm& o) { return {o.id.str()}; }
  static std::string Name(const Vm& o) { return o.id.str(); }
  static TenantId TenantOf(const Vm& o) { return o.tenant; }
};

template <>
struct Row<Workload> {
  static constexpr absl::string_view kKind = "workload";
  static constexpr absl::string_view kTable = "workloads";
  static constexpr absl::string_view kCols =
      "tenant, name, image, command, args, env, cpu_milli, memory_mib, "
      "disk_mib, replicas, restart_policy, ports, isolation, priority, "
      "target_group, stop_grace_s, max_unavailable, max_surge, files, "
      "health_check";
  static constexpr absl::string_view kKeyCols = "tenant, name";
  static constexpr absl::string_view kDependents = "containers";
  static void Bind(Stmt& s, const Workload& o);
  static absl::StatusOr<Workload> Read(const Stmt& s);
  static void BindKey(Stmt& s, const Workload& o) {
    s.Bind(o.tenant.str()).Bind(o.name.str());
  }
  static std::vector<std::string> KeyParts(const Workload& o) {
    return {o.tenant.str(), o.name.str()};
  }
  static std::string Name(const Workload& o) { return o.name.str(); }
  static TenantId TenantOf(const Workload& o) { return o.tenant; }
};

template <>
struct Row<Container> {
  static constexpr absl::string_view kKind = "container";
  static constexpr absl::string_view kTable = "containers";
  static constexpr absl::string_view kCols =
      "id, tenant, workload, vm, desired, observed, exit_code, restarts, "
      "started_ns, finished_ns, spec_generation, message, health, image";
  static constexpr absl::string_view kKeyCols = "id";
  static constexpr absl::string_view kDependents = "nothing";
  static void Bind(Stmt& s, const Container& o);
  static absl::StatusOr<Container> Read(const Stmt& s);
  static void BindKey(Stmt& s, const Container& o) { s.Bind(o.id.str()); }
  static std::vector<std::string> KeyParts(const Container& o) {
    return {o.id.str()};
  }
  static std::string Name(const Container& o) { return o.id.str(); }
  static TenantId TenantOf(const Container& o) { return o.tenant; }
};

template <>
struct Row<Image> {
  static constexpr absl::string_view kKind = "image";
  static constexpr absl::string_view kTable = "images";
  static constexpr absl::string_view kCols =
      "tenant, name, digest, size_bytes, refcount";
  static constexpr absl::string_view kKeyCols = "tenant, name";
  static constexpr absl::string_view kDependents = "nothing";
  static void Bind(Stmt& s, const Image& o);
  static absl::StatusOr<Image> Read(const Stmt& s);
  static void BindKey(Stmt& s, const Image& o) {
    s.Bind(o.tenant.str()).Bind(o.name.str());
  }
  static std::vector<std::string> KeyParts(const Image& o) {
    return {o.tenant.str(), o.name.str()};
  }
  static std::string Name(const Image& o) { return o.name.str(); }
  static TenantId TenantOf(const Image& o) { return o.tenant; }
};

}  // namespace nest::store::internal

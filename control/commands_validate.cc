// Validation of user input into store objects, and the spec diffs Apply
// shows. Field paths are the proto's, so a client can point at its input.
#include <algorithm>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "control/commands.h"
#include "control/workload_files.h"
#include "control/workload_health.h"
#include "core/container_files.h"
#include "core/resources.h"
#include "core/validate.h"

namespace nest::control::commands_internal {
namespace {

constexpr int64_t kMaxVcpus = 64;
constexpr int64_t kMinVmMemoryMiB = 64;
constexpr int64_t kMaxReplicas = 10000;
constexpr int64_t kMaxGroupVms = 10000;
constexpr int64_t kMaxListItems = 256;
constexpr int64_t kMaxArgBytes = 4096;

std::string F(absl::string_view prefix, absl::string_view field) {
  return absl::StrCat(prefix, field);
}

void CheckRange(FieldErrors& errors, const std::string& field, int64_t v,
                int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    errors.Add(field,
               absl::StrCat("must be between ", lo, " and ", hi, ", got ", v));
  }
}

void CheckStrings(FieldErrors& errors, const std::string& field,
                  const std::vector<std::string>& list) {
  if (static_cast<int64_t>(list.size()) > kMaxListItems) {
    errors.Add(field, absl::StrCat("at most ", kMaxListItems, " entries, got ",
                                   list.size()));
  }
  for (size_t i = 0; i < list.size(); ++i) {
    if (static_cast<int64_t>(list[i].size()) > kMaxArgBytes ||
        list[i].find('\0') != std::string::npos || !IsValidUtf8(list[i])) {
      errors.Add(absl::StrCat(field, "[", i, "]"),
                 absl::StrCat("must be at most ", kMaxArgBytes,
                              " bytes of UTF-8 without NUL characters"));
    }
  }
}

void DiffField(std::vector<std::string>& out, absl::string_view name,
               const std::string& a, const std::string& b) {
  if (a != b) out.push_back(absl::StrCat(name, ": ", a, " -> ", b));
}

std::string Quoted(const std::vector<std::string>& v) {
  std::vector<std::string> q;
  for (const auto& s : v) q.push_back(absl::StrCat("\"", s, "\""));
  return absl::StrCat("[", absl::StrJoin(q, ", "), "]");
}

std::string EnvText(const std::vector<store::EnvVar>& env) {
  std::vector<std::string> parts;
  for (const auto& e : env) {
    parts.push_back(absl::StrCat(e.name, "=", e.secret ? "<secret>" : e.value));
  }
  return absl::StrCat("{", absl::StrJoin(parts, ", "), "}");
}

std::string PortsText(const std::vector<store::Port>& ports) {
  std::vector<std::string> parts;
  for (const auto& p : ports) {
    parts.push_back(absl::StrCat(
        p.name.empty() ? "" : p.name + ":", p.container_port,
        p.host_port ? absl::StrCat("->", p.host_port) : std::string(), "/",
        p.protocol));
  }
  return absl::StrCat("[", absl::StrJoin(parts, ", "), "]");
}

}  // namespace

absl::Status ValidateHostUri(absl::string_view field, absl::string_view uri) {
  const std::string expected =
      "a libvirt URI such as \"qemu:///system\", "
      "\"qemu+tcp://10.0.0.2/system\" or \"qemu+tls://host/system\"";
  auto bad = [&](absl::string_view why) {
    return absl::InvalidArgumentError(absl::StrCat(field, " must be ", expected,
                                                   " (", why, "), got ",
                                                   QuoteForMessage(uri)));
  };
  if (uri.empty()) return bad("it is empty");
  if (uri.size() > 1024) return bad("longer than 1024 characters");
  for (char c : uri) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f) {
      return bad("it contains whitespace or control characters");
    }
  }
  size_t sep = uri.find("://");
  if (sep == absl::string_view::npos) return bad("no \"://\"");
  absl::string_view scheme = uri.substr(0, sep);
  absl::string_view rest = uri.substr(sep + 3);
  static const char* kQemu[] = {"qemu",        "qemu+tcp",  "qemu+tls",
                                "qemu+ssh",    "qemu+unix", "qemu+libssh",
                                "qemu+libssh2"};
  bool qemu = std::any_of(std::begin(kQemu), std::end(kQemu),
                          [&](const char* s) { return scheme == s; });
  // test:// is libvirt's mock driver; sim:// names a simulated host.
  if (!qemu && scheme != "test" && scheme != "sim") {
    return bad(absl::StrCat("unknown scheme \"", scheme,
                            "\"; expected qemu, qemu+tcp, qemu+tls, qemu+ssh, "
                            "qemu+unix, test or sim"));
  }
  if (qemu) {
    size_t slash = rest.find('/');
    if (slash == absl::string_view::npos) return bad("no path");
    absl::string_view path = rest.substr(slash);
    size_t q = path.find('?');
    if (q != absl::string_view::npos) path = path.substr(0, q);
    if (path != "/system" && path != "/session") {
      return bad("the path must be /system or /session");
    }
  } else if (rest.empty()) {
    return bad("nothing after \"://\"");
  }
  return absl::OkStatus();
}

absl::StatusOr<store::VmGroup> BuildGroup(const TenantId& tenant,
                                          const std::string& name,
                                          const GroupSpecInput& in,
                                          absl::string_view prefix,
                                          FieldErrors& errors) {
  store::VmGroup g;
  g.tenant = tenant;
  g.name = GroupId(name);
  errors.Check(F(prefix, "name"), ValidateName(F(prefix, "name"), name));
  const std::string spec = F(prefix, "spec.");
  CheckRange(errors, spec + "shape.vcpus", in.vcpus, 1, kMaxVcpus);
  g.vcpus = in.vcpus;
  if (in.memory.empty()) {
    errors.Add(spec + "shape.memory",
               "is required: the VM's memory, such as \"256Mi\"");
  } else {
    auto mib = ParseMiB(spec + "shape.memory", in.memory);
    errors.Check(spec + "shape.memory", mib.status());
    if (mib.ok() && *mib < kMinVmMemoryMiB) {
      errors.Add(spec + "shape.memory",
                 absl::StrCat("must be at least ", kMinVmMemoryMiB, "Mi, got ",
                              QuoteForMessage(in.memory)));
    }
    if (mib.ok()) g.memory_mib = *mib;
  }
  if (!in.disk.empty()) {
    auto mib = ParseMiB(spec + "shape.disk", in.disk);
    errors.Check(spec + "shape.disk", mib.status());
    // The VM's data disk (see images::CreateDataDisk for the bounds).
    if (mib.ok() && (*mib < 16 || *mib > (int64_t{16} << 20))) {
      errors.Add(spec + "shape.disk",
                 absl::StrCat("must be between 16Mi and 16Ti, got ",
                              QuoteForMessage(in.disk)));
    }
    if (mib.ok()) g.disk_mib = *mib;
  }
  g.boot_image = in.boot_image;
  if (!in.policy.empty()) {
    auto p = store::ParsePlacementPolicy(spec + "policy", in.policy);
    errors.Check(spec + "policy", p.status());
    if (p.ok()) g.placement = *p;
  }
  g.spread_label = in.spread_label;
  if (!in.spread_label.empty() &&
      g.placement != store::PlacementPolicy::kSpread) {
    errors.Add(spec + "spread_label", "is only valid with policy spread");
  }
  CheckRange(errors, spec + "min_vms", in.min_vms, 0, kMaxGroupVms);
  CheckRange(errors, spec + "max_vms", in.max_vms, 1, kMaxGroupVms);
  if (in.min_vms > in.max_vms && in.max_vms >= 1) {
    errors.Add(spec + "min_vms",
               absl::StrCat("must be at most max_vms (", in.max_vms, "), got ",
                            in.min_vms));
  }
  if (in.desired_vms != 0 &&
      (in.desired_vms < in.min_vms || in.desired_vms > in.max_vms)) {
    errors.Add(
        spec + "desired_vms",
        absl::StrCat("must be 0 (autoscaled) or between min_vms (", in.min_vms,
                     ") and max_vms (", in.max_vms, "), got ", in.desired_vms));
  }
  CheckRange(errors, spec + "scale_up_cooldown_s", in.scale_up_cooldown_s, 0,
             86400);
  CheckRange(errors, spec + "scale_down_cooldown_s", in.scale_down_cooldown_s,
             0, 86400);
  for (auto [field, v] :
       {std::pair{"target_cpu_percent", in.target_cpu_percent},
        std::pair{"target_memory_percent", in.target_memory_percent}}) {
    if (v < 0 || v > 100) {
      errors.Add(spec + field,
                 absl::StrCat("must be 0 (off) or 1..100, got ", v));
    }
  }
  if (in.utilization_tolerance_percent < 0 ||
      in.utilization_tolerance_percent > 100) {
    errors.Add(
        spec + "utilization_tolerance_percent",
        absl::StrCat("must be 0 (", kDefaultUtilizationTolerance,
                     ") or 1..100, got ", in.utilization_tolerance_percent));
  }
  g.target_cpu_percent = in.target_cpu_percent;
  g.target_memory_percent = in.target_memory_percent;
  g.utilization_tolerance_percent = in.utilization_tolerance_percent == 0
                                        ? kDefaultUtilizationTolerance
                                        : in.utilization_tolerance_percent;
  g.min_size = in.min_vms;
  g.max_size = in.max_vms;
  g.desired_size = in.desired_vms;
  g.scale_up_cooldown = absl::Seconds(in.scale_up_cooldown_s);
  g.scale_down_cooldown = in.scale_down_cooldown_s == 0
                              ? kDefaultScaleDownCooldown
                              : absl::Seconds(in.scale_down_cooldown_s);
  return g;
}

store::Workload BuildWorkload(const TenantId& tenant, const std::string& name,
                              const WorkloadSpecInput& in,
                              absl::string_view prefix, FieldErrors& errors) {
  store::Workload w;
  w.tenant = tenant;
  w.name = WorkloadId(name);
  errors.Check(F(prefix, "name"), ValidateName(F(prefix, "name"), name));
  const std::string spec = F(prefix, "spec.");
  if (in.image.empty()) {
    errors.Add(spec + "image", "is required: the name of an imported image");
  } else if (in.image.size() > 255 || !IsValidUtf8(in.image)) {
    errors.Add(spec + "image", "must be at most 255 characters of UTF-8");
  }
  w.image = in.image;
  CheckStrings(errors, spec + "command", in.command);
  CheckStrings(errors, spec + "args", in.args);
  w.command = in.command;
  w.args = in.args;
  if (static_cast<int64_t>(in.env.size() + in.secret_env.size()) >
      kMaxListItems) {
    errors.Add(spec + "env",
               absl::StrCat("at most ", kMaxListItems,
                            " variables (env and secret_env), got ",
                            in.env.size() + in.secret_env.size()));
  }
  for (const auto& [k, v] : in.secret_env) {
    if (in.env.count(k)) {
      errors.Add(absl::StrCat(spec, "secret_env[", QuoteForMessage(k), "]"),
                 "is also in env; a variable is either secret or not");
    }
  }
  auto add_env = [&](const std::map<std::string, std::string>& vars,
                     bool secret) {
    const char* field = secret ? "secret_env[" : "env[";
    for (const auto& [k, v] : vars) {
      bool ok = !k.empty() && k.size() <= 255 &&
                !absl::ascii_isdigit(static_cast<unsigned char>(k[0]));
      for (char c : k) {
        ok = ok &&
             (absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '_');
      }
      if (!ok) {
        errors.Add(absl::StrCat(spec, field, QuoteForMessage(k), "]"),
                   "variable names must be 1-255 characters of [A-Za-z0-9_] "
                   "not starting with a digit");
      }
      if (v.size() > 32768 || v.find('\0') != std::string::npos ||
          !IsValidUtf8(v)) {
        errors.Add(absl::StrCat(spec, field, QuoteForMessage(k), "]"),
                   "values must be at most 32768 bytes of UTF-8 without NUL "
                   "characters");
      }
      w.env.push_back({k, v, secret});
    }
  };
  add_env(in.env, false);
  add_env(in.secret_env, true);
  if (in.cpu.empty()) {
    errors.Add(spec + "resources.cpu",
               "is required: the CPU request, such as \"100m\" or \"1\"");
  } else {
    auto m = ParseMilliCpu(spec + "resources.cpu", in.cpu);
    errors.Check(spec + "resources.cpu", m.status());
    if (m.ok()) w.requests[Dim::kCpuMilli] = *m;
  }
  if (in.memory.empty()) {
    errors.Add(spec + "resources.memory",
               "is required: the memory request, such as \"64Mi\"");
  } else {
    auto m = ParseMiB(spec + "resources.memory", in.memory);
    errors.Check(spec + "resources.memory", m.status());
    if (m.ok()) w.requests[Dim::kMemoryMiB] = *m;
  }
  if (!in.disk.empty()) {
    auto m = ParseMiB(spec + "resources.disk", in.disk);
    errors.Check(spec + "resources.disk", m.status());
    if (m.ok()) w.requests[Dim::kDiskMiB] = *m;
  }
  CheckRange(errors, spec + "replicas", in.replicas, 0, kMaxReplicas);
  w.replicas = in.replicas;
  if (!in.restart_policy.empty()) {
    auto p =
        store::ParseRestartPolicy(spec + "restart_policy", in.restart_policy);
    errors.Check(spec + "restart_policy", p.status());
    if (p.ok()) w.restart_policy = *p;
  }
  if (static_cast<int64_t>(in.ports.size()) > 64) {
    errors.Add(spec + "ports", "at most 64 ports");
  }
  for (size_t i = 0; i < in.ports.size(); ++i) {
    const PortInput& p = in.ports[i];
    std::string at = absl::StrCat(spec, "ports[", i, "].");
    if (!p.name.empty()) {
      errors.Check(at + "name", ValidateName(at + "name", p.name));
    }
    CheckRange(errors, at + "container_port", p.container_port, 1, 65535);
    CheckRange(errors, at + "host_port", p.host_port, 0, 65535);
    std::string proto = p.protocol.empty() ? "tcp" : p.protocol;
    if (proto != "tcp" && proto != "udp") {
      errors.Add(at + "protocol", absl::StrCat("must be tcp or udp, got ",
                                               QuoteForMessage(p.protocol)));
    }
    w.ports.push_back({p.name, p.container_port, p.host_port, proto});
  }
  if (!in.isolation.empty()) {
    auto iso = store::ParseIsolation(spec + "isolation", in.isolation);
    errors.Check(spec + "isolation", iso.status());
    if (iso.ok()) w.isolation = *iso;
  }
  CheckRange(errors, spec + "priority", in.priority, -1000, 1000);
  w.priority = in.priority;
  if (in.group.empty()) {
    errors.Add(spec + "group", "is required: the VM group to run in");
  } else {
    errors.Check(spec + "group", ValidateName(spec + "group", in.group));
  }
  w.target_group = GroupId(in.group);
  CheckRange(errors, spec + "stop_grace_s", in.stop_grace_s, 0, 3600);
  if (in.stop_grace_s != 0) w.stop_grace_s = in.stop_grace_s;
  CheckRange(errors, spec + "max_unavailable", in.max_unavailable, 0,
             kMaxReplicas);
  if (in.max_unavailable != 0) w.max_unavailable = in.max_unavailable;
  for (const FileInput& f : in.files) {
    w.files.push_back(
        {f.path, f.content, f.mode == 0 ? int64_t{0444} : f.mode, f.secret});
  }
  CheckWorkloadFiles(w.files, spec, errors);
  w.health_check =
      ToHealthCheck(in.health_check, spec + "health_check.", errors);
  return w;
}

void CopyGroupSpec(const store::VmGroup& from, store::VmGroup& to) {
  to.vcpus = from.vcpus;
  to.memory_mib = from.memory_mib;
  to.disk_mib = from.disk_mib;
  to.boot_image = from.boot_image;
  to.placement = from.placement;
  to.spread_label = from.spread_label;
  to.min_size = from.min_size;
  to.max_size = from.max_size;
  to.desired_size = from.desired_size;
  to.scale_up_cooldown = from.scale_up_cooldown;
  to.scale_down_cooldown = from.scale_down_cooldown;
  to.target_cpu_percent = from.target_cpu_percent;
  to.target_memory_percent = from.target_memory_percent;
  to.utilization_tolerance_percent = from.utilization_tolerance_percent;
}

void CopyWorkloadSpec(const store::Workload& from, store::Workload& to) {
  to.image = from.image;
  to.command = from.command;
  to.args = from.args;
  // A secret sent back as it reads ("<secret>") keeps its stored value.
  std::vector<store::EnvVar> env = from.env;
  for (auto& e : env) {
    if (!e.secret || e.value != kSecretShown) continue;
    for (const auto& old : to.env) {
      if (old.secret && old.name == e.name) e.value = old.value;
    }
  }
  to.env = std::move(env);
  std::vector<store::WorkloadFile> files = from.files;
  KeepStoredSecretFiles(to.files, files);
  to.files = std::move(files);
  to.requests = from.requests;
  to.replicas = from.replicas;
  to.restart_policy = from.restart_policy;
  to.ports = from.ports;
  to.isolation = from.isolation;
  to.priority = from.priority;
  to.target_group = from.target_group;
  to.stop_grace_s = from.stop_grace_s;
  to.max_unavailable = from.max_unavailable;
  to.health_check = from.health_check;
}

std::vector<std::string> DiffGroups(const store::VmGroup& a,
                                    const store::VmGroup& b) {
  std::vector<std::string> d;
  DiffField(d, "shape.vcpus", absl::StrCat(a.vcpus), absl::StrCat(b.vcpus));
  DiffField(d, "shape.memory", FormatMiB(a.memory_mib),
            FormatMiB(b.memory_mib));
  DiffField(d, "shape.disk", FormatMiB(a.disk_mib), FormatMiB(b.disk_mib));
  DiffField(d, "boot_image", a.boot_image, b.boot_image);
  DiffField(d, "policy", std::string(store::Name(a.placement)),
            std::string(store::Name(b.placement)));
  DiffField(d, "spread_label", a.spread_label, b.spread_label);
  DiffField(d, "min_vms", absl::StrCat(a.min_size), absl::StrCat(b.min_size));
  DiffField(d, "max_vms", absl::StrCat(a.max_size), absl::StrCat(b.max_size));
  DiffField(d, "desired_vms", absl::StrCat(a.desired_size),
            absl::StrCat(b.desired_size));
  DiffField(d, "scale_up_cooldown_s",
            absl::StrCat(absl::ToInt64Seconds(a.scale_up_cooldown)),
            absl::StrCat(absl::ToInt64Seconds(b.scale_up_cooldown)));
  DiffField(d, "scale_down_cooldown_s",
            absl::StrCat(absl::ToInt64Seconds(a.scale_down_cooldown)),
            absl::StrCat(absl::ToInt64Seconds(b.scale_down_cooldown)));
  DiffField(d, "target_cpu_percent", absl::StrCat(a.target_cpu_percent),
            absl::StrCat(b.target_cpu_percent));
  DiffField(d, "target_memory_percent", absl::StrCat(a.target_memory_percent),
            absl::StrCat(b.target_memory_percent));
  DiffField(d, "utilization_tolerance_percent",
            absl::StrCat(a.utilization_tolerance_percent),
            absl::StrCat(b.utilization_tolerance_percent));
  return d;
}

std::vector<std::string> DiffWorkloads(const store::Workload& a,
                                       const store::Workload& b) {
  std::vector<std::string> d;
  DiffField(d, "image", a.image, b.image);
  DiffField(d, "command", Quoted(a.command), Quoted(b.command));
  DiffField(d, "args", Quoted(a.args), Quoted(b.args));
  DiffField(d, "env", EnvText(a.env), EnvText(b.env));
  // Secret values never appear, but a changed one must still be a change.
  for (const auto& nb : b.env) {
    for (const auto& na : a.env) {
      if (na.secret && nb.secret && na.name == nb.name &&
          na.value != nb.value) {
        d.push_back(absl::StrCat("secret_env.", nb.name, ": changed"));
      }
    }
  }
  DiffField(d, "resources.cpu", FormatMilliCpu(a.requests.milli_cpu()),
            FormatMilliCpu(b.requests.milli_cpu()));
  DiffField(d, "resources.memory", FormatMiB(a.requests.memory_mib()),
            FormatMiB(b.requests.memory_mib()));
  DiffField(d, "resources.disk", FormatMiB(a.requests.disk_mib()),
            FormatMiB(b.requests.disk_mib()));
  DiffField(d, "replicas", absl::StrCat(a.replicas), absl::StrCat(b.replicas));
  DiffField(d, "restart_policy", std::string(store::Name(a.restart_policy)),
            std::string(store::Name(b.restart_policy)));
  DiffField(d, "ports", PortsText(a.ports), PortsText(b.ports));
  DiffField(d, "isolation", std::string(store::Name(a.isolation)),
            std::string(store::Name(b.isolation)));
  DiffField(d, "priority", absl::StrCat(a.priority), absl::StrCat(b.priority));
  DiffField(d, "group", a.target_group.str(), b.target_group.str());
  DiffField(d, "stop_grace_s", absl::StrCat(a.stop_grace_s),
            absl::StrCat(b.stop_grace_s));
  DiffField(d, "max_unavailable", absl::StrCat(a.max_unavailable),
            absl::StrCat(b.max_unavailable));
  DiffWorkloadFiles(a.files, b.files, d);
  DiffField(d, "health_check", HealthCheckText(a.health_check),
            HealthCheckText(b.health_check));
  return d;
}

absl::Status RejectSecretPlaceholders(const store::Workload& w,
                                      absl::string_view prefix) {
  FieldErrors errors;
  for (const auto& e : w.env) {
    if (e.secret && e.value == kSecretShown) {
      errors.Add(absl::StrCat(prefix, "spec.secret_env[",
                              QuoteForMessage(e.name), "]"),
                 absl::StrCat("\"", kSecretShown,
                              "\" keeps a stored value, but this workload has "
                              "none yet: give the value"));
    }
  }
  CheckSecretFilePlaceholders(w.files, absl::StrCat(prefix, "spec."), errors);
  return errors.ToStatus();
}

}  // namespace nest::control::commands_internal

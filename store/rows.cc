#include "store/rows.h"

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"

namespace nest::store::internal {
namespace {

using nlohmann::json;

// Collections are stored as JSON text: readable with sqlite3's json_*()
// when debugging, and no join tables for values that are always read whole.
std::string Encode(const Labels& m) { return json(m).dump(); }
std::string Encode(const std::vector<std::string>& v) { return json(v).dump(); }
std::string Encode(const std::vector<EnvVar>& v) {
  json a = json::array();
  for (const EnvVar& e : v) {
    a.push_back({{"name", e.name}, {"value", e.value}, {"secret", e.secret}});
  }
  return a.dump();
}
std::string Encode(const std::vector<Port>& v) {
  json a = json::array();
  for (const Port& p : v) {
    a.push_back({{"name", p.name},
                 {"container_port", p.container_port},
                 {"host_port", p.host_port},
                 {"protocol", p.protocol}});
  }
  return a.dump();
}

std::string Encode(const std::vector<WorkloadFile>& v) {
  json a = json::array();
  for (const WorkloadFile& f : v) {
    a.push_back({{"path", f.path},
                 {"content", f.content},
                 {"mode", f.mode},
                 {"secret", f.secret}});
  }
  return a.dump();
}
std::string Encode(const HealthCheck& h) {
  if (h.kind.empty()) return "";
  return json{{"kind", h.kind},
              {"exec", h.exec},
              {"port", h.port},
              {"path", h.path},
              {"initial_delay_s", h.initial_delay_s},
              {"period_s", h.period_s},
              {"timeout_s", h.timeout_s},
              {"failure_threshold", h.failure_threshold},
              {"success_threshold", h.success_threshold}}
      .dump();
}
std::string Encode(const Quota& q) {
  json o = json::object();
  auto put = [&](const char* key, const std::optional<int64_t>& v) {
    if (v) o[key] = *v;
  };
  put("vcpus", q.vcpus);
  put("memory_mib", q.memory_mib);
  put("vms", q.vms);
  put("containers", q.containers);
  put("images", q.images);
  return o.dump();
}

absl::Status Corrupt(absl::string_view column, absl::string_view expected) {
  return absl::DataLossError(
      absl::StrCat("store column ", column, " is not valid JSON ", expected));
}

// Parsing never throws: parse(..., allow_exceptions=false) and explicit
// type checks before every get<>().
absl::StatusOr<json> ParseJson(const std::string& text, absl::string_view col,
                               bool want_array) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || (want_array ? !j.is_array() : !j.is_object())) {
    return Corrupt(col, want_array ? "array" : "object");
  }
  return j;
}

std::string Str(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_string() ? it->get<std::string>()
                                          : std::string();
}
int64_t Int(const json& j, const char* key) {
  auto it = j.find(key);
  return it != j.end() && it->is_number_integer() ? it->get<int64_t>() : 0;
}

absl::StatusOr<Labels> DecodeLabels(const std::string& text,
                                    absl::string_view col) {
  NEST_ASSIGN_OR_RETURN(json j, ParseJson(text, col, false));
  Labels out;
  for (auto it = j.begin(); it != j.end(); ++it) {
    if (!it.value().is_string()) return Corrupt(col, "object of strings");
    out[it.key()] = it.value().get<std::string>();
  }
  return out;
}

absl::StatusOr<std::vector<std::string>> DecodeStrings(const std::string& text,
                                                       absl::string_view col) {
  NEST_ASSIGN_OR_RETURN(json j, ParseJson(text, col, true));
  std::vector<std::string> out;
  for (const json& e : j) {
    if (!e.is_string()) return Corrupt(col, "array of strings");
    out.push_back(e.get<std::string>());
  }
  return out;
}

absl::StatusOr<std::vector<EnvVar>> DecodeEnv(const std::string& text) {
  NEST_ASSIGN_OR_RETURN(json j, ParseJson(text, "workloads.env", true));
  std::vector<EnvVar> out;
  for (const json& e : j) {
    if (!e.is_object()) return Corrupt("workloads.env", "array of objects");
    auto secret = e.find("secret");
    out.push_back(EnvVar{
        Str(e, "name"), Str(e, "value"),
        secret != e.end() && secret->is_boolean() && secret->get<bool>()});
  }
  return out;
}

absl::StatusOr<std::vector<WorkloadFile>> DecodeFiles(const std::string& text) {
  NEST_ASSIGN_OR_RETURN(json j, ParseJson(text, "workloads.files", true));
  std::vector<WorkloadFile> out;
  for (const json& e : j) {
    if (!e.is_object()) return Corrupt("workloads.files", "array of objects");
    auto secret = e.find("secret");
    out.push_back(WorkloadFile{
        Str(e, "path"), Str(e, "content"), Int(e, "mode"),
        secret != e.end() && secret->is_boolean() && secret->get<bool>()});
  }
  return out;
}

absl::StatusOr<HealthCheck> DecodeHealthCheck(const std::string& text) {
  HealthCheck h;
  if (text.empty()) return h;
  NEST_ASSIGN_OR_RETURN(json j,
                        ParseJson(text, "workloads.health_check", false));
  if (!j.is_object()) return Corrupt("workloads.health_check", "object");
  try {
    h.kind = j.at("kind").get<std::string>();
    h.exec = j.at("exec").get<std::vector<std::string>>();
    h.port = j.at("port").get<int64_t>();
    h.path = j.at("path").get<std::string>();
    h.initial_delay_s = j.at("initial_delay_s").get<int64_t>();
    h.period_s = j.at("period_s").get<int64_t>();
    h.timeout_s = j.at("timeout_s").get<int64_t>();
    h.failure_threshold = j.at("failure_threshold").get<int64_t>();
    h.success_threshold = j.at("success_threshold").get<int64_t>();
  } catch (const json::exception&) {
    return Corrupt("workloads.health_check", "health check object");
  }
  return h;
}

absl::StatusOr<Quota> DecodeQuota(const std::string& text) {
  NEST_ASSIGN_OR_RETURN(json j, ParseJson(text, "tenants.quota", false));
  Quota q;
  auto get = [&](const char* key, std::optional<int64_t>* v) -> absl::Status {
    auto it = j.find(key);
    if (it == j.end()) return absl::OkStatus();
    if (!it->is_number_integer()) {
      return Corrupt("tenants.quota", "object of integers");
    }
    *v = it->get<int64_t>();
    return absl::OkStatus();
  };
  NEST_RETURN_IF_ERROR(get("vcpus", &q.vcpus));
  NEST_RETURN_IF_ERROR(get("memory_mib", &q.memory_mib));
  NEST_RETURN_IF_ERROR(get("vms", &q.vms));
  NEST_RETURN_IF_ERROR(get("containers", &q.containers));
  NEST_RETURN_IF_ERROR(get("images", &q.images));
  return q;
}

absl::StatusOr<std::vector<Port>> DecodePorts(const std::string& text) {
  NEST_ASSIGN_OR_RETURN(json j, ParseJson(text, "workloads.ports", true));
  std::vector<Port> out;
  for (const json& e : j) {
    if (!e.is_object()) return Corrupt("workloads.ports", "array of objects");
    out.push_back(Port{Str(e, "name"), Int(e, "container_port"),
                       Int(e, "host_port"), Str(e, "protocol")});
  }
  return out;
}

void BindResources(Stmt& s, const Resources& r) {
  s.BindInt(r.milli_cpu()).BindInt(r.memory_mib()).BindInt(r.disk_mib());
}

}  // namespace

void BindTime(Stmt& s, absl::Time t) {
  if (t == absl::InfinitePast()) {
    s.BindNull();
  } else {
    s.BindInt(absl::ToUnixNanos(t));
  }
}

absl::Time ReadTime(const Stmt& s, int col) {
  if (s.IsNull(col)) return absl::InfinitePast();
  return absl::FromUnixNanos(s.Int(col));
}

void Row<Tenant>::Bind(Stmt& s, const Tenant& o) {
  s.Bind(o.name.str()).Bind(Encode(o.quota));
}

absl::StatusOr<Tenant> Row<Tenant>::Read(const Stmt& s) {
  Tenant o;
  o.name = TenantId(s.Text(0));
  NEST_ASSIGN_OR_RETURN(o.quota, DecodeQuota(s.Text(1)));
  return o;
}

void Row<Host>::Bind(Stmt& s, const Host& o) {
  s.Bind(o.name.str()).Bind(o.libvirt_uri).Bind(Encode(o.labels));
  s.Bind(store::Name(o.state));
  BindResources(s, o.capacity);
  s.Bind(Encode(o.facts));
  BindTime(s, o.last_heartbeat);
  s.Bind(o.pool);
}

absl::StatusOr<Host> Row<Host>::Read(const Stmt& s) {
  Host o;
  o.name = HostId(s.Text(0));
  o.libvirt_uri = s.Text(1);
  NEST_ASSIGN_OR_RETURN(o.labels, DecodeLabels(s.Text(2), "hosts.labels"));
  NEST_ASSIGN_OR_RETURN(o.state, ParseHostState("hosts.state", s.Text(3)));
  o.capacity = Resources::Of(s.Int(4), s.Int(5), s.Int(6));
  NEST_ASSIGN_OR_RETURN(o.facts, DecodeLabels(s.Text(7), "hosts.facts"));
  o.last_heartbeat = ReadTime(s, 8);
  o.pool = s.Text(9);
  return o;
}

void Row<VmGroup>::Bind(Stmt& s, const VmGroup& o) {
  s.Bind(o.tenant.str()).Bind(o.name.str());
  s.BindInt(o.vcpus).BindInt(o.memory_mib).BindInt(o.disk_mib);
  s.Bind(o.boot_image).Bind(store::Name(o.placement)).Bind(o.spread_label);
  s.BindInt(o.min_size).BindInt(o.max_size).BindInt(o.desired_size);
  s.BindInt(absl::ToInt64Milliseconds(o.scale_up_cooldown));
  s.BindInt(absl::ToInt64Milliseconds(o.scale_down_cooldown));
  BindTime(s, o.last_scaled_at);
  s.BindInt(o.target_cpu_percent);
  s.BindInt(o.target_memory_percent);
  s.BindInt(o.utilization_tolerance_percent);
}

absl::StatusOr<VmGroup> Row<VmGroup>::Read(const Stmt& s) {
  VmGroup o;
  o.tenant = TenantId(s.Text(0));
  o.name = GroupId(s.Text(1));
  o.vcpus = s.Int(2);
  o.memory_mib = s.Int(3);
  o.disk_mib = s.Int(4);
  o.boot_image = s.Text(5);
  NEST_ASSIGN_OR_RETURN(o.placement,
                        ParsePlacementPolicy("vm_groups.placement", s.Text(6)));
  o.spread_label = s.Text(7);
  o.min_size = s.Int(8);
  o.max_size = s.Int(9);
  o.desired_size = s.Int(10);
  o.scale_up_cooldown = absl::Milliseconds(s.Int(11));
  o.scale_down_cooldown = absl::Milliseconds(s.Int(12));
  o.last_scaled_at = ReadTime(s, 13);
  o.target_cpu_percent = s.Int(14);
  o.target_memory_percent = s.Int(15);
  o.utilization_tolerance_percent = s.Int(16);
  return o;
}

void Row<Vm>::Bind(Stmt& s, const Vm& o) {
  s.Bind(o.id.str()).Bind(o.tenant.str()).Bind(o.group.str());
  if (o.host.empty()) {
    s.BindNull();
  } else {
    s.Bind(o.host.str());
  }
  s.Bind(store::Name(o.desired))
      .Bind(store::Name(o.observed))
      .BindInt(o.boot_attempts);
  s.Bind(o.domain_name).Bind(o.ip).BindInt(o.cordoned ? 1 : 0).Bind(o.message);
}

absl::StatusOr<Vm> Row<Vm>::Read(const Stmt& s) {
  Vm o;
  o.id = VmId(s.Text(0));
  o.tenant = TenantId(s.Text(1));
  o.group = GroupId(s.Text(2));
  o.host = HostId(s.Text(3));
  NEST_ASSIGN_OR_RETURN(o.desired,
                        ParseVmDesiredState("vms.desired", s.Text(4)));
  NEST_ASSIGN_OR_RETURN(o.observed,
                        ParseVmObservedState("vms.observed", s.Text(5)));
  o.boot_attempts = s.Int(6);
  o.domain_name = s.Text(7);
  o.ip = s.Text(8);
  o.cordoned = s.Int(9) != 0;
  o.message = s.Text(10);
  return o;
}

void Row<Workload>::Bind(Stmt& s, const Workload& o) {
  s.Bind(o.tenant.str()).Bind(o.name.str()).Bind(o.image);
  s.Bind(Encode(o.command)).Bind(Encode(o.args)).Bind(Encode(o.env));
  BindResources(s, o.requests);
  s.BindInt(o.replicas)
      .Bind(store::Name(o.restart_policy))
      .Bind(Encode(o.ports));
  s.Bind(store::Name(o.isolation))
      .BindInt(o.priority)
      .Bind(o.target_group.str());
  s.BindInt(o.stop_grace_s).BindInt(o.max_unavailable).BindInt(o.max_surge);
  s.Bind(Encode(o.files)).Bind(Encode(o.health_check));
}

absl::StatusOr<Workload> Row<Workload>::Read(const Stmt& s) {
  Workload o;
  o.tenant = TenantId(s.Text(0));
  o.name = WorkloadId(s.Text(1));
  o.image = s.Text(2);
  NEST_ASSIGN_OR_RETURN(o.command,
                        DecodeStrings(s.Text(3), "workloads.command"));
  NEST_ASSIGN_OR_RETURN(o.args, DecodeStrings(s.Text(4), "workloads.args"));
  NEST_ASSIGN_OR_RETURN(o.env, DecodeEnv(s.Text(5)));
  o.requests = Resources::Of(s.Int(6), s.Int(7), s.Int(8));
  o.replicas = s.Int(9);
  NEST_ASSIGN_OR_RETURN(
      o.restart_policy,
      ParseRestartPolicy("workloads.restart_policy", s.Text(10)));
  NEST_ASSIGN_OR_RETURN(o.ports, DecodePorts(s.Text(11)));
  NEST_ASSIGN_OR_RETURN(o.isolation,
                        ParseIsolation("workloads.isolation", s.Text(12)));
  o.priority = s.Int(13);
  o.target_group = GroupId(s.Text(14));
  o.stop_grace_s = s.Int(15);
  o.max_unavailable = s.Int(16);
  o.max_surge = s.Int(17);
  NEST_ASSIGN_OR_RETURN(o.files, DecodeFiles(s.Text(18)));
  NEST_ASSIGN_OR_RETURN(o.health_check, DecodeHealthCheck(s.Text(19)));
  return o;
}

void Row<Container>::Bind(Stmt& s, const Container& o) {
  s.Bind(o.id.str()).Bind(o.tenant.str()).Bind(o.workload.str());
  if (o.vm.empty()) {
    s.BindNull();
  } else {
    s.Bind(o.vm.str());
  }
  s.Bind(store::Name(o.desired))
      .Bind(store::Name(o.observed))
      .BindOptInt(o.exit_code);
  s.BindInt(o.restarts);
  BindTime(s, o.started_at);
  BindTime(s, o.finished_at);
  s.BindInt(o.spec_generation).Bind(o.message).Bind(store::Name(o.health));
  s.Bind(o.image);
}

absl::StatusOr<Container> Row<Container>::Read(const Stmt& s) {
  Container o;
  o.id = ContainerId(s.Text(0));
  o.tenant = TenantId(s.Text(1));
  o.workload = WorkloadId(s.Text(2));
  o.vm = VmId(s.Text(3));
  NEST_ASSIGN_OR_RETURN(
      o.desired, ParseContainerDesiredState("containers.desired", s.Text(4)));
  NEST_ASSIGN_OR_RETURN(o.observed, ParseContainerObservedState(
                                        "containers.observed", s.Text(5)));
  o.exit_code = s.OptInt(6);
  o.restarts = s.Int(7);
  o.started_at = ReadTime(s, 8);
  o.finished_at = ReadTime(s, 9);
  o.spec_generation = s.Int(10);
  o.message = s.Text(11);
  NEST_ASSIGN_OR_RETURN(o.health,
                        ParseContainerHealth("containers.health", s.Text(12)));
  o.image = s.Text(13);
  return o;
}

void Row<Image>::Bind(Stmt& s, const Image& o) {
  s.Bind(o.tenant.str()).Bind(o.name.str()).Bind(o.digest);
  s.BindInt(o.size_bytes).BindInt(o.refcount);
}

absl::StatusOr<Image> Row<Image>::Read(const Stmt& s) {
  Image o;
  o.tenant = TenantId(s.Text(0));
  o.name = ImageId(s.Text(1));
  o.digest = s.Text(2);
  o.size_bytes = s.Int(3);
  o.refcount = s.Int(4);
  return o;
}

}  // namespace nest::store::internal

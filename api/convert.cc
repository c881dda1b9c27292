#include "api/convert.h"

#include "absl/strings/str_cat.h"
#include "core/resources.h"
#include "google/protobuf/io/coded_stream.h"
#include "google/protobuf/io/zero_copy_stream_impl_lite.h"

namespace nest::api {
namespace {

void SetTime(absl::Time t, google::protobuf::Timestamp* out) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return;
  int64_t ns = absl::ToUnixNanos(t);
  int64_t s = ns / 1000000000;
  int64_t rem = ns % 1000000000;
  if (rem < 0) {
    rem += 1000000000;
    --s;
  }
  out->set_seconds(s);
  out->set_nanos(static_cast<int32_t>(rem));
}

void SetMeta(absl::string_view name, const TenantId& tenant,
             const store::Meta& m, v1::ObjectMeta* out) {
  out->set_name(std::string(name));
  out->set_tenant(tenant.str());
  out->set_generation(m.generation);
  SetTime(m.created_at, out->mutable_create_time());
  SetTime(m.updated_at, out->mutable_update_time());
}

void SetResources(const Resources& r, v1::Resources* out) {
  out->set_cpu(FormatMilliCpu(r.milli_cpu()));
  out->set_memory(FormatMiB(r.memory_mib()));
  out->set_disk(FormatMiB(r.disk_mib()));
}

// Unknown enum numbers become a name validation rejects, naming the field.
std::string Unknown(int n) { return absl::StrCat("enum value ", n); }

std::string PolicyName(v1::PlacementPolicy p) {
  switch (p) {
    case v1::PLACEMENT_POLICY_UNSPECIFIED:
      return "";
    case v1::PLACEMENT_POLICY_BINPACK:
      return "binpack";
    case v1::PLACEMENT_POLICY_SPREAD:
      return "spread";
    default:
      return Unknown(p);
  }
}

std::string RestartName(v1::RestartPolicy p) {
  switch (p) {
    case v1::RESTART_POLICY_UNSPECIFIED:
      return "";
    case v1::RESTART_POLICY_ALWAYS:
      return "always";
    case v1::RESTART_POLICY_ON_FAILURE:
      return "on-failure";
    case v1::RESTART_POLICY_NEVER:
      return "never";
    default:
      return Unknown(p);
  }
}

std::string IsolationName(v1::Isolation i) {
  switch (i) {
    case v1::ISOLATION_UNSPECIFIED:
      return "";
    case v1::ISOLATION_SHARED:
      return "shared";
    case v1::ISOLATION_DEDICATED:
      return "dedicated";
    default:
      return Unknown(i);
  }
}

v1::HostState ToProto(store::HostState s) {
  switch (s) {
    case store::HostState::kReady:
      return v1::HOST_STATE_READY;
    case store::HostState::kCordoned:
      return v1::HOST_STATE_CORDONED;
    case store::HostState::kDraining:
      return v1::HOST_STATE_DRAINING;
    case store::HostState::kDown:
      return v1::HOST_STATE_DOWN;
  }
  return v1::HOST_STATE_UNSPECIFIED;
}

v1::VmState ToProto(store::VmObservedState s) {
  switch (s) {
    case store::VmObservedState::kPending:
    case store::VmObservedState::kCreating:
      return v1::VM_STATE_PENDING;
    case store::VmObservedState::kBooting:
      return v1::VM_STATE_BOOTING;
    case store::VmObservedState::kRunning:
      return v1::VM_STATE_RUNNING;
    case store::VmObservedState::kStopping:
      return v1::VM_STATE_STOPPING;
    case store::VmObservedState::kStopped:
      return v1::VM_STATE_STOPPED;
    case store::VmObservedState::kFailed:
      return v1::VM_STATE_FAILED;
    case store::VmObservedState::kUnknown:
      return v1::VM_STATE_UNSPECIFIED;
  }
  return v1::VM_STATE_UNSPECIFIED;
}

v1::ContainerState ToProto(const store::Container& c) {
  if (c.desired == store::ContainerDesiredState::kDeleted &&
      c.observed == store::ContainerObservedState::kRunning) {
    return v1::CONTAINER_STATE_STOPPING;
  }
  switch (c.observed) {
    case store::ContainerObservedState::kPending:
      return c.vm.empty() ? v1::CONTAINER_STATE_PENDING
                          : v1::CONTAINER_STATE_CREATING;
    case store::ContainerObservedState::kCreating:
      return v1::CONTAINER_STATE_CREATING;
    case store::ContainerObservedState::kRunning:
      return v1::CONTAINER_STATE_RUNNING;
    case store::ContainerObservedState::kExited:
      return c.exit_code.value_or(-1) == 0 ? v1::CONTAINER_STATE_SUCCEEDED
                                           : v1::CONTAINER_STATE_FAILED;
    case store::ContainerObservedState::kFailed:
    case store::ContainerObservedState::kCrashLoop:
      return v1::CONTAINER_STATE_FAILED;
    case store::ContainerObservedState::kUnknown:
      return v1::CONTAINER_STATE_UNSPECIFIED;
  }
  return v1::CONTAINER_STATE_UNSPECIFIED;
}

}  // namespace

std::string SerializeDeterministic(const google::protobuf::Message& m) {
  std::string out;
  {
    google::protobuf::io::StringOutputStream sos(&out);
    google::protobuf::io::CodedOutputStream cos(&sos);
    cos.SetSerializationDeterministic(true);
    m.SerializeToCodedStream(&cos);
  }
  return out;
}

control::WriteMeta MetaOf(absl::string_view method,
                          const google::protobuf::Message& request,
                          const v1::WriteOptions& options) {
  control::WriteMeta m;
  m.request_id = options.request_id();
  m.expected_generation = options.expected_generation();
  if (!m.request_id.empty()) {
    m.request_hash = store::HashRequest(
        absl::StrCat(method, "\n", SerializeDeterministic(request)));
  }
  return m;
}

control::ListOptions ListOf(const v1::PageRequest& page) {
  return {page.page_size(), page.page_token()};
}

control::HostInput FromProto(const v1::CreateHostRequest& r) {
  control::HostInput in;
  in.name = r.name();
  in.uri = r.uri();
  for (const auto& [k, v] : r.labels()) in.labels[k] = v;
  in.pool = r.pool();
  return in;
}

control::GroupSpecInput FromProto(const v1::VmGroupSpec& s) {
  control::GroupSpecInput in;
  in.vcpus = s.shape().vcpus();
  in.memory = s.shape().memory();
  in.disk = s.shape().disk();
  in.boot_image = s.boot_image();
  in.policy = PolicyName(s.policy());
  in.spread_label = s.spread_label();
  in.min_vms = s.min_vms();
  in.max_vms = s.max_vms();
  in.desired_vms = s.desired_vms();
  in.scale_up_cooldown_s = s.scale_up_cooldown_s();
  in.scale_down_cooldown_s = s.scale_down_cooldown_s();
  in.target_cpu_percent = s.target_cpu_percent();
  in.target_memory_percent = s.target_memory_percent();
  in.utilization_tolerance_percent = s.utilization_tolerance_percent();
  return in;
}

control::WorkloadSpecInput FromProto(const v1::WorkloadSpec& s) {
  control::WorkloadSpecInput in;
  in.image = s.image();
  in.command.assign(s.command().begin(), s.command().end());
  in.args.assign(s.args().begin(), s.args().end());
  for (const auto& [k, v] : s.env()) in.env[k] = v;
  for (const auto& [k, v] : s.secret_env()) in.secret_env[k] = v;
  in.cpu = s.resources().cpu();
  in.memory = s.resources().memory();
  in.disk = s.resources().disk();
  in.replicas = s.replicas();
  in.restart_policy = RestartName(s.restart_policy());
  for (const auto& p : s.ports()) {
    in.ports.push_back(
        {p.name(), p.container_port(), p.host_port(), p.protocol()});
  }
  in.isolation = IsolationName(s.isolation());
  in.priority = s.priority();
  in.group = s.group();
  in.stop_grace_s = s.stop_grace_s();
  in.max_unavailable = s.max_unavailable();
  for (const auto& f : s.files()) {
    in.files.push_back({f.path(), f.content(), f.mode(), f.secret()});
  }
  if (s.has_health_check()) {
    const v1::HealthCheck& h = s.health_check();
    control::HealthCheckInput& hc = in.health_check;
    hc.set = true;
    hc.exec.assign(h.exec().begin(), h.exec().end());
    hc.tcp_port = h.tcp_port();
    hc.http = h.has_http();
    hc.http_port = h.http().port();
    hc.http_path = h.http().path();
    hc.initial_delay_s = h.initial_delay_s();
    hc.period_s = h.period_s();
    hc.timeout_s = h.timeout_s();
    hc.failure_threshold = h.failure_threshold();
    hc.success_threshold = h.success_threshold();
  }
  return in;
}

std::vector<control::ApplyItem> FromProto(
    const google::protobuf::RepeatedPtrField<v1::ApplyObject>& objects) {
  std::vector<control::ApplyItem> items;
  for (const auto& o : objects) {
    control::ApplyItem it;
    if (o.has_group()) {
      it.kind = control::ApplyItem::Kind::kGroup;
      it.name = o.group().name();
      it.group = FromProto(o.group().spec());
    } else {
      it.kind = control::ApplyItem::Kind::kWorkload;
      it.name = o.workload().name();
      it.workload = FromProto(o.workload().spec());
    }
    items.push_back(std::move(it));
  }
  return items;
}

v1::Host ToProto(const control::HostView& v) {
  const store::Host& h = v.host;
  v1::Host out;
  SetMeta(h.name.str(), TenantId(), h.meta, out.mutable_meta());
  for (const auto& [k, val] : h.labels)
    (*out.mutable_meta()->mutable_labels())[k] = val;
  out.set_uri(h.libvirt_uri);
  out.set_state(ToProto(h.state));
  SetResources(h.capacity, out.mutable_capacity());
  SetResources(v.allocated, out.mutable_allocated());
  auto fact = [&](const char* k) {
    auto it = h.facts.find(k);
    return it == h.facts.end() ? std::string() : it->second;
  };
  out.set_accel(fact("accel"));
  out.set_hostname(fact("hostname"));
  out.set_message(fact("message"));
  out.set_vm_count(static_cast<int32_t>(v.vm_count));
  out.set_pool(h.pool);
  return out;
}

v1::VmGroupSpec SpecOf(const store::VmGroup& g) {
  v1::VmGroupSpec s;
  s.mutable_shape()->set_vcpus(static_cast<int32_t>(g.vcpus));
  s.mutable_shape()->set_memory(FormatMiB(g.memory_mib));
  s.mutable_shape()->set_disk(FormatMiB(g.disk_mib));
  s.set_boot_image(g.boot_image);
  s.set_policy(g.placement == store::PlacementPolicy::kSpread
                   ? v1::PLACEMENT_POLICY_SPREAD
                   : v1::PLACEMENT_POLICY_BINPACK);
  s.set_spread_label(g.spread_label);
  s.set_min_vms(static_cast<int32_t>(g.min_size));
  s.set_max_vms(static_cast<int32_t>(g.max_size));
  s.set_desired_vms(static_cast<int32_t>(g.desired_size));
  s.set_scale_up_cooldown_s(
      static_cast<int32_t>(absl::ToInt64Seconds(g.scale_up_cooldown)));
  s.set_scale_down_cooldown_s(
      static_cast<int32_t>(absl::ToInt64Seconds(g.scale_down_cooldown)));
  s.set_target_cpu_percent(static_cast<int32_t>(g.target_cpu_percent));
  s.set_target_memory_percent(static_cast<int32_t>(g.target_memory_percent));
  s.set_utilization_tolerance_percent(
      static_cast<int32_t>(g.utilization_tolerance_percent));
  return s;
}

v1::VmGroup ToProto(const control::GroupView& v) {
  v1::VmGroup out;
  SetMeta(v.group.name.str(), v.group.tenant, v.group.meta, out.mutable_meta());
  *out.mutable_spec() = SpecOf(v.group);
  out.mutable_status()->set_vms_running(static_cast<int32_t>(v.vms_running));
  out.mutable_status()->set_vms_pending(static_cast<int32_t>(v.vms_pending));
  out.mutable_status()->set_containers(static_cast<int32_t>(v.containers));
  out.mutable_status()->set_message(v.message);
  return out;
}

v1::Vm ToProto(const control::VmView& v) {
  const store::Vm& vm = v.vm;
  v1::Vm out;
  SetMeta(vm.id.str(), vm.tenant, vm.meta, out.mutable_meta());
  out.set_group(vm.group.str());
  out.set_host(vm.host.str());
  out.set_state(ToProto(vm.observed));
  out.set_vcpus(static_cast<int32_t>(v.vcpus));
  out.set_memory(v.memory_mib > 0 ? FormatMiB(v.memory_mib) : "");
  out.set_address(vm.ip);
  out.set_containers(static_cast<int32_t>(v.containers));
  out.set_boot_attempts(static_cast<int32_t>(vm.boot_attempts));
  std::string msg = vm.message;
  if (vm.desired != store::VmDesiredState::kRunning) {
    msg = absl::StrCat("desired ", store::Name(vm.desired),
                       msg.empty() ? "" : "; ", msg);
  }
  out.set_message(msg);
  return out;
}

v1::WorkloadSpec SpecOf(const store::Workload& w) {
  v1::WorkloadSpec s;
  s.set_image(w.image);
  for (const auto& c : w.command) s.add_command(c);
  for (const auto& a : w.args) s.add_args(a);
  for (const auto& e : w.env) {
    if (e.secret) {
      (*s.mutable_secret_env())[e.name] = std::string(control::kSecretShown);
    } else {
      (*s.mutable_env())[e.name] = e.value;
    }
  }
  s.mutable_resources()->set_cpu(FormatMilliCpu(w.requests.milli_cpu()));
  s.mutable_resources()->set_memory(FormatMiB(w.requests.memory_mib()));
  if (w.requests.disk_mib() > 0) {
    s.mutable_resources()->set_disk(FormatMiB(w.requests.disk_mib()));
  }
  s.set_replicas(static_cast<int32_t>(w.replicas));
  switch (w.restart_policy) {
    case store::RestartPolicy::kAlways:
      s.set_restart_policy(v1::RESTART_POLICY_ALWAYS);
      break;
    case store::RestartPolicy::kOnFailure:
      s.set_restart_policy(v1::RESTART_POLICY_ON_FAILURE);
      break;
    case store::RestartPolicy::kNever:
      s.set_restart_policy(v1::RESTART_POLICY_NEVER);
      break;
  }
  for (const auto& p : w.ports) {
    v1::Port* out = s.add_ports();
    out->set_name(p.name);
    out->set_container_port(static_cast<int32_t>(p.container_port));
    out->set_host_port(static_cast<int32_t>(p.host_port));
    out->set_protocol(p.protocol);
  }
  s.set_isolation(w.isolation == store::Isolation::kDedicated
                      ? v1::ISOLATION_DEDICATED
                      : v1::ISOLATION_SHARED);
  s.set_priority(static_cast<int32_t>(w.priority));
  s.set_group(w.target_group.str());
  s.set_stop_grace_s(static_cast<int32_t>(w.stop_grace_s));
  s.set_max_unavailable(static_cast<int32_t>(w.max_unavailable));
  for (const auto& f : w.files) {
    v1::WorkloadFile* out = s.add_files();
    out->set_path(f.path);
    out->set_content(f.secret ? std::string(control::kSecretShown) : f.content);
    out->set_mode(static_cast<uint32_t>(f.mode));
    out->set_secret(f.secret);
  }
  if (const store::HealthCheck& h = w.health_check; !h.kind.empty()) {
    v1::HealthCheck* out = s.mutable_health_check();
    if (h.kind == "exec") {
      for (const auto& a : h.exec) out->add_exec(a);
    } else if (h.kind == "tcp") {
      out->set_tcp_port(static_cast<int32_t>(h.port));
    } else {
      out->mutable_http()->set_port(static_cast<int32_t>(h.port));
      out->mutable_http()->set_path(h.path);
    }
    out->set_initial_delay_s(static_cast<int32_t>(h.initial_delay_s));
    out->set_period_s(static_cast<int32_t>(h.period_s));
    out->set_timeout_s(static_cast<int32_t>(h.timeout_s));
    out->set_failure_threshold(static_cast<int32_t>(h.failure_threshold));
    out->set_success_threshold(static_cast<int32_t>(h.success_threshold));
  }
  return s;
}

v1::Workload ToProto(const control::WorkloadView& v) {
  v1::Workload out;
  SetMeta(v.workload.name.str(), v.workload.tenant, v.workload.meta,
          out.mutable_meta());
  *out.mutable_spec() = SpecOf(v.workload);
  auto* st = out.mutable_status();
  st->set_running(static_cast<int32_t>(v.running));
  st->set_pending(static_cast<int32_t>(v.pending));
  st->set_succeeded(static_cast<int32_t>(v.succeeded));
  st->set_failed(static_cast<int32_t>(v.failed));
  st->set_message(v.message);
  st->set_observed_generation(v.observed_generation);
  st->set_ready(static_cast<int32_t>(v.ready));
  st->set_vip(v.vip);
  return out;
}

v1::WorkloadRevision ToProto(const control::RevisionView& v) {
  v1::WorkloadRevision out;
  out.set_revision(v.revision);
  *out.mutable_spec() = SpecOf(v.workload);
  // Unset, not the epoch, for the current template.
  if (v.replaced_at != absl::InfinitePast()) {
    SetTime(v.replaced_at, out.mutable_replace_time());
  }
  out.set_summary(v.summary);
  return out;
}

v1::Container ToProto(const control::ContainerView& v) {
  const store::Container& c = v.container;
  v1::Container out;
  SetMeta(c.id.str(), c.tenant, c.meta, out.mutable_meta());
  out.set_workload(c.workload.str());
  out.set_vm(c.vm.str());
  out.set_host(v.host.str());
  out.set_state(ToProto(c));
  out.set_exit_code(static_cast<int32_t>(c.exit_code.value_or(0)));
  out.set_oom_killed(v.oom_killed);
  out.set_address(v.address);
  if (c.observed == store::ContainerObservedState::kRunning) {
    out.set_health(std::string(store::Name(c.health)));
  }
  out.set_restarts(static_cast<int32_t>(c.restarts));
  SetTime(c.started_at, out.mutable_start_time());
  SetTime(c.finished_at, out.mutable_finish_time());
  if (out.start_time().seconds() == 0 && out.start_time().nanos() == 0) {
    out.clear_start_time();
  }
  if (out.finish_time().seconds() == 0 && out.finish_time().nanos() == 0) {
    out.clear_finish_time();
  }
  out.set_message(c.message);
  out.set_image(v.image);
  return out;
}

v1::Image ToProto(const control::ImageView& v) {
  v1::Image out;
  SetMeta(v.image.name.str(), v.image.tenant, v.image.meta, out.mutable_meta());
  out.set_digest(v.image.digest);
  out.set_size_bytes(v.image.size_bytes);
  out.set_layers(static_cast<int32_t>(v.layers));
  SetTime(v.image.meta.created_at, out.mutable_import_time());
  return out;
}

v1::Event ToProto(const store::Event& e) {
  v1::Event out;
  out.set_seq(e.seq);
  SetTime(e.time, out.mutable_time());
  out.set_kind(e.kind);
  out.set_name(e.name);
  out.set_tenant(e.tenant.str());
  out.set_reason(e.reason);
  out.set_message(e.message);
  return out;
}

v1::ApplyChange ToProto(const control::ApplyChange& c) {
  v1::ApplyChange out;
  // The kinds as nestctl's YAML documents name them.
  out.set_kind(c.kind == control::ApplyItem::Kind::kGroup ? "VmGroup"
                                                          : "Workload");
  out.set_name(c.name);
  switch (c.action) {
    case control::ApplyAction::kCreate:
      out.set_action(v1::APPLY_ACTION_CREATE);
      break;
    case control::ApplyAction::kUpdate:
      out.set_action(v1::APPLY_ACTION_UPDATE);
      break;
    case control::ApplyAction::kUnchanged:
      out.set_action(v1::APPLY_ACTION_UNCHANGED);
      break;
  }
  for (const auto& d : c.diff) out.add_diff(d);
  out.set_generation(c.generation);
  return out;
}

v1::ExplainResponse ToProto(const control::ExplainView& v) {
  v1::ExplainResponse out;
  out.set_workload(v.workload.str());
  out.set_pending(static_cast<int32_t>(v.pending));
  for (const auto& r : v.reasons) {
    v1::ReasonCount* rc = out.add_reasons();
    rc->set_reason(r.reason);
    rc->set_count(r.count);
    rc->set_unit(r.unit);
  }
  out.set_suggestion(v.suggestion);
  return out;
}

v1::PlannedAction ToProto(const control::PlannedActionView& a) {
  v1::PlannedAction out;
  out.set_action(a.action);
  out.set_container(a.container);
  out.set_vm(a.vm);
  out.set_group(a.group);
  out.set_host(a.host);
  out.set_workload(a.workload);
  return out;
}

v1::ContainerStats ToProto(const control::ContainerStatsView& s) {
  v1::ContainerStats out;
  out.set_name(s.container.str());
  out.set_cpu_seconds(s.cpu_seconds);
  out.set_memory_bytes(s.memory_bytes);
  out.set_memory_limit_bytes(s.memory_limit_bytes);
  out.set_pids(static_cast<int32_t>(s.pids));
  return out;
}

v1::GetUsageResponse ToProto(const control::UsageView& v) {
  v1::GetUsageResponse out;
  SetTime(v.sampled_at, out.mutable_sampled_at());
  for (const auto& h : v.hosts) {
    v1::HostUsage* p = out.add_hosts();
    p->set_host(h.host.host.name.str());
    p->set_state(std::string(store::Name(h.host.host.state)));
    SetResources(h.host.host.capacity, p->mutable_capacity());
    SetResources(h.host.allocated, p->mutable_allocated());
    p->set_vms(h.host.vm_count);
    p->set_cpu_cores(h.cpu_cores);
    p->set_memory_bytes(h.memory_bytes);
  }
  for (const auto& u : v.vms) {
    v1::VmUsage* p = out.add_vms();
    p->set_vm(u.vm.str());
    p->set_group(u.group.str());
    p->set_host(u.host.str());
    p->set_vcpus(u.stats.vcpus);
    p->set_cpu_cores(u.cpu_cores);
    p->set_cpu_seconds(static_cast<double>(u.stats.cpu_time_ns) / 1e9);
    p->set_memory_bytes(static_cast<int64_t>(
        (u.stats.rss_kib > 0 ? u.stats.rss_kib : u.stats.memory_kib) * 1024));
    p->set_block_read_bytes(static_cast<int64_t>(u.stats.block_rd_bytes));
    p->set_block_write_bytes(static_cast<int64_t>(u.stats.block_wr_bytes));
    p->set_net_receive_bytes(static_cast<int64_t>(u.stats.net_rx_bytes));
    p->set_net_transmit_bytes(static_cast<int64_t>(u.stats.net_tx_bytes));
  }
  for (const auto& u : v.containers) {
    v1::ContainerUsage* p = out.add_containers();
    p->set_container(u.container.str());
    p->set_workload(u.workload.str());
    p->set_vm(u.vm.str());
    p->set_cpu_cores(u.cpu_cores);
    p->set_cpu_seconds(u.cpu_seconds);
    p->set_memory_bytes(u.memory_bytes);
    p->set_pids(u.pids);
  }
  return out;
}

}  // namespace nest::api

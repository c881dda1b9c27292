#include "agent/convert.h"

#include "absl/strings/str_cat.h"

namespace nest::agent {
namespace {

int64_t ToUnixMs(absl::Time t) {
  return t == absl::InfinitePast() ? 0 : absl::ToUnixMillis(t);
}
absl::Time FromUnixMs(int64_t ms) {
  return ms == 0 ? absl::InfinitePast() : absl::FromUnixMillis(ms);
}

// Zero takes the default, as for the other fields of a request.
absl::Duration MsOr(int64_t ms, absl::Duration dflt) {
  return ms == 0 ? dflt : absl::Milliseconds(ms);
}

}  // namespace

void ToProto(const HealthCheck& in, v1::HealthCheck* out) {
  switch (in.kind) {
    case HealthCheck::Kind::kExec:
      out->set_kind(v1::HEALTH_CHECK_KIND_EXEC);
      break;
    case HealthCheck::Kind::kTcp:
      out->set_kind(v1::HEALTH_CHECK_KIND_TCP);
      break;
    case HealthCheck::Kind::kHttp:
      out->set_kind(v1::HEALTH_CHECK_KIND_HTTP);
      break;
    default:
      // An out-of-range kind travels as itself, so the agent names it.
      out->set_kind(static_cast<v1::HealthCheckKind>(in.kind));
  }
  for (const auto& a : in.exec) out->add_exec(a);
  out->set_port(in.port);
  out->set_path(in.path);
  out->set_initial_delay_ms(absl::ToInt64Milliseconds(in.initial_delay));
  out->set_period_ms(absl::ToInt64Milliseconds(in.period));
  out->set_timeout_ms(absl::ToInt64Milliseconds(in.timeout));
  out->set_failure_threshold(in.failure_threshold);
  out->set_success_threshold(in.success_threshold);
}

HealthCheck FromProto(const v1::HealthCheck& in) {
  HealthCheck out;
  switch (in.kind()) {
    case v1::HEALTH_CHECK_KIND_UNSPECIFIED:
      return out;
    case v1::HEALTH_CHECK_KIND_EXEC:
      out.kind = HealthCheck::Kind::kExec;
      break;
    case v1::HEALTH_CHECK_KIND_TCP:
      out.kind = HealthCheck::Kind::kTcp;
      break;
    case v1::HEALTH_CHECK_KIND_HTTP:
      out.kind = HealthCheck::Kind::kHttp;
      break;
    default:
      // Unknown to this agent: kept as is, so validation refuses it rather
      // than the container silently running unchecked.
      out.kind = static_cast<HealthCheck::Kind>(in.kind());
  }
  out.exec.assign(in.exec().begin(), in.exec().end());
  out.port = in.port();
  if (!in.path().empty()) out.path = in.path();
  out.initial_delay = absl::Milliseconds(in.initial_delay_ms());
  out.period = MsOr(in.period_ms(), out.period);
  out.timeout = MsOr(in.timeout_ms(), out.timeout);
  if (in.failure_threshold() != 0)
    out.failure_threshold = in.failure_threshold();
  if (in.success_threshold() != 0)
    out.success_threshold = in.success_threshold();
  return out;
}

v1::Health ToProto(Health h) {
  switch (h) {
    case Health::kStarting:
      return v1::HEALTH_STARTING;
    case Health::kHealthy:
      return v1::HEALTH_HEALTHY;
    case Health::kUnhealthy:
      return v1::HEALTH_UNHEALTHY;
    case Health::kNone:
      break;
  }
  return v1::HEALTH_UNSPECIFIED;
}

Health FromProto(v1::Health h) {
  switch (h) {
    case v1::HEALTH_STARTING:
      return Health::kStarting;
    case v1::HEALTH_HEALTHY:
      return Health::kHealthy;
    case v1::HEALTH_UNHEALTHY:
      return Health::kUnhealthy;
    default:
      return Health::kNone;
  }
}

const char* ContainerStateName(ContainerState s) {
  switch (s) {
    case ContainerState::kCreated:
      return "created";
    case ContainerState::kRunning:
      return "running";
    case ContainerState::kExited:
      return "exited";
    case ContainerState::kUnknown:
      break;
  }
  return "unknown";
}

const char* HealthName(Health h) {
  switch (h) {
    case Health::kStarting:
      return "starting";
    case Health::kHealthy:
      return "healthy";
    case Health::kUnhealthy:
      return "unhealthy";
    case Health::kNone:
      break;
  }
  return "none";
}

std::string HealthEventMessage(Health health, absl::string_view reason) {
  if (health != Health::kUnhealthy) return HealthName(health);
  return absl::StrCat(HealthName(health), ": ", reason);
}

const char* AgentEventKindName(AgentEventKind k) {
  switch (k) {
    case AgentEventKind::kHello:
      return "hello";
    case AgentEventKind::kContainerStarted:
      return "container_started";
    case AgentEventKind::kContainerExited:
      return "container_exited";
    case AgentEventKind::kContainerOomKilled:
      return "container_oom_killed";
    case AgentEventKind::kProtocolError:
      return "protocol_error";
    case AgentEventKind::kContainerHealth:
      return "container_health";
    case AgentEventKind::kDisconnected:
      return "disconnected";
  }
  return "unknown";
}

v1::Status ToProto(const absl::Status& status) {
  v1::Status out;
  out.set_code(static_cast<int32_t>(status.code()));
  out.set_message(std::string(status.message()));
  return out;
}

absl::Status FromProto(const v1::Status& status) {
  if (status.code() == 0) return absl::OkStatus();
  auto code = static_cast<absl::StatusCode>(status.code());
  if (status.code() < 0 || status.code() > 16)
    code = absl::StatusCode::kUnknown;
  return absl::Status(code, status.message());
}

void ToProto(const AgentHello& in, v1::HelloResponse* out) {
  out->set_agent_version(in.agent_version);
  out->set_protocol_version(
      static_cast<v1::ProtocolVersion>(in.protocol_version));
  out->set_kernel_release(in.kernel_release);
  out->set_cpus(in.cpus);
  out->set_memory_bytes(in.memory_bytes);
  out->set_boot_id(in.boot_id);
  out->set_containers(in.containers);
}

AgentHello FromProto(const v1::HelloResponse& in) {
  AgentHello out;
  out.agent_version = in.agent_version();
  out.protocol_version = static_cast<int>(in.protocol_version());
  out.kernel_release = in.kernel_release();
  out.cpus = in.cpus();
  out.memory_bytes = in.memory_bytes();
  out.boot_id = in.boot_id();
  out.containers = in.containers();
  return out;
}

void ToProto(const ContainerSpec& in, v1::CreateContainerRequest* out) {
  out->set_id(in.id);
  out->set_image_digest(in.image_digest);
  for (const auto& a : in.args) out->add_args(a);
  for (const auto& e : in.env) out->add_env(e);
  out->set_cwd(in.cwd);
  out->set_hostname(in.hostname);
  out->mutable_limits()->mutable_cpu()->set_quota_us(in.limits.cpu_quota_us);
  out->mutable_limits()->mutable_cpu()->set_period_us(in.limits.cpu_period_us);
  out->mutable_limits()->set_memory_max_bytes(in.limits.memory_max_bytes);
  out->mutable_limits()->set_pids_max(in.limits.pids_max);
  out->set_stop_grace_s(in.stop_grace_s);
  for (const auto& f : in.files) {
    v1::ContainerFile* file = out->add_files();
    file->set_path(f.path);
    file->set_content(f.content);
    file->set_mode(f.mode);
  }
  out->set_address(in.address);
  if (in.health_check.kind != HealthCheck::Kind::kNone) {
    ToProto(in.health_check, out->mutable_health_check());
  }
}

ContainerSpec FromProto(const v1::CreateContainerRequest& in) {
  ContainerSpec out;
  out.id = in.id();
  out.image_digest = in.image_digest();
  out.args.assign(in.args().begin(), in.args().end());
  out.env.assign(in.env().begin(), in.env().end());
  out.cwd = in.cwd().empty() ? "/" : in.cwd();
  out.hostname = in.hostname();
  out.limits.cpu_quota_us = in.limits().cpu().quota_us();
  out.limits.cpu_period_us = in.limits().cpu().period_us() == 0
                                 ? 100000
                                 : in.limits().cpu().period_us();
  out.limits.memory_max_bytes = in.limits().memory_max_bytes();
  out.limits.pids_max = in.limits().pids_max();
  out.stop_grace_s = in.stop_grace_s();
  for (const auto& f : in.files()) {
    out.files.push_back({f.path(), f.content(), f.mode()});
  }
  out.address = in.address();
  if (in.has_health_check()) out.health_check = FromProto(in.health_check());
  return out;
}

void ToProto(const ContainerInfo& in, v1::ContainerInfo* out) {
  out->set_id(in.id);
  out->set_image_digest(in.image_digest);
  switch (in.state) {
    case ContainerState::kCreated:
      out->set_state(v1::CONTAINER_STATE_CREATED);
      break;
    case ContainerState::kRunning:
      out->set_state(v1::CONTAINER_STATE_RUNNING);
      break;
    case ContainerState::kExited:
      out->set_state(v1::CONTAINER_STATE_EXITED);
      break;
    case ContainerState::kUnknown:
      out->set_state(v1::CONTAINER_STATE_UNSPECIFIED);
      break;
  }
  out->set_pid(in.pid);
  out->set_exit_code(in.exit_code);
  out->set_oom_killed(in.oom_killed);
  out->set_created_unix_ms(ToUnixMs(in.created));
  out->set_started_unix_ms(ToUnixMs(in.started));
  out->set_finished_unix_ms(ToUnixMs(in.finished));
  out->set_address(in.address);
  out->set_health(ToProto(in.health));
  out->set_health_message(in.health_message);
}

ContainerInfo FromProto(const v1::ContainerInfo& in) {
  ContainerInfo out;
  out.id = in.id();
  out.image_digest = in.image_digest();
  switch (in.state()) {
    case v1::CONTAINER_STATE_CREATED:
      out.state = ContainerState::kCreated;
      break;
    case v1::CONTAINER_STATE_RUNNING:
      out.state = ContainerState::kRunning;
      break;
    case v1::CONTAINER_STATE_EXITED:
      out.state = ContainerState::kExited;
      break;
    default:
      out.state = ContainerState::kUnknown;
  }
  out.pid = in.pid();
  out.exit_code = in.exit_code();
  out.oom_killed = in.oom_killed();
  out.created = FromUnixMs(in.created_unix_ms());
  out.started = FromUnixMs(in.started_unix_ms());
  out.finished = FromUnixMs(in.finished_unix_ms());
  out.address = in.address();
  out.health = FromProto(in.health());
  out.health_message = in.health_message();
  return out;
}

void ToProto(const GuestNetwork& in, v1::ConfigureNetworkRequest* out) {
  out->set_mac(in.mac);
  out->set_address(in.address);
  out->set_prefix_length(in.prefix_length);
  out->set_gateway(in.gateway);
  for (const auto& v : in.vips) out->add_vips(v);
  out->set_ruleset(in.ruleset);
  for (const auto& [name, address] : in.hosts) {
    v1::HostEntry* h = out->add_hosts();
    h->set_name(name);
    h->set_address(address);
  }
}

GuestNetwork FromProto(const v1::ConfigureNetworkRequest& in) {
  GuestNetwork out;
  out.mac = in.mac();
  out.address = in.address();
  out.prefix_length = in.prefix_length();
  out.gateway = in.gateway();
  out.vips.assign(in.vips().begin(), in.vips().end());
  out.ruleset = in.ruleset();
  for (const auto& h : in.hosts())
    out.hosts.emplace_back(h.name(), h.address());
  return out;
}

void ToProto(const ExecResult& in, v1::ExecResponse* out) {
  out->set_exit_code(in.exit_code);
  out->set_output(in.output);
  out->set_output_truncated(in.output_truncated);
  out->set_timed_out(in.timed_out);
}

ExecResult FromProto(const v1::ExecResponse& in) {
  ExecResult out;
  out.exit_code = in.exit_code();
  out.output = in.output();
  out.output_truncated = in.output_truncated();
  out.timed_out = in.timed_out();
  return out;
}

void ToProto(const StatsReport& in, v1::StatsResponse* out) {
  auto* g = out->mutable_guest();
  g->set_cpu_usage_us(in.guest.cpu_usage_us);
  g->set_memory_total_bytes(in.guest.memory_total_bytes);
  g->set_memory_available_bytes(in.guest.memory_available_bytes);
  g->set_load1(in.guest.load1);
  g->set_uptime_ms(in.guest.uptime_ms);
  for (const auto& c : in.containers) {
    auto* o = out->add_containers();
    o->set_id(c.id);
    o->set_cpu_usage_us(c.cpu_usage_us);
    o->set_memory_bytes(c.memory_bytes);
    o->set_pids(c.pids);
    o->set_oom_kills(c.oom_kills);
  }
}

StatsReport FromProto(const v1::StatsResponse& in) {
  StatsReport out;
  out.guest.cpu_usage_us = in.guest().cpu_usage_us();
  out.guest.memory_total_bytes = in.guest().memory_total_bytes();
  out.guest.memory_available_bytes = in.guest().memory_available_bytes();
  out.guest.load1 = in.guest().load1();
  out.guest.uptime_ms = in.guest().uptime_ms();
  for (const auto& c : in.containers()) {
    out.containers.push_back(ContainerStats{
        c.id(), c.cpu_usage_us(), c.memory_bytes(), c.pids(), c.oom_kills()});
  }
  return out;
}

void ToProto(const AgentEvent& in, v1::Event* out) {
  switch (in.kind) {
    case AgentEventKind::kHello:
      out->set_kind(v1::EVENT_KIND_HELLO);
      break;
    case AgentEventKind::kContainerStarted:
      out->set_kind(v1::EVENT_KIND_CONTAINER_STARTED);
      break;
    case AgentEventKind::kContainerExited:
      out->set_kind(v1::EVENT_KIND_CONTAINER_EXITED);
      break;
    case AgentEventKind::kContainerOomKilled:
      out->set_kind(v1::EVENT_KIND_CONTAINER_OOM_KILLED);
      break;
    case AgentEventKind::kContainerHealth:
      out->set_kind(v1::EVENT_KIND_CONTAINER_HEALTH);
      break;
    case AgentEventKind::kProtocolError:
    case AgentEventKind::kDisconnected:
      out->set_kind(v1::EVENT_KIND_PROTOCOL_ERROR);
      break;
  }
  out->set_container_id(in.container_id);
  out->set_exit_code(in.exit_code);
  out->set_unix_ms(ToUnixMs(in.time));
  out->set_message(in.message);
  if (in.hello) ToProto(*in.hello, out->mutable_hello());
}

AgentEvent FromProto(const v1::Event& in) {
  AgentEvent out;
  switch (in.kind()) {
    case v1::EVENT_KIND_HELLO:
      out.kind = AgentEventKind::kHello;
      break;
    case v1::EVENT_KIND_CONTAINER_STARTED:
      out.kind = AgentEventKind::kContainerStarted;
      break;
    case v1::EVENT_KIND_CONTAINER_EXITED:
      out.kind = AgentEventKind::kContainerExited;
      break;
    case v1::EVENT_KIND_CONTAINER_OOM_KILLED:
      out.kind = AgentEventKind::kContainerOomKilled;
      break;
    case v1::EVENT_KIND_CONTAINER_HEALTH:
      out.kind = AgentEventKind::kContainerHealth;
      break;
    default:
      out.kind = AgentEventKind::kProtocolError;
  }
  out.container_id = in.container_id();
  out.exit_code = in.exit_code();
  out.time = FromUnixMs(in.unix_ms());
  out.message = in.message();
  if (in.has_hello()) out.hello = FromProto(in.hello());
  return out;
}

}  // namespace nest::agent

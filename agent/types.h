// Plain C++ types of the agent protocol, used by the host side (AgentApi) and
// the in-guest runtime. Code outside agent/ sees only these, never the
// generated protobuf classes.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/time.h"

namespace nest::agent {

// What the agent reports in its handshake.
struct AgentHello {
  std::string agent_version;
  int protocol_version = 0;
  std::string kernel_release;
  uint32_t cpus = 0;
  uint64_t memory_bytes = 0;
  std::string boot_id;  // changes when the agent process restarts
  uint32_t containers = 0;
};

// cgroup v2 limits; zero means "max" (unlimited).
struct ContainerLimits {
  int64_t cpu_quota_us = 0;         // cpu.max first field
  uint64_t cpu_period_us = 100000;  // cpu.max second field
  int64_t memory_max_bytes = 0;     // memory.max
  int64_t pids_max = 0;             // pids.max
};

// A file the agent writes outside the container's root file system and
// bind-mounts read-only at `path` (absolute, inside the container).
struct ContainerFile {
  std::string path;
  std::string content;
  uint32_t mode = 0444;
  friend bool operator==(const ContainerFile&, const ContainerFile&) = default;
};

// A health check the agent runs on one of its containers (issue 10). The
// agent only reports; the host decides what an unhealthy container means
// (out of its service VIP, then restarted).
struct HealthCheck {
  enum class Kind { kNone, kExec, kTcp, kHttp };
  Kind kind = Kind::kNone;
  // kExec: run inside the container (like Exec); exit status 0 is a pass.
  std::vector<std::string> exec;
  // kTcp: a connect to `port` succeeds. kHttp: a GET of `path` on `port`
  // answers 200-399. Both go to the container's address (127.0.0.1 when it
  // shares the guest's network namespace).
  int port = 0;
  std::string path = "/";
  absl::Duration initial_delay = absl::ZeroDuration();  // after the start
  absl::Duration period = absl::Seconds(5);
  absl::Duration timeout = absl::Seconds(2);  // of one probe
  int failure_threshold = 3;                  // consecutive failures: unhealthy
  int success_threshold = 1;                  // consecutive passes: healthy
  friend bool operator==(const HealthCheck&, const HealthCheck&) = default;
};

// kNone: no check configured. kStarting: running, checked, no verdict yet.
enum class Health { kNone, kStarting, kHealthy, kUnhealthy };
const char* HealthName(Health h);

struct ContainerSpec {
  std::string id;
  std::string image_digest;  // "sha256:<64 hex>", already pushed
  std::vector<std::string> args;
  std::vector<std::string> env;  // "KEY=value"
  std::string cwd = "/";
  std::string hostname;  // empty: the id
  ContainerLimits limits;
  uint32_t stop_grace_s = 10;
  std::vector<ContainerFile> files;
  // Empty: the container shares the guest's network namespace. Set (an IPv4
  // dotted quad): the container gets its own network namespace holding this
  // address as a /32, routed through the guest (see GuestNetwork).
  std::string address;
  HealthCheck health_check;
};

enum class ContainerState { kUnknown, kCreated, kRunning, kExited };
const char* ContainerStateName(ContainerState s);

struct ContainerInfo {
  std::string id;
  std::string image_digest;
  ContainerState state = ContainerState::kUnknown;
  int pid = 0;
  int exit_code = 0;  // valid when kExited; 128+N for signal N
  bool oom_killed = false;
  absl::Time created = absl::InfinitePast();
  absl::Time started = absl::InfinitePast();
  absl::Time finished = absl::InfinitePast();
  std::string address;  // the container's own address; empty: the guest's
  // Of the current run (reset to kStarting, or kNone, at each start).
  Health health = Health::kNone;
  // The last failed probe's reason ("connect 10.88.0.5:80: refused",
  // "exit 1: <output>"); empty after a pass.
  std::string health_message;
};

// The guest's place in its tenant network (issue 9). IPv4 dotted quads.
struct GuestNetwork {
  // The VM's NIC ("52:54:00:12:34:56"): the interface to configure.
  std::string mac;
  std::string address;    // the VM's address, e.g. "10.88.0.2"
  int prefix_length = 0;  // of the tenant subnet (on-link through the NIC)
  std::string gateway;    // the host's bridge, e.g. "10.88.0.1": default route
  // The tenant's service VIPs. The guest holds each as a /32 on `lo`, so it
  // answers ARP for them; VIPs no longer listed are removed.
  std::vector<std::string> vips;
  // A complete `nft -f` script for the guest's own table (it declares,
  // flushes and refills `table ip nest`). Applied when it differs from the
  // last applied one, and again whenever the table has gone. Empty: the
  // table is removed.
  std::string ruleset;
  // (name, address): the file bind-mounted read-only at /etc/hosts in every
  // container with its own address (after the localhost lines). Updated in
  // place, so running containers see changes.
  std::vector<std::pair<std::string, std::string>> hosts;
  friend bool operator==(const GuestNetwork&, const GuestNetwork&) = default;
};

struct ExecOptions {
  std::vector<std::string> env;
  absl::Duration timeout = absl::Seconds(30);
};

struct ExecResult {
  int exit_code = 0;
  std::string output;  // stdout+stderr, interleaved, bounded
  bool output_truncated = false;
  bool timed_out = false;
};

struct ContainerStats {
  std::string id;
  uint64_t cpu_usage_us = 0;
  uint64_t memory_bytes = 0;
  uint64_t pids = 0;
  uint64_t oom_kills = 0;
};

struct GuestStats {
  uint64_t cpu_usage_us = 0;
  uint64_t memory_total_bytes = 0;
  uint64_t memory_available_bytes = 0;
  double load1 = 0;
  uint64_t uptime_ms = 0;
};

struct StatsReport {
  GuestStats guest;
  std::vector<ContainerStats> containers;
};

struct PutImageResult {
  std::string digest;
  bool already_present = false;
  uint64_t bytes_received = 0;
};

enum class AgentEventKind {
  kHello,
  kContainerStarted,
  kContainerExited,
  kContainerOomKilled,
  kProtocolError,
  // The container's Health changed; `message` is HealthName(new) and, when
  // unhealthy, ": " and the failed probe's reason.
  kContainerHealth,
  // Host-side only: the stream to the agent broke.
  kDisconnected,
};
const char* AgentEventKindName(AgentEventKind k);

struct AgentEvent {
  AgentEventKind kind = AgentEventKind::kProtocolError;
  std::string container_id;
  int exit_code = 0;
  absl::Time time = absl::InfinitePast();
  std::string message;
  std::optional<AgentHello> hello;  // for kHello
};

}  // namespace nest::agent

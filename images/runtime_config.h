// Builds the OCI runtime config.json (runtime-spec 1.0.2, as crun reads it)
// from an image config merged with what the workload spec asks for.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest::images {

// The parts of an OCI image config ("config" section) that matter to run it.
struct ImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "KEY=VALUE"
  std::string working_dir;
  std::string user;  // "", "uid", "uid:gid", "name", "name:group"
  std::string stop_signal;
  std::map<std::string, std::string> labels;
  std::vector<std::string> exposed_ports;  // "8080/tcp"
};

// Parses an OCI (or Docker) image config JSON document.
[[nodiscard]] absl::StatusOr<ImageConfig> ParseImageConfig(
    absl::string_view json_text);

// What the workload spec overrides. Semantics follow Kubernetes:
// `command` replaces the image entrypoint and, unless `args` is also set,
// drops the image cmd; `args` replaces the image cmd.
struct WorkloadOverrides {
  std::optional<std::vector<std::string>> command;
  std::optional<std::vector<std::string>> args;
  // Set or replace variables by key, applied in order after the image's.
  std::vector<std::pair<std::string, std::string>> env;
  std::optional<std::string> working_dir;
  std::optional<std::string> user;
  std::string hostname;
  // Resource limits, mapped to cgroup v2 by the runtime: cpu.max from
  // milli_cpu (quota/period), memory.max from memory_mib (and no swap),
  // pids.max from pids_limit. 0 means unlimited.
  int64_t milli_cpu = 0;
  int64_t memory_mib = 0;
  int64_t pids_limit = 0;
  // RLIMIT_NOFILE (soft = hard). The default matches runc's spec; raising it
  // needs a hard limit at least as high where the runtime runs.
  int64_t nofile_limit = 1024;
  std::string cgroups_path;  // e.g. "/nest/<container>"; empty: runtime default
  bool readonly_rootfs = false;
  bool host_network = false;  // share the VM's network namespace
  bool terminal = false;
};

// /etc/passwd and /etc/group of the rootfs, to resolve user names.
struct RootfsUsers {
  std::string passwd;
  std::string group;
};

// Reads etc/passwd and etc/group inside `rootfs` without following symlinks
// (a hostile image could point them at the host's files). Missing files
// give empty strings.
[[nodiscard]] absl::StatusOr<RootfsUsers> ReadRootfsUsers(
    const std::string& rootfs);

// Returns the config.json text (root.path is "rootfs", relative to the
// bundle). Errors name the offending field: no command at all, a relative
// working dir, a malformed env name, an unknown user name, negative limits.
// `users` may be null when the user is numeric or empty.
[[nodiscard]] absl::StatusOr<std::string> BuildRuntimeConfig(
    const ImageConfig& image, const WorkloadOverrides& overrides,
    const RootfsUsers* users = nullptr);

}  // namespace nest::images

// The OCI runtime config.json crun runs a container from. Limits map onto
// linux.resources, which crun writes to cgroup v2 as cpu.max, memory.max and
// pids.max. A container shares the guest's network namespace (one tenant per
// microVM) unless it has an address of its own (OciNetwork); every other
// namespace is private.
#pragma once

#include <string>

#include "absl/strings/string_view.h"
#include "agent/types.h"

namespace nest::agent {

struct OciRoot {
  std::string path;  // absolute, or relative to the bundle
  bool readonly = false;
};

// The container's own network namespace (a path crun joins), and the file
// bind-mounted read-only at /etc/hosts there. Empty netns_path: the guest's.
struct OciNetwork {
  std::string netns_path;
  std::string hosts_path;
};

// `cgroup_path` is linux.cgroupsPath, e.g. "/nest/<id>". `files_dir` is
// the absolute directory holding spec.files as WriteContainerFiles wrote
// them: each one is bind-mounted read-only (nosuid, nodev, noexec) at its
// path, after the standard mounts so one under /tmp is not hidden.
std::string BuildOciConfig(const ContainerSpec& spec, const OciRoot& root,
                           const std::string& cgroup_path,
                           const std::string& files_dir,
                           const OciNetwork& network = {});

// A JSON string literal for `s` (quotes included).
std::string JsonQuote(absl::string_view s);

}  // namespace nest::agent

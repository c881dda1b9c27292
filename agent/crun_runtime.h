// CrunRuntime: runs containers with the crun binary.
//
// Per container, <bundle_root>/<id>/ holds config.json (agent/oci_config.h),
// rootfs/ (an overlay of the read-only image; where overlayfs is missing the
// image itself is used read-only with a tmpfs /tmp), crun.log and pid.
// stdout and stderr go through one pipe to a RotatingLog. The container's
// init is re-parented to the agent when `crun create` exits (the agent is a
// child subreaper), so its exit status comes from waitpid; OOM kills come
// from the cgroup's memory.events oom_kill counter.
//
// Constructing one makes the process a child subreaper and starts the
// ChildReaper. Thread-safe.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "agent/log_file.h"
#include "agent/runtime.h"

namespace nest::agent {

class CrunRuntime : public ContainerRuntime {
 public:
  struct Options {
    std::string crun = "crun";
    std::string state_root;   // crun --root
    std::string bundle_root;  // bundles live in <bundle_root>/<id>
    std::string cgroup_parent = "/nest";
    std::string cgroup_mount = "/sys/fs/cgroup";
    uint64_t log_file_bytes = kDefaultLogFileBytes;
    absl::Duration command_timeout = absl::Seconds(30);
  };

  explicit CrunRuntime(Options options);
  // Joins the log pumps of containers not deleted (their processes are left
  // running: the agent exiting must not take the workload down).
  ~CrunRuntime() override;

  void SetExitCallback(ExitCallback cb) override;
  absl::StatusOr<int> Create(const ContainerSpec& spec,
                             const std::string& rootfs,
                             const std::string& log_path,
                             const NetworkAttachment& network) override;
  absl::Status Start(const std::string& id) override;
  // One `crun run --detach`: a crun process less than Create + Start.
  absl::StatusOr<int> Run(const ContainerSpec& spec, const std::string& rootfs,
                          const std::string& log_path,
                          const NetworkAttachment& network) override;
  absl::Status Kill(const std::string& id, int signal) override;
  absl::Status Delete(const std::string& id) override;
  absl::StatusOr<ExecResult> Exec(const std::string& id,
                                  const std::vector<std::string>& args,
                                  const ExecOptions& options) override;
  absl::StatusOr<ContainerStats> Stats(const std::string& id) override;

  // The cgroup directory of a container (for tests and diagnostics).
  std::string CgroupDir(const std::string& id) const;

 private:
  struct Container {
    int pid = 0;
    bool exited = false;
    bool overlay = false;
    std::thread pump;
  };

  // Create, or Run when `start` (`crun run --detach`).
  absl::StatusOr<int> Launch(const ContainerSpec& spec,
                             const std::string& rootfs,
                             const std::string& log_path,
                             const NetworkAttachment& network, bool start);
  std::vector<std::string> Crun(std::vector<std::string> args) const;
  std::string Bundle(const std::string& id) const;
  uint64_t OomKills(const std::string& id) const;
  bool UnifiedCgroups() const;
  std::string V1Dir(absl::string_view controller, const std::string& id) const;
  void OnExit(const std::string& id, int wait_status);
  void Cleanup(const std::string& id, bool overlay);

  // What reaper callbacks reach us through: cleared by the destructor, so
  // a container exiting after the runtime is gone is ignored safely.
  struct Alive {
    absl::Mutex mu;
    CrunRuntime* self ABSL_GUARDED_BY(mu);
  };

  const Options options_;
  std::shared_ptr<Alive> alive_;
  // Held while the exit callback runs, so SetExitCallback(nullptr) waits
  // for an exit being reported. Never taken with mu_.
  absl::Mutex cb_mu_;
  ExitCallback on_exit_ ABSL_GUARDED_BY(cb_mu_);
  absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<Container>> containers_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace nest::agent

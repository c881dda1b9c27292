#include "agent/crun_runtime.h"

#include <fcntl.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "absl/time/clock.h"
#include "agent/bundle_files.h"
#include "agent/oci_config.h"
#include "agent/subprocess.h"
#include "spdlog/spdlog.h"

namespace nest::agent {
namespace {

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

absl::Status WriteFile(const std::string& path, absl::string_view data) {
  std::ofstream out(path, std::ios::trunc);
  out << data;
  out.close();
  if (!out) return absl::InternalError(absl::StrCat("cannot write ", path));
  return absl::OkStatus();
}

// Value of `key` in a cgroup "key value" file (cpu.stat, memory.events).
uint64_t KeyedValue(const std::string& path, absl::string_view key) {
  for (absl::string_view line : absl::StrSplit(ReadFile(path), '\n')) {
    std::vector<absl::string_view> kv = absl::StrSplit(line, ' ');
    uint64_t v = 0;
    if (kv.size() == 2 && kv[0] == key && absl::SimpleAtoi(kv[1], &v)) {
      return v;
    }
  }
  return 0;
}

uint64_t SingleValue(const std::string& path) {
  uint64_t v = 0;
  (void)absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile(path)), &v);
  return v;
}

std::string Tail(const std::string& s, size_t n) {
  return s.size() <= n ? s : s.substr(s.size() - n);
}

}  // namespace

CrunRuntime::CrunRuntime(Options options)
    : options_(std::move(options)), alive_(std::make_shared<Alive>()) {
  {
    absl::MutexLock lock(&alive_->mu);
    alive_->self = this;
  }
  // Containers' inits are re-parented to us when `crun create` exits, so
  // their exit statuses reach our waitpid.
  if (::prctl(PR_SET_CHILD_SUBREAPER, 1) != 0) {
    spdlog::warn("agent: PR_SET_CHILD_SUBREAPER failed: {}",
                 std::strerror(errno));
  }
  ChildReaper::Get();
  std::error_code ec;
  std::filesystem::create_directories(options_.state_root, ec);
  std::filesystem::create_directories(options_.bundle_root, ec);
}

CrunRuntime::~CrunRuntime() {
  {
    absl::MutexLock lock(&alive_->mu);
    alive_->self = nullptr;
  }
  SetExitCallback(nullptr);
  std::map<std::string, std::unique_ptr<Container>> all;
  {
    absl::MutexLock lock(&mu_);
    all.swap(containers_);
  }
  for (auto& [id, c] : all) {
    // A running container keeps its pipe open; do not wait for it.
    if (c->pump.joinable()) c->pump.detach();
  }
}

void CrunRuntime::SetExitCallback(ExitCallback cb) {
  absl::MutexLock lock(&cb_mu_);
  on_exit_ = std::move(cb);
}

std::vector<std::string> CrunRuntime::Crun(
    std::vector<std::string> args) const {
  std::vector<std::string> out = {options_.crun, "--root", options_.state_root};
  out.insert(out.end(), args.begin(), args.end());
  return out;
}

std::string CrunRuntime::Bundle(const std::string& id) const {
  return absl::StrCat(options_.bundle_root, "/", id);
}

std::string CrunRuntime::CgroupDir(const std::string& id) const {
  return absl::StrCat(options_.cgroup_mount, options_.cgroup_parent, "/", id);
}

bool CrunRuntime::UnifiedCgroups() const {
  return ::access((options_.cgroup_mount + "/cgroup.controllers").c_str(),
                  F_OK) == 0;
}

std::string CrunRuntime::V1Dir(absl::string_view controller,
                               const std::string& id) const {
  return absl::StrCat(options_.cgroup_mount, "/", controller,
                      options_.cgroup_parent, "/", id);
}

uint64_t CrunRuntime::OomKills(const std::string& id) const {
  if (UnifiedCgroups()) {
    return KeyedValue(CgroupDir(id) + "/memory.events", "oom_kill");
  }
  // cgroup v1 (development hosts; the guest kernel runs v2).
  return KeyedValue(V1Dir("memory", id) + "/memory.oom_control", "oom_kill");
}

void CrunRuntime::OnExit(const std::string& id, int wait_status) {
  // Read before anyone deletes the cgroup.
  bool oom = OomKills(id) > 0;
  int code = ExitCodeFromWaitStatus(wait_status);
  // SIGKILL plus an oom_kill in the container's cgroup is the OOM killer.
  oom = oom && code == 128 + SIGKILL;
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end() || it->second->exited) return;
    it->second->exited = true;
  }
  absl::MutexLock lock(&cb_mu_);
  if (on_exit_) on_exit_(id, code, oom);
}

void CrunRuntime::Cleanup(const std::string& id, bool overlay) {
  std::string bundle = Bundle(id);
  if (overlay) ::umount2((bundle + "/rootfs").c_str(), MNT_DETACH);
  std::error_code ec;
  std::filesystem::remove_all(bundle, ec);
}

absl::StatusOr<int> CrunRuntime::Create(const ContainerSpec& spec,
                                        const std::string& rootfs,
                                        const std::string& log_path,
                                        const NetworkAttachment& network) {
  return Launch(spec, rootfs, log_path, network, /*start=*/false);
}

absl::StatusOr<int> CrunRuntime::Run(const ContainerSpec& spec,
                                     const std::string& rootfs,
                                     const std::string& log_path,
                                     const NetworkAttachment& network) {
  return Launch(spec, rootfs, log_path, network, /*start=*/true);
}

absl::StatusOr<int> CrunRuntime::Launch(const ContainerSpec& spec,
                                        const std::string& rootfs,
                                        const std::string& log_path,
                                        const NetworkAttachment& network,
                                        bool start) {
  {
    absl::MutexLock lock(&mu_);
    if (containers_.count(spec.id)) {
      return absl::AlreadyExistsError(
          absl::StrCat("container ", spec.id, " already exists"));
    }
    containers_[spec.id] = std::make_unique<Container>();
  }
  auto fail = [&](absl::Status s, bool overlay) {
    Cleanup(spec.id, overlay);
    absl::MutexLock lock(&mu_);
    containers_.erase(spec.id);
    return s;
  };
  std::string bundle = Bundle(spec.id);
  std::error_code ec;
  std::filesystem::remove_all(bundle, ec);
  for (const char* d : {"/rootfs", "/upper", "/work"}) {
    std::filesystem::create_directories(bundle + d, ec);
    if (ec) {
      return fail(absl::InternalError(
                      absl::StrCat("create ", bundle, d, ": ", ec.message())),
                  false);
    }
  }
  // Each container writes to its own upper layer; the image stays shared
  // and untouched.
  OciRoot root;
  std::string opts = absl::StrCat("lowerdir=", rootfs, ",upperdir=", bundle,
                                  "/upper,workdir=", bundle, "/work");
  bool overlay = ::mount("overlay", (bundle + "/rootfs").c_str(), "overlay", 0,
                         opts.c_str()) == 0;
  if (overlay) {
    root.path = "rootfs";
  } else {
    spdlog::warn(
        "agent: overlay mount for {} failed ({}); using the image "
        "read-only",
        spec.id, std::strerror(errno));
    root.path = rootfs;
    root.readonly = true;
  }
  std::string files_dir = bundle + "/files";
  absl::Status w = WriteContainerFiles(files_dir, spec.files);
  if (w.ok()) {
    w = WriteFile(
        bundle + "/config.json",
        BuildOciConfig(spec, root, options_.cgroup_parent + "/" + spec.id,
                       files_dir, {network.netns_path, network.hosts_path}));
  }
  if (!w.ok()) return fail(w, overlay);

  int p[2];
  if (::pipe2(p, O_CLOEXEC) != 0) {
    return fail(
        absl::InternalError(absl::StrCat("pipe: ", std::strerror(errno))),
        overlay);
  }
  SpawnOptions so;
  std::vector<std::string> verb = {"create"};
  if (start) verb = {"run", "--detach"};
  std::vector<std::string> args = {"--log=file:" + bundle + "/crun.log"};
  args.insert(args.end(), verb.begin(), verb.end());
  args.insert(args.end(),
              {"--bundle", bundle, "--pid-file", bundle + "/pid", spec.id});
  so.args = Crun(std::move(args));
  so.stdout_fd = p[1];
  so.stderr_fd = p[1];
  absl::StatusOr<pid_t> crun = Spawn(so);
  ::close(p[1]);
  if (!crun.ok()) {
    ::close(p[0]);
    return fail(crun.status(), overlay);
  }
  // The pump owns the read end and ends at EOF, i.e. when the container and
  // everything it started have closed their stdout/stderr.
  auto log = std::make_shared<RotatingLog>(log_path, options_.log_file_bytes);
  std::thread pump([fd = p[0], log] {
    char buf[16384];
    for (;;) {
      ssize_t n = ::read(fd, buf, sizeof(buf));
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) break;
      (void)log->Append(absl::string_view(buf, static_cast<size_t>(n)));
    }
    ::close(fd);
  });
  absl::StatusOr<int> st =
      ChildReaper::Get().Wait(*crun, absl::Now() + options_.command_timeout);
  if (!st.ok() || ExitCodeFromWaitStatus(*st) != 0) {
    if (!st.ok()) ::kill(*crun, SIGKILL);
    std::string why = Tail(ReadFile(bundle + "/crun.log"), 2000);
    (void)RunCommand(Crun({"delete", "--force", spec.id}), {},
                     options_.command_timeout);
    pump.join();
    return fail(absl::InternalError(absl::StrCat(
                    "crun ", verb[0], " failed (",
                    st.ok() ? absl::StrCat("exit ", ExitCodeFromWaitStatus(*st))
                            : std::string(st.status().message()),
                    "): ", why)),
                overlay);
  }
  int pid = 0;
  if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(ReadFile(bundle + "/pid")),
                        &pid) ||
      pid <= 0) {
    (void)RunCommand(Crun({"delete", "--force", spec.id}), {},
                     options_.command_timeout);
    pump.join();
    return fail(absl::InternalError(
                    absl::StrCat("crun ", verb[0], " wrote no pid file")),
                overlay);
  }
  {
    absl::MutexLock lock(&mu_);
    Container& c = *containers_[spec.id];
    c.pid = pid;
    c.overlay = overlay;
    c.pump = std::move(pump);
  }
  ChildReaper::Get().Watch(
      pid, [this, id = spec.id](int status) { OnExit(id, status); });
  return pid;
}

absl::Status CrunRuntime::Start(const std::string& id) {
  {
    absl::MutexLock lock(&mu_);
    if (!containers_.count(id)) {
      return absl::NotFoundError(absl::StrCat("container ", id, " not found"));
    }
  }
  NEST_ASSIGN_OR_RETURN(ExecResult r, RunCommand(Crun({"start", id}), {},
                                                 options_.command_timeout));
  if (r.exit_code != 0) {
    return absl::InternalError(absl::StrCat("crun start ", id, " failed (exit ",
                                            r.exit_code, "): ", r.output));
  }
  return absl::OkStatus();
}

absl::Status CrunRuntime::Kill(const std::string& id, int signal) {
  int pid;
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) {
      return absl::NotFoundError(absl::StrCat("container ", id, " not found"));
    }
    if (it->second->exited) {
      return absl::FailedPreconditionError(
          absl::StrCat("container ", id, " has exited already"));
    }
    pid = it->second->pid;
  }
  // The init is our child (subreaper) and not yet reaped, so the pid cannot
  // have been reused: signalling it directly saves a crun round trip.
  if (::kill(pid, signal) != 0 && errno != ESRCH) {
    return absl::InternalError(
        absl::StrCat("kill ", id, ": ", std::strerror(errno)));
  }
  return absl::OkStatus();
}

absl::Status CrunRuntime::Delete(const std::string& id) {
  std::unique_ptr<Container> c;
  {
    absl::MutexLock lock(&mu_);
    auto it = containers_.find(id);
    if (it == containers_.end()) {
      return absl::NotFoundError(absl::StrCat("container ", id, " not found"));
    }
    c = std::move(it->second);
    containers_.erase(it);
  }
  NEST_ASSIGN_OR_RETURN(ExecResult r,
                        RunCommand(Crun({"delete", "--force", id}), {},
                                   options_.command_timeout));
  if (r.exit_code != 0) {
    spdlog::warn("agent: crun delete {}: {}", id, r.output);
  }
  // --force killed anything left, so the pipe closes and the pump ends.
  if (c->pump.joinable()) c->pump.join();
  Cleanup(id, c->overlay);
  return absl::OkStatus();
}

absl::StatusOr<ExecResult> CrunRuntime::Exec(
    const std::string& id, const std::vector<std::string>& args,
    const ExecOptions& options) {
  std::vector<std::string> cmd = {"exec"};
  for (const auto& e : options.env) {
    cmd.push_back("--env");
    cmd.push_back(e);
  }
  cmd.push_back(id);
  cmd.insert(cmd.end(), args.begin(), args.end());
  return RunCommand(Crun(cmd), {}, options.timeout);
}

absl::StatusOr<ContainerStats> CrunRuntime::Stats(const std::string& id) {
  {
    absl::MutexLock lock(&mu_);
    if (!containers_.count(id)) {
      return absl::NotFoundError(absl::StrCat("container ", id, " not found"));
    }
  }
  ContainerStats s;
  s.id = id;
  if (UnifiedCgroups()) {
    std::string dir = CgroupDir(id);
    s.cpu_usage_us = KeyedValue(dir + "/cpu.stat", "usage_usec");
    s.memory_bytes = SingleValue(dir + "/memory.current");
    s.pids = SingleValue(dir + "/pids.current");
  } else {
    s.cpu_usage_us =
        SingleValue(V1Dir("cpuacct", id) + "/cpuacct.usage") / 1000;
    s.memory_bytes =
        SingleValue(V1Dir("memory", id) + "/memory.usage_in_bytes");
    s.pids = SingleValue(V1Dir("pids", id) + "/pids.current");
  }
  s.oom_kills = OomKills(id);
  return s;
}

}  // namespace nest::agent

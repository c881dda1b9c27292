#include "images/runtime_config.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/validate.h"
#include "images/fs.h"

namespace nest::images {

using json = nlohmann::json;

namespace {

constexpr absl::string_view kDefaultPath =
    "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";
// CFS period crun uses by default; quota = milli_cpu * period / 1000.
constexpr int64_t kCpuPeriodUs = 100000;

std::vector<std::string> Strings(const json& j, const char* key) {
  std::vector<std::string> out;
  if (!j.contains(key) || !j[key].is_array()) return out;
  for (const auto& v : j[key]) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

// A string field of the config section: absent or null is empty; any other
// type is an error (json::value would throw on it).
absl::StatusOr<std::string> StringField(const json& cfg, const char* key) {
  if (!cfg.contains(key) || cfg[key].is_null()) return std::string();
  if (!cfg[key].is_string()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image config field config.", key,
                     " must be a string, got ", cfg[key].type_name()));
  }
  return cfg[key].get<std::string>();
}

absl::StatusOr<std::string> ReadNoFollow(int dirfd, const char* name) {
  ScopedFd fd(::openat(dirfd, name, O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!fd.valid()) {
    if (errno == ENOENT || errno == ELOOP) return std::string();
    return ErrnoStatus(errno, "open", name);
  }
  std::string out;
  char buf[65536];
  for (;;) {
    ssize_t r = ::read(fd.get(), buf, sizeof buf);
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoStatus(errno, "read", name);
    if (r == 0) break;
    out.append(buf, static_cast<size_t>(r));
    if (out.size() > (4 << 20)) {
      return absl::InvalidArgumentError(
          absl::StrCat("etc/", name, " is too large"));
    }
  }
  return out;
}

// Finds `name` in a passwd/group style file; returns fields or empty.
std::vector<std::string> FindEntry(const std::string& db,
                                   absl::string_view name) {
  for (absl::string_view line : absl::StrSplit(db, '\n')) {
    std::vector<std::string> f = absl::StrSplit(line, ':');
    if (f.size() >= 3 && f[0] == name) return f;
  }
  return {};
}

absl::Status ResolveUser(const std::string& spec, const RootfsUsers* users,
                         uint32_t* uid, uint32_t* gid) {
  *uid = 0;
  *gid = 0;
  if (spec.empty()) return absl::OkStatus();
  std::vector<std::string> parts =
      absl::StrSplit(spec, absl::MaxSplits(':', 1));
  const std::string& u = parts[0];
  bool have_gid = false;
  if (absl::SimpleAtoi(u, uid)) {
    // A numeric uid's primary group is taken from passwd when present.
    if (users != nullptr) {
      for (absl::string_view line : absl::StrSplit(users->passwd, '\n')) {
        std::vector<std::string> f = absl::StrSplit(line, ':');
        uint32_t v = 0;
        if (f.size() >= 4 && absl::SimpleAtoi(f[2], &v) && v == *uid &&
            absl::SimpleAtoi(f[3], gid)) {
          have_gid = true;
          break;
        }
      }
    }
  } else {
    auto f = users ? FindEntry(users->passwd, u) : std::vector<std::string>{};
    if (f.size() < 4 || !absl::SimpleAtoi(f[2], uid) ||
        !absl::SimpleAtoi(f[3], gid)) {
      return absl::InvalidArgumentError(absl::StrCat(
          "user ", QuoteForMessage(u),
          " is not numeric and not found in the image's /etc/passwd"));
    }
    have_gid = true;
  }
  (void)have_gid;
  if (parts.size() == 2) {
    const std::string& g = parts[1];
    if (!absl::SimpleAtoi(g, gid)) {
      auto f = users ? FindEntry(users->group, g) : std::vector<std::string>{};
      if (f.size() < 3 || !absl::SimpleAtoi(f[2], gid)) {
        return absl::InvalidArgumentError(absl::StrCat(
            "group ", QuoteForMessage(g),
            " is not numeric and not found in the image's /etc/group"));
      }
    }
  }
  return absl::OkStatus();
}

json DefaultMounts() {
  auto m = [](const char* dest, const char* type, const char* src,
              std::vector<std::string> opts) {
    return json{{"destination", dest},
                {"type", type},
                {"source", src},
                {"options", opts}};
  };
  return json::array(
      {m("/proc", "proc", "proc", {}),
       m("/dev", "tmpfs", "tmpfs",
         {"nosuid", "strictatime", "mode=755", "size=65536k"}),
       m("/dev/pts", "devpts", "devpts",
         {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}),
       m("/dev/shm", "tmpfs", "shm",
         {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
       m("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
       m("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
       m("/sys/fs/cgroup", "cgroup", "cgroup",
         {"nosuid", "noexec", "nodev", "relatime", "ro"})});
}

}  // namespace

absl::StatusOr<ImageConfig> ParseImageConfig(absl::string_view text) {
  json j = json::parse(text.begin(), text.end(), nullptr, false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError("image config is not a JSON object");
  }
  ImageConfig c;
  // Docker configs carry the same fields under "config" (and sometimes a
  // stale copy under "container_config", which is ignored).
  json cfg = j.contains("config") && j["config"].is_object() ? j["config"]
                                                             : json::object();
  c.entrypoint = Strings(cfg, "Entrypoint");
  c.cmd = Strings(cfg, "Cmd");
  c.env = Strings(cfg, "Env");
  NEST_ASSIGN_OR_RETURN(c.working_dir, StringField(cfg, "WorkingDir"));
  NEST_ASSIGN_OR_RETURN(c.user, StringField(cfg, "User"));
  NEST_ASSIGN_OR_RETURN(c.stop_signal, StringField(cfg, "StopSignal"));
  if (cfg.contains("Labels") && cfg["Labels"].is_object()) {
    for (const auto& [k, v] : cfg["Labels"].items()) {
      if (v.is_string()) c.labels[k] = v.get<std::string>();
    }
  }
  if (cfg.contains("ExposedPorts") && cfg["ExposedPorts"].is_object()) {
    for (const auto& [k, v] : cfg["ExposedPorts"].items())
      c.exposed_ports.push_back(k);
  }
  return c;
}

absl::StatusOr<RootfsUsers> ReadRootfsUsers(const std::string& rootfs) {
  RootfsUsers u;
  ScopedFd root(::open(rootfs.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return ErrnoStatus(errno, "open", rootfs);
  ScopedFd etc(::openat(root.get(), "etc",
                        O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC));
  if (!etc.valid()) return u;
  NEST_ASSIGN_OR_RETURN(u.passwd, ReadNoFollow(etc.get(), "passwd"));
  NEST_ASSIGN_OR_RETURN(u.group, ReadNoFollow(etc.get(), "group"));
  return u;
}

absl::StatusOr<std::string> BuildRuntimeConfig(const ImageConfig& image,
                                               const WorkloadOverrides& o,
                                               const RootfsUsers* users) {
  std::vector<std::string> args;
  if (o.command) {
    args = *o.command;
    if (o.args) args.insert(args.end(), o.args->begin(), o.args->end());
  } else {
    args = image.entrypoint;
    const auto& tail = o.args ? *o.args : image.cmd;
    args.insert(args.end(), tail.begin(), tail.end());
  }
  if (args.empty() || args[0].empty()) {
    return absl::InvalidArgumentError(
        "command: the image has no entrypoint or cmd and the workload sets no "
        "command; expected at least a program to run");
  }

  // Env: image first, then overrides replacing by key, order kept.
  std::vector<std::pair<std::string, std::string>> env;
  auto set = [&env](const std::string& k, const std::string& v) {
    for (auto& [ek, ev] : env) {
      if (ek == k) {
        ev = v;
        return;
      }
    }
    env.emplace_back(k, v);
  };
  for (const auto& kv : image.env) {
    auto eq = kv.find('=');
    if (eq == 0 || eq == std::string::npos) continue;  // malformed image entry
    set(kv.substr(0, eq), kv.substr(eq + 1));
  }
  for (const auto& [k, v] : o.env) {
    if (k.empty() || k.find('=') != std::string::npos ||
        k.find('\0') != std::string::npos) {
      return absl::InvalidArgumentError(
          absl::StrCat("env: variable name ", QuoteForMessage(k),
                       " must be non-empty and contain no '='"));
    }
    set(k, v);
  }
  bool has_path = false;
  json env_json = json::array();
  for (const auto& [k, v] : env) {
    has_path = has_path || k == "PATH";
    env_json.push_back(absl::StrCat(k, "=", v));
  }
  if (!has_path) env_json.insert(env_json.begin(), std::string(kDefaultPath));

  std::string cwd = o.working_dir ? *o.working_dir : image.working_dir;
  if (cwd.empty()) cwd.push_back('/');  // not `= "/"`: GCC 12 -Wrestrict bug
  if (cwd[0] != '/') {
    return absl::InvalidArgumentError(absl::StrCat(
        "working_dir must be an absolute path, got ", QuoteForMessage(cwd)));
  }
  uint32_t uid = 0, gid = 0;
  NEST_RETURN_IF_ERROR(
      ResolveUser(o.user ? *o.user : image.user, users, &uid, &gid));
  if (o.milli_cpu < 0 || o.memory_mib < 0 || o.pids_limit < 0) {
    return absl::InvalidArgumentError(
        "resource limits (milli_cpu, memory_mib, pids_limit) must be >= 0");
  }

  const std::vector<std::string> caps = {"CAP_CHOWN",
                                         "CAP_DAC_OVERRIDE",
                                         "CAP_FSETID",
                                         "CAP_FOWNER",
                                         "CAP_MKNOD",
                                         "CAP_NET_RAW",
                                         "CAP_SETGID",
                                         "CAP_SETUID",
                                         "CAP_SETFCAP",
                                         "CAP_SETPCAP",
                                         "CAP_NET_BIND_SERVICE",
                                         "CAP_SYS_CHROOT",
                                         "CAP_KILL",
                                         "CAP_AUDIT_WRITE"};
  json process{{"terminal", o.terminal},
               {"user", {{"uid", uid}, {"gid", gid}}},
               {"args", args},
               {"env", env_json},
               {"cwd", cwd},
               {"capabilities",
                {{"bounding", caps}, {"effective", caps}, {"permitted", caps}}},
               {"rlimits", json::array({{{"type", "RLIMIT_NOFILE"},
                                         {"hard", o.nofile_limit},
                                         {"soft", o.nofile_limit}}})},
               {"noNewPrivileges", true}};

  json resources = json::object();
  if (o.milli_cpu > 0) {
    resources["cpu"] = {{"quota", o.milli_cpu * kCpuPeriodUs / 1000},
                        {"period", kCpuPeriodUs}};
  }
  if (o.memory_mib > 0) {
    int64_t bytes = o.memory_mib * 1024 * 1024;
    // swap == limit means "no swap on top of memory" (memory.swap.max=0).
    resources["memory"] = {{"limit", bytes}, {"swap", bytes}};
  }
  if (o.pids_limit > 0) resources["pids"] = {{"limit", o.pids_limit}};

  json namespaces = json::array();
  for (const char* ns : {"pid", "ipc", "uts", "mount", "cgroup"}) {
    namespaces.push_back({{"type", ns}});
  }
  if (!o.host_network) namespaces.push_back({{"type", "network"}});

  json linux_section{
      {"namespaces", namespaces},
      {"resources", resources},
      {"maskedPaths",
       {"/proc/acpi", "/proc/asound", "/proc/kcore", "/proc/keys",
        "/proc/latency_stats", "/proc/timer_list", "/proc/timer_stats",
        "/proc/sched_debug", "/sys/firmware", "/proc/scsi"}},
      {"readonlyPaths",
       {"/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys",
        "/proc/sysrq-trigger"}}};
  if (!o.cgroups_path.empty()) linux_section["cgroupsPath"] = o.cgroups_path;

  json spec{{"ociVersion", "1.0.2"},
            {"process", process},
            {"root", {{"path", "rootfs"}, {"readonly", o.readonly_rootfs}}},
            {"hostname", o.hostname.empty() ? "nest" : o.hostname},
            {"mounts", DefaultMounts()},
            {"linux", linux_section}};
  if (!image.labels.empty()) spec["annotations"] = image.labels;
  return spec.dump(2) + "\n";
}

}  // namespace nest::images

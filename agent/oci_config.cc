#include "agent/oci_config.h"

#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "agent/bundle_files.h"

namespace nest::agent {
namespace {

std::string QuotedList(const std::vector<std::string>& items) {
  std::vector<std::string> q;
  for (const auto& i : items) q.push_back(JsonQuote(i));
  return absl::StrCat("[", absl::StrJoin(q, ","), "]");
}

std::string Mount(absl::string_view dest, absl::string_view type,
                  absl::string_view source,
                  const std::vector<std::string>& options) {
  return absl::StrCat("{\"destination\":", JsonQuote(dest),
                      ",\"type\":", JsonQuote(type),
                      ",\"source\":", JsonQuote(source),
                      ",\"options\":", QuotedList(options), "}");
}

// Docker's default set: enough for ordinary services, no admin powers.
const std::vector<std::string>& DefaultCaps() {
  static const auto* caps = new std::vector<std::string>{"CAP_CHOWN",
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
  return *caps;
}

}  // namespace

std::string JsonQuote(absl::string_view s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\t':
        out += "\\t";
        break;
      case '\r':
        out += "\\r";
        break;
      default:
        if (c < 0x20) {
          out += absl::StrFormat("\\u%04x", c);
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  out += "\"";
  return out;
}

std::string BuildOciConfig(const ContainerSpec& spec, const OciRoot& root,
                           const std::string& cgroup_path,
                           const std::string& files_dir,
                           const OciNetwork& network) {
  std::vector<std::string> env = spec.env;
  bool has_path = false;
  for (const auto& e : env) has_path = has_path || e.rfind("PATH=", 0) == 0;
  if (!has_path) {
    env.push_back(
        "PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin");
  }
  const auto& caps = QuotedList(DefaultCaps());
  std::string process = absl::StrCat(
      "{\"terminal\":false,\"user\":{\"uid\":0,\"gid\":0},\"args\":",
      QuotedList(spec.args), ",\"env\":", QuotedList(env),
      ",\"cwd\":", JsonQuote(spec.cwd.empty() ? "/" : spec.cwd),
      ",\"capabilities\":{\"bounding\":", caps, ",\"effective\":", caps,
      ",\"permitted\":", caps, "},\"noNewPrivileges\":true}");

  std::vector<std::string> mounts = {
      Mount("/proc", "proc", "proc", {}),
      Mount("/dev", "tmpfs", "tmpfs",
            {"nosuid", "strictatime", "mode=755", "size=65536k"}),
      Mount("/dev/pts", "devpts", "devpts",
            {"nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620"}),
      Mount("/dev/shm", "tmpfs", "shm",
            {"nosuid", "noexec", "nodev", "mode=1777", "size=65536k"}),
      Mount("/dev/mqueue", "mqueue", "mqueue", {"nosuid", "noexec", "nodev"}),
      Mount("/sys", "sysfs", "sysfs", {"nosuid", "noexec", "nodev", "ro"}),
      Mount("/sys/fs/cgroup", "cgroup", "cgroup",
            {"nosuid", "noexec", "nodev", "relatime", "ro"}),
  };
  if (root.readonly) {
    // A read-only image still needs somewhere to write.
    mounts.push_back(Mount("/tmp", "tmpfs", "tmpfs",
                           {"nosuid", "nodev", "mode=1777", "size=65536k"}));
  }
  if (!network.netns_path.empty() && !network.hosts_path.empty()) {
    // Before spec.files, so a file of the spec's own at /etc/hosts wins.
    mounts.push_back(Mount("/etc/hosts", "bind", network.hosts_path,
                           {"bind", "ro", "nosuid", "nodev", "noexec"}));
  }
  for (size_t i = 0; i < spec.files.size(); ++i) {
    mounts.push_back(Mount(spec.files[i].path, "bind",
                           ContainerFilePath(files_dir, i),
                           {"bind", "ro", "nosuid", "nodev", "noexec"}));
  }

  const ContainerLimits& l = spec.limits;
  std::vector<std::string> res;
  if (l.memory_max_bytes > 0) {
    res.push_back(
        absl::StrCat("\"memory\":{\"limit\":", l.memory_max_bytes, "}"));
  }
  if (l.cpu_quota_us > 0) {
    res.push_back(absl::StrCat("\"cpu\":{\"quota\":", l.cpu_quota_us,
                               ",\"period\":", l.cpu_period_us, "}"));
  }
  if (l.pids_max > 0) {
    res.push_back(absl::StrCat("\"pids\":{\"limit\":", l.pids_max, "}"));
  }
  std::string linux = absl::StrCat(
      "{\"resources\":{", absl::StrJoin(res, ","),
      "},\"cgroupsPath\":", JsonQuote(cgroup_path),
      ",\"namespaces\":[{\"type\":\"pid\"},{\"type\":\"ipc\"},{\"type\":"
      "\"uts\"},{\"type\":\"mount\"},{\"type\":\"cgroup\"}",
      network.netns_path.empty()
          ? ""
          : absl::StrCat(",{\"type\":\"network\",\"path\":",
                         JsonQuote(network.netns_path), "}"),
      "],"
      "\"maskedPaths\":[\"/proc/kcore\",\"/proc/keys\",\"/proc/timer_list\","
      "\"/sys/firmware\"],\"readonlyPaths\":[\"/proc/bus\",\"/proc/fs\","
      "\"/proc/irq\",\"/proc/sys\",\"/proc/sysrq-trigger\"]}");

  return absl::StrCat(
      "{\"ociVersion\":\"1.0.2\",\"process\":", process,
      ",\"root\":{\"path\":", JsonQuote(root.path),
      ",\"readonly\":", root.readonly ? "true" : "false", "},\"hostname\":",
      JsonQuote(spec.hostname.empty() ? spec.id : spec.hostname),
      ",\"mounts\":[", absl::StrJoin(mounts, ","), "],\"linux\":", linux,
      "}\n");
}

}  // namespace nest::agent

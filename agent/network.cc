#include "agent/network.h"

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "agent/subprocess.h"
#include "agent/validation.h"
#include "core/sha256.h"

namespace nest::agent {
namespace {

// Where iproute2 keeps named network namespaces: Debian's iproute2 is built
// with NETNS_RUN_DIR /run/netns (measured in the guest: "Cannot create
// namespace file /run/netns/..."), and the guest has no /var/run -> /run
// link, so only this path names the same file for ip and crun.
constexpr char kNetnsDir[] = "/run/netns/";
constexpr char kTable[] = "nest";

std::string ShortHash(const std::string& id) {
  Sha256 h;
  h.Update(id.data(), id.size());
  return h.FinishHex().substr(0, 12);
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// Rewrites `path` in place (same inode): every container bind-mounts it, and
// a rename would leave them reading the old file.
absl::Status WriteInPlace(const std::string& path, const std::string& data) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("open ", path, ": ", std::strerror(errno)));
  }
  // Write first, then cut: a reader never sees an empty file.
  bool ok = ::pwrite(fd, data.data(), data.size(), 0) ==
                static_cast<ssize_t>(data.size()) &&
            ::ftruncate(fd, static_cast<off_t>(data.size())) == 0;
  int err = errno;
  ::close(fd);
  if (!ok) {
    return absl::InternalError(
        absl::StrCat("write ", path, ": ", std::strerror(err)));
  }
  return absl::OkStatus();
}

// The IPv4 addresses ("a.b.c.d/len") in `ip -o -4 addr show` output.
std::vector<std::string> InetAddresses(absl::string_view out) {
  std::vector<std::string> addrs;
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    for (size_t i = 0; i + 1 < f.size(); ++i) {
      if (f[i] == "inet") addrs.emplace_back(f[i + 1]);
    }
  }
  return addrs;
}

}  // namespace

LinuxNetwork::LinuxNetwork(Options options) : options_(std::move(options)) {
  std::error_code ec;
  std::filesystem::create_directories(options_.state_dir, ec);
}

std::string LinuxNetwork::NetnsName(const std::string& id) {
  return "nest-" + ShortHash(id);
}

std::string LinuxNetwork::VethName(const std::string& id) {
  return "nv" + ShortHash(id);
}

std::string LinuxNetwork::hosts_path() const {
  return options_.state_dir + "/hosts";
}

absl::StatusOr<std::string> LinuxNetwork::IpOutput(
    const std::vector<std::string>& args) {
  std::vector<std::string> cmd = {options_.ip};
  cmd.insert(cmd.end(), args.begin(), args.end());
  NEST_ASSIGN_OR_RETURN(ExecResult r,
                        RunCommand(cmd, {}, options_.command_timeout));
  if (r.exit_code != 0 || r.timed_out) {
    return absl::InternalError(
        absl::StrCat(absl::StrJoin(cmd, " "), " failed (exit ", r.exit_code,
                     r.timed_out ? ", timed out" : "",
                     "): ", absl::StripTrailingAsciiWhitespace(r.output)));
  }
  return r.output;
}

absl::Status LinuxNetwork::Ip(const std::vector<std::string>& args) {
  return IpOutput(args).status();
}

absl::Status LinuxNetwork::IpBatch(const std::string& netns,
                                   const std::string& lines) {
  std::string file = absl::StrCat(options_.state_dir, "/batch-",
                                  netns.empty() ? "guest" : netns);
  NEST_RETURN_IF_ERROR(WriteInPlace(file, lines));
  std::vector<std::string> args;
  if (!netns.empty()) args = {"-n", netns};
  args.push_back("-batch");
  args.push_back(file);
  absl::Status s = Ip(args);
  ::unlink(file.c_str());
  return s;
}

absl::Status LinuxNetwork::WriteSysctl(const std::string& key,
                                       absl::string_view value) {
  std::string path = absl::StrCat(options_.proc_sys, "/", key);
  std::ofstream out(path);
  out << value;
  out.close();
  if (!out) {
    return absl::InternalError(
        absl::StrCat("cannot write ", value, " to ", path));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> LinuxNetwork::FindInterface(
    const std::string& mac) {
  // `ip` rather than /sys/class/net: sysfs shows the namespace of whoever
  // mounted it, `ip` the one we run in.
  NEST_ASSIGN_OR_RETURN(std::string out, IpOutput({"-o", "link", "show"}));
  std::vector<std::string> seen;
  for (absl::string_view line : absl::StrSplit(out, '\n', absl::SkipEmpty())) {
    std::vector<absl::string_view> f =
        absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
    if (f.size() < 2) continue;
    std::string name(f[1].substr(0, f[1].find_first_of(":@")));
    for (size_t i = 2; i + 1 < f.size(); ++i) {
      if (f[i] != "link/ether") continue;
      seen.push_back(absl::StrCat(name, "=", f[i + 1]));
      if (absl::EqualsIgnoreCase(f[i + 1], mac)) return name;
    }
  }
  return absl::NotFoundError(absl::StrCat(
      "mac ", mac, " is not on any interface of the guest (",
      seen.empty() ? "none has a MAC" : absl::StrJoin(seen, ", "), ")"));
}

absl::Status LinuxNetwork::ConfigureNic(const GuestNetwork& n,
                                        const std::string& dev) {
  std::string want = absl::StrCat(n.address, "/", n.prefix_length);
  NEST_RETURN_IF_ERROR(Ip({"link", "set", "dev", dev, "up"}));
  NEST_RETURN_IF_ERROR(Ip({"addr", "replace", want, "dev", dev}));
  NEST_ASSIGN_OR_RETURN(std::string out,
                        IpOutput({"-o", "-4", "addr", "show", "dev", dev}));
  for (const std::string& a : InetAddresses(out)) {
    if (a != want) NEST_RETURN_IF_ERROR(Ip({"addr", "del", a, "dev", dev}));
  }
  NEST_RETURN_IF_ERROR(
      Ip({"route", "replace", "default", "via", n.gateway, "dev", dev}));
  // Forward between the NIC and the containers' veths, and answer ARP on
  // the NIC for the containers' addresses (routed via their veths), so the
  // host reaches them on-link without a route per container.
  NEST_RETURN_IF_ERROR(WriteSysctl("net/ipv4/ip_forward", "1"));
  return WriteSysctl(absl::StrCat("net/ipv4/conf/", dev, "/proxy_arp"), "1");
}

absl::Status LinuxNetwork::ConfigureVips(const GuestNetwork& n) {
  std::set<std::string> want;
  for (const auto& v : n.vips) want.insert(v + "/32");
  NEST_ASSIGN_OR_RETURN(std::string out,
                        IpOutput({"-o", "-4", "addr", "show", "dev", "lo"}));
  // Everything on lo outside 127/8 is a VIP Nest put there.
  for (const std::string& a : InetAddresses(out)) {
    if (!absl::StartsWith(a, "127.") && !want.count(a)) {
      NEST_RETURN_IF_ERROR(Ip({"addr", "del", a, "dev", "lo"}));
    }
  }
  std::string batch;
  for (const auto& a : want)
    absl::StrAppend(&batch, "addr replace ", a, " dev lo\n");
  if (batch.empty()) return absl::OkStatus();
  return IpBatch("", batch);
}

absl::Status LinuxNetwork::ApplyRuleset(const std::string& ruleset) {
  std::vector<std::string> list = {options_.nft, "list", "table", "ip", kTable};
  NEST_ASSIGN_OR_RETURN(ExecResult present,
                        RunCommand(list, {}, options_.command_timeout));
  bool table_present = present.exit_code == 0;
  if (ruleset.empty()) {
    applied_ruleset_.clear();
    if (!table_present) return absl::OkStatus();
    NEST_ASSIGN_OR_RETURN(
        ExecResult r,
        RunCommand({options_.nft, "delete", "table", "ip", kTable}, {},
                   options_.command_timeout));
    if (r.exit_code != 0) {
      return absl::InternalError(
          absl::StrCat("nft delete table ip nest: ", r.output));
    }
    return absl::OkStatus();
  }
  if (table_present && ruleset == applied_ruleset_) return absl::OkStatus();
  std::string file = options_.state_dir + "/ruleset.nft";
  NEST_RETURN_IF_ERROR(WriteInPlace(file, ruleset));
  NEST_ASSIGN_OR_RETURN(ExecResult r, RunCommand({options_.nft, "-f", file}, {},
                                                 options_.command_timeout));
  if (r.exit_code != 0 || r.timed_out) {
    applied_ruleset_.clear();
    return absl::InvalidArgumentError(
        absl::StrCat("ruleset was refused by nft (exit ", r.exit_code,
                     "): ", absl::StripTrailingAsciiWhitespace(r.output)));
  }
  applied_ruleset_ = ruleset;
  return absl::OkStatus();
}

absl::Status LinuxNetwork::WriteHosts(const GuestNetwork& n) {
  std::string data =
      "127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n";
  for (const auto& [name, address] : n.hosts) {
    absl::StrAppend(&data, address, "\t", name, "\n");
  }
  if (ReadAll(hosts_path()) == data) return absl::OkStatus();
  return WriteInPlace(hosts_path(), data);
}

absl::Status LinuxNetwork::Configure(const GuestNetwork& n) {
  NEST_RETURN_IF_ERROR(ValidateGuestNetwork(n));
  absl::MutexLock lock(&mu_);
  NEST_ASSIGN_OR_RETURN(std::string dev, FindInterface(n.mac));
  NEST_RETURN_IF_ERROR(ConfigureNic(n, dev));
  NEST_RETURN_IF_ERROR(ConfigureVips(n));
  NEST_RETURN_IF_ERROR(ApplyRuleset(n.ruleset));
  NEST_RETURN_IF_ERROR(WriteHosts(n));
  if (network_.has_value() && network_->address != n.address) {
    // Containers route through the VM's address: follow a change.
    for (const auto& [id, a] : attached_) {
      NEST_RETURN_IF_ERROR(IpBatch(
          a.netns,
          absl::StrCat("route replace ", n.address, " dev eth0 scope link\n",
                       "route replace default via ", n.address,
                       " dev eth0\n")));
    }
  }
  network_ = n;
  return absl::OkStatus();
}

absl::Status LinuxNetwork::Remove(const std::string& netns,
                                  const std::string& veth) {
  // Deleting one end of the pair deletes both, at once; the namespace's own
  // teardown would do it too, but asynchronously.
  (void)Ip({"link", "del", "dev", veth});
  std::string path = kNetnsDir + netns;
  if (::access(path.c_str(), F_OK) == 0) {
    NEST_RETURN_IF_ERROR(Ip({"netns", "del", netns}));
  }
  return absl::OkStatus();
}

absl::StatusOr<NetworkAttachment> LinuxNetwork::Attach(
    const std::string& id, const std::string& address) {
  if (!ParseIpv4(address, nullptr)) {
    return absl::InvalidArgumentError(
        absl::StrCat("address must be an IPv4 address like 10.88.0.66, got \"",
                     address, "\""));
  }
  absl::MutexLock lock(&mu_);
  if (!network_.has_value()) {
    return NetworkNotConfigured(id, address);
  }
  for (const auto& [other, a] : attached_) {
    if (other == id || a.address == address) {
      return absl::AlreadyExistsError(
          absl::StrCat("address ", a.address, " is held by container ", other));
    }
  }
  Attached a{address, NetnsName(id), VethName(id)};
  // Leftovers of an agent that died before deleting: the names are ours.
  (void)Remove(a.netns, a.veth);
  const std::string& vm = network_->address;
  absl::Status s = Ip({"netns", "add", a.netns});
  if (s.ok()) {
    s = IpBatch("", absl::StrCat(
                        "link add ", a.veth, " type veth peer name eth0 netns ",
                        a.netns, "\nlink set dev ", a.veth, " up\n",
                        "route replace ", address, "/32 dev ", a.veth, "\n"));
  }
  if (s.ok()) {
    s = IpBatch(a.netns,
                absl::StrCat("link set dev lo up\n", "addr add ", address,
                             "/32 dev eth0\n", "link set dev eth0 up\n",
                             "route add ", vm, " dev eth0 scope link\n",
                             "route add default via ", vm, " dev eth0\n"));
  }
  if (!s.ok()) {
    (void)Remove(a.netns, a.veth);
    return Annotate(s, absl::StrCat("network of container ", id));
  }
  attached_[id] = a;
  return NetworkAttachment{kNetnsDir + a.netns, hosts_path()};
}

absl::Status LinuxNetwork::Detach(const std::string& id) {
  absl::MutexLock lock(&mu_);
  auto it = attached_.find(id);
  if (it == attached_.end()) return absl::OkStatus();
  NEST_RETURN_IF_ERROR(Remove(it->second.netns, it->second.veth));
  attached_.erase(it);
  return absl::OkStatus();
}

}  // namespace nest::agent

// The agent's guest networking (agent/network.h) against the real `ip`,
// `nft` and crun of this machine. The whole process first moves into a
// private network and mount namespace (before any thread exists), which
// plays the guest: a veth pair is its "NIC", whose peer sits in a named
// namespace playing the host's bridge (10.88.0.1/20). So nothing here
// touches the machine's own network, and everything (namespaces, veths,
// nftables) vanishes with the process even when a check fails.
//
// Needs root, ip, nft, curl and busybox; skips (saying why) without them. The
// crun case also needs crun (as tests/agent/crun_test.cc, hybrid cgroup
// hosts run crun with cgroup v1).
#define DOCTEST_CONFIG_IMPLEMENT
#include <sched.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/statfs.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/crun_runtime.h"
#include "agent/network.h"
#include "agent/subprocess.h"
#include "doctest/doctest.h"
#include "test_util.h"

namespace nest::agent {
namespace {

std::string g_skip;  // why the tests cannot run here; empty when they can

constexpr char kMac[] = "52:54:00:aa:bb:01";
constexpr char kHostNs[] = "nesttest-host";
constexpr char kVm[] = "10.88.0.2";
constexpr char kVip[] = "10.88.15.250";

// Runs a shell command; the result, or a failed check with its output.
ExecResult Sh(const std::string& cmd) {
  auto r = RunCommand({"sh", "-c", cmd}, {}, absl::Seconds(30));
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  return *r;
}

std::string MustSh(const std::string& cmd) {
  ExecResult r = Sh(cmd);
  REQUIRE_MESSAGE(r.exit_code == 0, cmd, " -> ", r.exit_code, ": ", r.output);
  return r.output;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A DNAT of the VIP's port 80 to one backend, shaped like the control
// plane's GuestRulesetScript (tests/net/testdata/guest.nft).
std::string Ruleset(const std::string& backend) {
  return absl::StrCat(
      "table ip nest\nflush table ip nest\ntable ip nest {\n"
      " chain services {\n  ip daddr ",
      kVip, " tcp dport 80 ct mark set 0x6e657374 dnat ip to ", backend,
      ":8080\n",
      " }\n chain prerouting {\n  type nat hook prerouting priority dstnat; "
      "policy accept;\n  jump services\n }\n"
      " chain output {\n  type nat hook output priority -100; policy "
      "accept;\n  jump services\n }\n"
      " chain postrouting {\n  type nat hook postrouting priority srcnat; "
      "policy accept;\n  ct mark 0x6e657374 masquerade\n }\n}\n");
}

GuestNetwork Network() {
  GuestNetwork n;
  n.mac = "52:54:00:AA:BB:01";  // the NIC shows it in lower case
  n.address = kVm;
  n.prefix_length = 20;
  n.gateway = "10.88.0.1";
  n.vips = {kVip, "10.88.15.249"};
  n.ruleset = Ruleset("10.88.0.66");
  n.hosts = {{"web", kVip}, {"db", "10.88.0.67"}};
  return n;
}

// The "guest's" NIC and the "host's" bridge end, fresh for each test.
struct Wire {
  Wire() {
    MustSh(absl::StrCat(
        "ip netns add ", kHostNs, " && ip link add nic0 address ", kMac,
        " type veth peer name br0 netns ", kHostNs, " && ip -n ", kHostNs,
        " addr add 10.88.0.1/20 dev br0 && ip -n ", kHostNs,
        " link set br0 up && ip -n ", kHostNs, " link set lo up"));
  }
  ~Wire() {
    (void)Sh("ip link del nic0; nft delete table ip nest");
    (void)Sh(absl::StrCat("ip netns del ", kHostNs));
  }
};

// `cmd` run in the host's namespace.
std::string OnHost(const std::string& cmd) {
  return absl::StrCat("ip netns exec ", kHostNs, " ", cmd);
}

// GET http://<VIP>/index.html from the host's namespace, retried while the
// server starts; the body, or "" when it never answered.
std::string FromVip() {
  for (int i = 0; i < 50; ++i) {
    ExecResult r =
        Sh(OnHost(absl::StrCat("curl -sS -m 3 http://", kVip, "/index.html")));
    if (r.exit_code == 0 && !r.output.empty()) return r.output;
    absl::SleepFor(absl::Milliseconds(100));
  }
  return "";
}

LinuxNetwork::Options NetOptions(const std::string& dir) {
  LinuxNetwork::Options o;
  o.state_dir = dir + "/network";
  return o;
}

// True (saying why) when the tests cannot run here.
bool Skipped() {
  if (!g_skip.empty()) MESSAGE("skipped: " << g_skip);
  return !g_skip.empty();
}

// One test's guest: scratch space, its wire to the host, its networking.
struct Fixture {
  testing::TempDir tmp;
  Wire wire;
  LinuxNetwork net{NetOptions(tmp.path())};
};

TEST_CASE("guest network: refusals before and without a NIC") {
  if (Skipped()) return;
  Fixture f;
  LinuxNetwork& net = f.net;
  auto a = net.Attach("early", "10.88.0.66");
  CHECK(absl::IsFailedPrecondition(a.status()));
  CHECK(
      absl::StrContains(a.status().message(), "guest network not configured"));
  GuestNetwork n = Network();
  n.mac = "52:54:00:00:00:99";
  absl::Status s = net.Configure(n);
  CHECK(absl::IsNotFound(s));
  CHECK(absl::StrContains(s.message(), "52:54:00:00:00:99"));
  n.prefix_length = 31;
  CHECK(absl::IsInvalidArgument(net.Configure(n)));
}

TEST_CASE("guest network: NIC, VIPs, ruleset, hosts and a container netns") {
  if (Skipped()) return;
  Fixture f;
  LinuxNetwork& net = f.net;
  const testing::TempDir& tmp = f.tmp;

  GuestNetwork n = Network();
  absl::Status s = net.Configure(n);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  // A stale address on the NIC is removed by the next Configure.
  MustSh("ip addr add 10.88.1.9/20 dev nic0");
  s = net.Configure(n);
  REQUIRE_MESSAGE(s.ok(), s.ToString());

  std::string nic = MustSh("ip -o -4 addr show dev nic0");
  CHECK(absl::StrContains(nic, "10.88.0.2/20"));
  CHECK(!absl::StrContains(nic, "10.88.1.9"));
  CHECK(absl::StrContains(MustSh("ip route show default"), "via 10.88.0.1"));
  std::string lo = MustSh("ip -o -4 addr show dev lo");
  CHECK(absl::StrContains(lo, "10.88.15.250/32"));
  CHECK(absl::StrContains(lo, "10.88.15.249/32"));
  CHECK(ReadAll("/proc/sys/net/ipv4/ip_forward") == "1\n");
  CHECK(ReadAll("/proc/sys/net/ipv4/conf/nic0/proxy_arp") == "1\n");
  CHECK(absl::StrContains(MustSh("nft list table ip nest"), "10.88.0.66"));
  std::string hosts = ReadAll(net.hosts_path());
  CHECK(absl::StrContains(hosts, "127.0.0.1\tlocalhost\n"));
  CHECK(absl::StrContains(hosts, "10.88.15.250\tweb\n"));
  CHECK(absl::StrContains(hosts, "10.88.0.67\tdb\n"));
  // The guest answers the host, and the host's gateway answers it.
  MustSh(OnHost("busybox ping -c 1 -W 5 10.88.0.2"));
  MustSh("busybox ping -c 1 -W 5 10.88.0.1");

  auto a = net.Attach("web-1", "10.88.0.66");
  REQUIRE_MESSAGE(a.ok(), a.status().ToString());
  const std::string ns = LinuxNetwork::NetnsName("web-1");
  const std::string veth = LinuxNetwork::VethName("web-1");
  CHECK(a->netns_path == "/run/netns/" + ns);
  CHECK(a->hosts_path == net.hosts_path());
  CHECK(veth.size() <= 15);
  CHECK(::access(a->netns_path.c_str(), F_OK) == 0);
  std::string inside = "ip netns exec " + ns + " ";
  CHECK(absl::StrContains(MustSh(inside + "ip -o -4 addr show dev eth0"),
                          "10.88.0.66/32"));
  CHECK(absl::StrContains(MustSh(inside + "ip route show default"),
                          "via 10.88.0.2"));
  CHECK(absl::StrContains(MustSh("ip route show 10.88.0.66"), veth));

  auto taken = net.Attach("web-2", "10.88.0.66");
  CHECK(absl::IsAlreadyExists(taken.status()));

  // Container -> VM, and host -> container on-link (proxy ARP on the NIC).
  MustSh(inside + "busybox ping -c 1 -W 5 10.88.0.2");
  MustSh(inside + "busybox ping -c 1 -W 5 10.88.0.1");
  MustSh(OnHost("busybox ping -c 1 -W 5 10.88.0.66"));

  // Host -> VIP: the guest answers ARP for it (on lo) and the ruleset DNATs
  // it to the container's port 8080.
  std::filesystem::create_directories(tmp.path() + "/www");
  std::ofstream(tmp.path() + "/www/index.html") << "from web-1\n";
  auto httpd = Spawn({{"ip", "netns", "exec", ns, "busybox", "httpd", "-f",
                       "-p", "8080", "-h", tmp.path() + "/www"},
                      {},
                      -1,
                      -1});
  REQUIRE(httpd.ok());
  std::string body = FromVip();
  ::kill(*httpd, SIGKILL);
  (void)ChildReaper::Get().Wait(*httpd, absl::Now() + absl::Seconds(10));
  CHECK(body == "from web-1\n");

  // A new config: one VIP less, other hosts, the control plane's golden
  // ruleset. The stale VIP goes, the new table replaces the old one.
  GuestNetwork n2 = n;
  n2.vips = {kVip};
  n2.hosts = {{"web", kVip}};
  n2.ruleset = ReadAll(NEST_SOURCE_DIR "/tests/net/testdata/guest.nft");
  REQUIRE(!n2.ruleset.empty());
  struct stat before {};
  REQUIRE(::stat(net.hosts_path().c_str(), &before) == 0);
  s = net.Configure(n2);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  lo = MustSh("ip -o -4 addr show dev lo");
  CHECK(absl::StrContains(lo, "10.88.15.250/32"));
  CHECK(!absl::StrContains(lo, "10.88.15.249"));
  CHECK(absl::StrContains(MustSh("nft list table ip nest"), "foreign_drops"));
  struct stat after {};
  REQUIRE(::stat(net.hosts_path().c_str(), &after) == 0);
  CHECK(after.st_ino == before.st_ino);  // in place: bind mounts see it
  CHECK(!absl::StrContains(ReadAll(net.hosts_path()), "db"));

  // The table deleted by hand is restored by the same config.
  MustSh("nft delete table ip nest");
  s = net.Configure(n2);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  CHECK(absl::StrContains(MustSh("nft list table ip nest"), "foreign_drops"));
  // A ruleset nft refuses is INVALID_ARGUMENT with nft's words.
  GuestNetwork bad = n2;
  bad.ruleset = "table ip nest { chain c { nonsense } }\n";
  s = net.Configure(bad);
  CHECK(absl::IsInvalidArgument(s));

  // Detach removes the namespace, the veth and the route.
  REQUIRE(net.Detach("web-1").ok());
  CHECK(::access(a->netns_path.c_str(), F_OK) != 0);
  CHECK(Sh("ip link show " + veth).exit_code != 0);
  CHECK(MustSh("ip route show 10.88.0.66").empty());
  CHECK(net.Detach("web-1").ok());
  // The address is free again.
  auto again = net.Attach("web-2", "10.88.0.66");
  REQUIRE_MESSAGE(again.ok(), again.status().ToString());
  REQUIRE(net.Detach("web-2").ok());
}

TEST_CASE("guest network: a crun container with its own address") {
  if (Skipped()) return;
  // RunCommand: once the reaper runs, system() loses its child to it.
  if (Sh("crun --version").exit_code != 0) {
    MESSAGE("skipped: needs crun on PATH");
    return;
  }
  Fixture f;
  LinuxNetwork& net = f.net;
  const testing::TempDir& tmp = f.tmp;
  CrunRuntime::Options ro;
  ro.state_root = tmp.path() + "/crun";
  ro.bundle_root = tmp.path() + "/bundles";
  ro.cgroup_parent = absl::StrCat("/nest-nettest-", ::getpid());
  testing::CgroupParentCleanup cleanup{ro.cgroup_parent};
  CrunRuntime runtime(ro);
  testing::AgentHarness h(runtime);
  h.containers().SetNetwork(&net);
  AgentClient& c = h.client();
  REQUIRE(c.Connect(absl::Now() + absl::Seconds(10)).ok());
  absl::StatusOr<std::string> tar = testing::BusyboxImageTar(tmp.path());
  REQUIRE_MESSAGE(tar.ok(), tar.status().ToString());
  std::string digest = testing::Sha256Digest(*tar);
  REQUIRE(c.PutImage(digest, *tar).ok());

  absl::Status s = c.ConfigureNetwork(Network());
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  ContainerSpec web = testing::Spec(
      "web-1", {"httpd", "-f", "-p", "8080", "-h", "/www"}, digest);
  web.env = {"PATH=/bin"};
  web.address = "10.88.0.66";
  auto run = c.RunContainer(web);
  REQUIRE_MESSAGE(run.ok(), run.status().ToString());
  CHECK(run->address == "10.88.0.66");

  // Through the VIP from the host, DNATed into the container's netns.
  std::string body = FromVip();
  CHECK(body == "it works\n");
  // Inside: its own address, and the hosts file, which follows changes.
  auto addr = c.Exec("web-1", {"cat", "/proc/net/fib_trie"}, {});
  REQUIRE(addr.ok());
  CHECK(absl::StrContains(addr->output, "10.88.0.66"));
  CHECK(!absl::StrContains(addr->output, "10.88.0.2/"));
  auto hosts = c.Exec("web-1", {"cat", "/etc/hosts"}, {});
  REQUIRE(hosts.ok());
  CHECK(absl::StrContains(hosts->output, "10.88.15.250\tweb"));
  GuestNetwork n2 = Network();
  n2.hosts.emplace_back("cache", "10.88.0.70");
  REQUIRE(c.ConfigureNetwork(n2).ok());
  hosts = c.Exec("web-1", {"cat", "/etc/hosts"}, {});
  REQUIRE(hosts.ok());
  CHECK(absl::StrContains(hosts->output, "10.88.0.70\tcache"));

  REQUIRE(c.KillContainer("web-1", SIGKILL).ok());
  for (int i = 0; i < 200; ++i) {
    auto st = c.ContainerStatus("web-1");
    if (st.ok() && st->state == ContainerState::kExited) break;
    absl::SleepFor(absl::Milliseconds(20));
  }
  s = c.DeleteContainer("web-1");
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  CHECK(::access(("/run/netns/" + LinuxNetwork::NetnsName("web-1")).c_str(),
                 F_OK) != 0);
  CHECK(Sh("ip link show " + LinuxNetwork::VethName("web-1")).exit_code != 0);
}

}  // namespace
}  // namespace nest::agent

namespace {

std::string Isolate() {
  using nest::agent::RunCommand;
  if (::geteuid() != 0) return "needs root";
  // system(), not RunCommand: that starts the reaper thread, and unshare
  // below must run while the process has a single thread.
  for (const char* tool : {"ip", "nft", "curl"}) {
    if (std::system(absl::StrCat(tool, " -V >/dev/null 2>&1").c_str()) != 0) {
      return absl::StrCat("needs ", tool, " on PATH");
    }
  }
  if (::access("/bin/busybox", X_OK) != 0) return "needs /bin/busybox";
  // Before any thread exists: the namespaces are the whole process's.
  if (::unshare(CLONE_NEWNET | CLONE_NEWNS) != 0) {
    return absl::StrCat("unshare: ", std::strerror(errno));
  }
  if (::mount(nullptr, "/", nullptr, MS_REC | MS_PRIVATE, nullptr) != 0) {
    return absl::StrCat("make / private: ", std::strerror(errno));
  }
  // A hybrid cgroup host: crun refuses cgroup2 at /sys/fs/cgroup/unified
  // next to v1 controllers (see tests/agent/crun_test.cc).
  struct statfs cg {};
  if (::statfs("/sys/fs/cgroup", &cg) == 0 && cg.f_type != 0x63677270 &&
      ::access("/sys/fs/cgroup/unified/cgroup.controllers", F_OK) == 0) {
    ::umount2("/sys/fs/cgroup/unified", MNT_DETACH);
  }
  // Named namespaces of this test live and die with its mount namespace.
  ::mkdir("/run/netns", 0755);
  if (::mount("tmpfs", "/run/netns", "tmpfs", 0, "mode=0755") != 0) {
    return absl::StrCat("tmpfs on /run/netns: ", std::strerror(errno));
  }
  auto lo =
      RunCommand({"ip", "link", "set", "lo", "up"}, {}, absl::Seconds(10));
  if (!lo.ok() || lo->exit_code != 0) return "cannot bring lo up";
  return "";
}

}  // namespace

int main(int argc, char** argv) {
  nest::agent::g_skip = Isolate();
  doctest::Context context(argc, argv);
  return context.run();
}

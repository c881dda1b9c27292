// bench_net_throughput: HTTP requests/s from a client on the host to one
// httpd replica in a microVM, through its service VIP (DNAT inside the
// guest) vs straight to the container's own address, in the same run.
//
// Starts `nestd --dev` (next to this binary, on its own state dir, address
// pool and ports), imports the example httpd image, applies one VM and one
// replica, then runs 3 x 10 s of each target, interleaved (direct, vip,
// direct, ...), so drift of the machine hits both alike. Each run keeps
// kClients connections in flight, one request per connection (busybox
// httpd closes after each). Tears everything down at the end, failed or
// not. Needs root, libvirtd and the example image tools (umoci, skopeo).
//
// Last line: {"bench":"net_throughput","vip_rps":…,"direct_rps":…,
// "ratio":…}; goal ratio >= 0.9.
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"

namespace {

constexpr int kClients = 4;
constexpr int kRuns = 3;
constexpr double kRunSeconds = 10;

std::string SelfDir() {
  return std::filesystem::canonical("/proc/self/exe").parent_path().string();
}

// Runs a shell command; its stdout, or exits the bench on failure.
std::string Sh(const std::string& cmd, bool must = true) {
  std::string out;
  FILE* p = popen(cmd.c_str(), "r");
  if (p == nullptr) {
    std::fprintf(stderr, "bench_net_throughput: cannot run %s\n", cmd.c_str());
    std::exit(1);
  }
  char buf[4096];
  size_t n;
  while ((n = fread(buf, 1, sizeof(buf), p)) > 0) out.append(buf, n);
  int rc = pclose(p);
  if (must && rc != 0) {
    std::fprintf(stderr, "bench_net_throughput: failed (%d): %s\n%s\n", rc,
                 cmd.c_str(), out.c_str());
    throw std::runtime_error(cmd);
  }
  return out;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  bind(fd, reinterpret_cast<sockaddr*>(&a), sizeof(a));
  socklen_t len = sizeof(a);
  getsockname(fd, reinterpret_cast<sockaddr*>(&a), &len);
  int port = ntohs(a.sin_port);
  close(fd);
  return port;
}

// One GET on a fresh connection; true when a 200 came back.
bool Get(const sockaddr_in& to) {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return false;
  timeval tv{5, 0};
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  bool ok = false;
  if (connect(fd, reinterpret_cast<const sockaddr*>(&to), sizeof(to)) == 0) {
    static const char kReq[] = "GET / HTTP/1.0\r\nHost: bench\r\n\r\n";
    if (send(fd, kReq, sizeof(kReq) - 1, MSG_NOSIGNAL) > 0) {
      std::string got;
      char buf[2048];
      ssize_t n;
      while ((n = recv(fd, buf, sizeof(buf), 0)) > 0) got.append(buf, n);
      ok = got.rfind("HTTP/1.", 0) == 0 &&
           got.find(" 200 ") != std::string::npos;
    }
  }
  close(fd);
  return ok;
}

struct RunResult {
  double rps = 0;
  long ok = 0;
  long failed = 0;
};

RunResult Load(const std::string& ip, int port) {
  sockaddr_in to{};
  to.sin_family = AF_INET;
  to.sin_port = htons(port);
  inet_pton(AF_INET, ip.c_str(), &to.sin_addr);
  std::atomic<long> ok{0}, failed{0};
  const auto start = std::chrono::steady_clock::now();
  const auto end = start + std::chrono::duration<double>(kRunSeconds);
  std::vector<std::thread> clients;
  for (int i = 0; i < kClients; ++i) {
    clients.emplace_back([&] {
      while (std::chrono::steady_clock::now() < end) {
        (Get(to) ? ok : failed)++;
      }
    });
  }
  for (auto& t : clients) t.join();
  const double took =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
          .count();
  return {static_cast<double>(ok) / took, ok, failed};
}

}  // namespace

int main() {
  const std::string bin = SelfDir() + "/../../tools";
  const std::string src = NEST_SOURCE_DIR;
  char tmpl[] = "/var/lib/nest-bench-net-XXXXXX";
  if (mkdtemp(tmpl) == nullptr) {
    std::perror("mkdtemp under /var/lib (run as root)");
    return 1;
  }
  const std::string work = tmpl;
  std::filesystem::permissions(work, std::filesystem::perms(0755));
  const std::string state = work + "/state";
  const std::string pool = "10.121.0.0/16";
  const std::string api = absl::StrCat("127.0.0.1:", FreePort());
  const std::string ctl = absl::StrCat(bin, "/nestctl --server ", api);
  setenv("NEST_TOKEN_FILE", (state + "/operator.token").c_str(), 1);

  pid_t nestd = fork();
  if (nestd == 0) {
    std::string log = work + "/nestd.log";
    freopen(log.c_str(), "w", stdout);
    freopen(log.c_str(), "a", stderr);
    execl((bin + "/nestd").c_str(), "nestd", "--dev", "--state-dir",
          state.c_str(), "--listen", api.c_str(), "--http-listen", "",
          "--net-pool", pool.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int rc = 1;
  double vip_rps = 0, direct_rps = 0;
  try {
    std::fprintf(stderr, "starting nestd --dev (state %s)\n", state.c_str());
    bool up = false;
    for (int i = 0; i < 900 && !up; ++i) {
      up = std::system((ctl + " get hosts >/dev/null 2>&1").c_str()) == 0;
      if (!up) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    if (!up) throw std::runtime_error("nestd did not answer");
    Sh(absl::StrCat("bash ", src, "/examples/images/build.sh ", work,
                    "/examples >/dev/null"));
    Sh(absl::StrCat(ctl, " image import httpd ", work,
                    "/examples/oci:httpd >/dev/null"));
    const std::string spec = work + "/spec.yaml";
    std::ofstream(spec) << "kind: VmGroup\nname: bench\nspec:\n"
                           "  shape: {vcpus: 1, memory: 256Mi}\n"
                           "  min_vms: 1\n  max_vms: 1\n---\n"
                           "kind: Workload\nname: web\nspec:\n"
                           "  image: httpd\n  group: bench\n  replicas: 1\n"
                           "  resources: {cpu: 100m, memory: 32Mi}\n"
                           "  ports: [{name: http, container_port: 8080}]\n";
    std::fprintf(stderr, "applying one VM and one httpd replica (TCG boot)\n");
    Sh(absl::StrCat(ctl, " apply -f ", spec,
                    " --wait --wait-timeout 8m >/dev/null"));
    std::string name(absl::StripAsciiWhitespace(Sh(absl::StrCat(
        ctl, " get containers -o json | python3 -c 'import json,sys; d=",
        "json.load(sys.stdin); print(d[0][\"name\"])'"))));
    std::string hosts =
        Sh(absl::StrCat(ctl, " exec ", name, " -- cat /etc/hosts"));
    std::string vip, direct;
    for (absl::string_view line : absl::StrSplit(hosts, '\n')) {
      std::vector<std::string> f =
          absl::StrSplit(line, absl::ByAnyChar(" \t"), absl::SkipEmpty());
      if (f.size() < 2) continue;
      if (f[1] == "web") vip = f[0];
      if (f[1] == name) direct = f[0];
    }
    if (vip.empty() || direct.empty()) {
      throw std::runtime_error("no VIP or container address in /etc/hosts");
    }
    // Warm both paths (ARP, conntrack) before measuring.
    Load(direct, 8080);
    std::printf("%-4s %-8s %-16s %10s %10s %8s\n", "run", "target", "address",
                "requests", "failed", "req/s");
    double sum_vip = 0, sum_direct = 0;
    long failures = 0;
    for (int r = 1; r <= kRuns; ++r) {
      for (bool via_vip : {false, true}) {
        const std::string& ip = via_vip ? vip : direct;
        RunResult res = Load(ip, 8080);
        std::printf("%-4d %-8s %-16s %10ld %10ld %8.1f\n", r,
                    via_vip ? "vip" : "direct", ip.c_str(), res.ok, res.failed,
                    res.rps);
        std::fflush(stdout);
        (via_vip ? sum_vip : sum_direct) += res.rps;
        failures += res.failed;
      }
    }
    vip_rps = sum_vip / kRuns;
    direct_rps = sum_direct / kRuns;
    std::printf(
        "mean: vip %.1f req/s, direct %.1f req/s, ratio %.3f (goal >= "
        "0.9); %ld failed requests; %d clients, %d x %.0f s runs\n",
        vip_rps, direct_rps, vip_rps / direct_rps, failures, kClients, kRuns,
        kRunSeconds);
    rc = 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_net_throughput: %s (nestd log: %s/nestd.log)\n",
                 e.what(), work.c_str());
    Sh(absl::StrCat("tail -30 ", work, "/nestd.log >&2"), false);
  }
  kill(nestd, SIGTERM);
  waitpid(nestd, nullptr, 0);
  Sh(absl::StrCat(bin, "/nestd --dev --down --state-dir ", state,
                  " --net-pool ", pool, " >/dev/null 2>&1"),
     false);
  std::filesystem::remove_all(work);
  if (rc != 0) return rc;
  std::printf(
      "{\"bench\":\"net_throughput\",\"vip_rps\":%.1f,\"direct_rps\":%.1f,"
      "\"ratio\":%.3f}\n",
      vip_rps, direct_rps, vip_rps / direct_rps);
  return 0;
}

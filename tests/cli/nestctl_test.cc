// Runs the built nestctl binary against an in-process fake nest.v1 server.
#include <fcntl.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/app.h"
#include "doctest/doctest.h"
#include "tests/cli/fake_nest.h"

extern char** environ;

namespace nest::cli {
namespace {

namespace fs = std::filesystem;

struct Result {
  int code = -1;
  std::string out;
  std::string err;
};

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

class Harness {
 public:
  Harness() {
    std::string tmpl =
        (fs::temp_directory_path() / "nestctl_test.XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir_ = tmpl;
  }
  ~Harness() {
    std::error_code ec;
    fs::remove_all(dir_, ec);
  }

  const fs::path& dir() const { return dir_; }

  fs::path Write(const std::string& name, const std::string& text) {
    fs::path p = dir_ / name;
    std::ofstream(p, std::ios::binary) << text;
    return p;
  }

  // Runs nestctl with `args` after --server; `env` entries replace the
  // NEST_* variables of this process (which are never inherited).
  Result Run(const std::vector<std::string>& args,
             const std::string& stdin_text = "",
             const std::vector<std::string>& env = {}) {
    fs::path in = Write("stdin", stdin_text);
    fs::path out = dir_ / "stdout", err = dir_ / "stderr";
    posix_spawn_file_actions_t fa;
    posix_spawn_file_actions_init(&fa);
    posix_spawn_file_actions_addopen(&fa, 0, in.c_str(), O_RDONLY, 0);
    posix_spawn_file_actions_addopen(&fa, 1, out.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    posix_spawn_file_actions_addopen(&fa, 2, err.c_str(),
                                     O_WRONLY | O_CREAT | O_TRUNC, 0644);
    std::vector<std::string> argv = {NESTCTL_PATH};
    argv.insert(argv.end(), args.begin(), args.end());
    std::vector<char*> cargv;
    for (auto& a : argv) cargv.push_back(a.data());
    cargv.push_back(nullptr);
    std::vector<std::string> envs;
    for (char** e = environ; *e != nullptr; ++e) {
      if (!absl::StartsWith(*e, "NEST_")) envs.push_back(*e);
    }
    envs.insert(envs.end(), env.begin(), env.end());
    std::vector<char*> cenv;
    for (auto& e : envs) cenv.push_back(e.data());
    cenv.push_back(nullptr);
    pid_t pid;
    int rc = posix_spawn(&pid, NESTCTL_PATH, &fa, nullptr, cargv.data(),
                         cenv.data());
    posix_spawn_file_actions_destroy(&fa);
    REQUIRE(rc == 0);
    int status = 0;
    REQUIRE(waitpid(pid, &status, 0) == pid);
    Result r;
    r.code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    r.out = Slurp(out);
    r.err = Slurp(err);
    return r;
  }

 private:
  fs::path dir_;
};

// A fake server with the demo applied, and a harness pointed at it.
struct Demo {
  testing::FakeNest fake;
  Harness h;
  std::vector<std::string> server;

  Demo() {
    fake.Seed();
    server = {"--server", fake.address()};
    Result r = Nestctl({"apply", "-f", NEST_EXAMPLES_DIR "/demo.yaml",
                        "--wait-timeout", "10s"});
    REQUIRE_MESSAGE(r.code == 0, r.err);
  }

  Result Nestctl(std::vector<std::string> args, const std::string& in = "",
                 const std::vector<std::string>& env = {}) {
    args.insert(args.begin(), server.begin(), server.end());
    return h.Run(args, in, env);
  }
};

TEST_CASE("apply shows the plan, applies it and waits until converged") {
  testing::FakeNest fake;
  fake.Seed();
  Harness h;
  Result r = h.Run({"--server", fake.address(), "apply", "-f",
                    NEST_EXAMPLES_DIR "/demo.yaml"});
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(r.out ==
        "VmGroup/web      create\n"
        "Workload/hello   create\n"
        "Workload/httpd   create\n"
        "applied: 3 created, 0 updated, 0 unchanged\n");
  CHECK(r.err == "ready: web 1/1 VMs, hello 3/3, httpd 2/2\n");
  CHECK(fake.writes() == 3);
}

TEST_CASE("apply --dry-run changes nothing; a changed field shows its diff") {
  Demo d;
  int writes = d.fake.writes();
  std::string spec =
      "kind: Workload\nname: httpd\nspec:\n  image: httpd\n  group: web\n"
      "  replicas: 5\n  resources: {cpu: 100m, memory: 32Mi}\n"
      "  ports: [{name: http, container_port: 8080}]\n"
      "  restart_policy: always\n";
  Result r = d.Nestctl({"apply", "--dry-run", "-f", "-"}, spec);
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(r.out == "Workload/httpd   update\n    replicas: 2 -> 5\n");
  CHECK(r.err == "dry run: nothing was changed\n");
  CHECK(d.fake.writes() == writes);

  r = d.Nestctl({"apply", "--no-wait", "-f", "-"}, spec);
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(r.out ==
        "Workload/httpd   update\n    replicas: 2 -> 5\n"
        "applied: 0 created, 1 updated, 0 unchanged\n");
  CHECK(r.err.empty());
  CHECK(d.fake.writes() == writes + 1);
}

TEST_CASE("get -o yaml | apply -f - and get -o json | apply -f - are no-ops") {
  Demo d;
  int writes = d.fake.writes();
  for (const char* format : {"yaml", "json"}) {
    CAPTURE(format);
    for (const char* kind : {"workloads", "groups"}) {
      Result got = d.Nestctl({"get", kind, "-o", format});
      REQUIRE_MESSAGE(got.code == 0, got.err);
      Result r = d.Nestctl({"apply", "-f", "-"}, got.out);
      CHECK_MESSAGE(r.code == 0, r.err);
      CHECK(r.err == "nothing to change\n");
      CHECK_FALSE(absl::StrContains(r.out, "update"));
      CHECK(absl::StrContains(r.out, "unchanged"));
    }
  }
  // One named object in json is a single document, and also applies.
  Result one = d.Nestctl({"get", "workload", "httpd", "-o", "json"});
  REQUIRE(one.out.front() == '{');
  Result r = d.Nestctl({"apply", "-f", "-"}, one.out);
  CHECK(r.out == "Workload/httpd   unchanged\n");
  CHECK(d.fake.writes() == writes);
}

TEST_CASE("golden table, wide, json and yaml outputs") {
  Demo d;
  Result r = d.Nestctl({"get", "workloads"});
  CHECK(r.code == 0);
  CHECK(r.out ==
        "NAME    IMAGE   READY   PENDING   FAILED   GROUP\n"
        "hello   hello   3/3     0         0        web\n"
        "httpd   httpd   2/2     0         0        web\n");
  r = d.Nestctl({"get", "containers", "-o", "wide"});
  CHECK(r.out ==
        "NAME      WORKLOAD   STATE     VM      HOST    RESTARTS   IMAGE   "
        "IP   HEALTH   EXIT   STARTED                MESSAGE\n"
        "hello-0   hello      running   web-1   local   0          hello   "
        "-    -        -      2026-01-01T00:01:00Z\n"
        "hello-1   hello      running   web-1   local   0          hello   "
        "-    -        -      2026-01-01T00:01:00Z\n"
        "hello-2   hello      running   web-1   local   0          hello   "
        "-    -        -      2026-01-01T00:01:00Z\n"
        "httpd-0   httpd      running   web-1   local   0          httpd   "
        "-    -        -      2026-01-01T00:01:00Z\n"
        "httpd-1   httpd      running   web-1   local   0          httpd   "
        "-    -        -      2026-01-01T00:01:00Z\n");
  r = d.Nestctl({"get", "hosts", "-o", "wide"});
  CHECK(r.out ==
        "NAME    STATE   VMS   CPU   MEMORY      ACCEL   URI              "
        "POOL   LABELS   MESSAGE\n"
        "local   ready   1     1/4   256Mi/8Gi   tcg     qemu:///system   "
        "-      zone=a\n");
  r = d.Nestctl({"get", "groups", "web", "-o", "yaml"});
  CHECK(r.out ==
        "kind: VmGroup\n"
        "name: web\n"
        "spec:\n"
        "  shape:\n"
        "    vcpus: 1\n"
        "    memory: 256Mi\n"
        "  min_vms: 1\n"
        "  max_vms: 3\n"
        "status:\n"
        "  generation: 1\n"
        "  vms_running: 1\n");
  r = d.Nestctl({"get", "images", "hello", "-o", "json"});
  CHECK(r.out ==
        "{\n"
        "  \"kind\": \"Image\",\n"
        "  \"name\": \"hello\",\n"
        "  \"digest\": "
        "\"sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789ab"
        "cdef\",\n"
        "  \"size_bytes\": 1572864,\n"
        "  \"layers\": 1,\n"
        "  \"import_time\": \"2026-01-01T00:00:00Z\"\n"
        "}\n");
  r = d.Nestctl({"get", "images"});
  CHECK(r.out ==
        "NAME    DIGEST                SIZE    LAYERS\n"
        "hello   sha256:0123456789ab   1.5Mi   1\n"
        "httpd   sha256:0123456789ab   1.5Mi   1\n"
        "stuck   sha256:0123456789ab   1.5Mi   1\n");
  r = d.Nestctl({"get", "vms"});
  CHECK(r.out ==
        "NAME    GROUP   HOST    STATE     CONTAINERS\n"
        "web-1   web     local   running   0\n");
  r = d.Nestctl({"top"});
  CHECK(absl::StartsWith(
      r.out,
      "NAME      WORKLOAD   VM      CPU    CPU(s)   MEMORY   PIDS\n"
      "hello-0   hello      web-1   0.25   1.2      12.0Mi   1\n"));
  r = d.Nestctl({"top", "vms"});
  CHECK(r.out ==
        "NAME    GROUP   HOST    CPU    CPU(s)   MEMORY\n"
        "web-1   web     local   0.50   30.0     200.0Mi\n");
  r = d.Nestctl({"top", "hosts"});
  CHECK(r.out ==
        "NAME    STATE   VMS   CPU USED   CPU ALLOC   MEM USED   MEM ALLOC\n"
        "local   ready   1     0.50       1/4         200.0Mi    320Mi/8Gi\n");
  r = d.Nestctl({"top", "vms", "-o", "json"});
  CHECK(r.code == 0);
  CHECK(absl::StrContains(r.out, "\"cpu_seconds\": 30"));
  r = d.Nestctl({"console", "web-1", "--tail-bytes", "100"});
  CHECK(r.code == 0);
  CHECK(r.out == "console of web-1 tail 100\n");
  r = d.Nestctl({"console", "web-9"});
  CHECK(r.code != 0);
  CHECK(absl::StrContains(r.err, "web-9"));
  r = d.Nestctl({"console", "web-1", "--tail-bytes", "-1"});
  CHECK(r.code == 2);
  r = d.Nestctl({"top", "disks"});
  CHECK(r.code == 2);
  CHECK(absl::StrContains(r.err, "disks"));
}

TEST_CASE("events, describe and watch") {
  Demo d;
  Result r = d.Nestctl({"events"});
  CHECK(r.code == 0);
  CHECK(r.out ==
        "SEQ   TIME                   OBJECT           REASON    MESSAGE\n"
        "1     2026-01-01T00:00:01Z   Host/local       Ready     host ready "
        "(tcg)\n"
        "2     2026-01-01T00:00:02Z   VmGroup/web      Applied   group "
        "applied\n"
        "3     2026-01-01T00:00:03Z   Workload/hello   Applied   workload "
        "applied\n"
        "4     2026-01-01T00:00:04Z   Workload/httpd   Applied   workload "
        "applied\n");
  // --follow lists what exists, then watches after the last one (the fake
  // ends the stream instead of blocking).
  r = d.Nestctl({"events", "--follow", "--after", "2"});
  CHECK(r.code == 0);
  std::vector<std::string> lines = absl::StrSplit(r.out, '\n');
  REQUIRE(lines.size() == 3);
  CHECK(absl::StartsWith(lines[0],
                         "3      2026-01-01T00:00:03Z  Workload/hello"));
  r = d.Nestctl({"describe", "workload", "hello"});
  CHECK(r.code == 0);
  CHECK(absl::StartsWith(r.out, "kind: Workload\nname: hello\n"));
  CHECK(absl::StrContains(r.out,
                          "\nEvents:\n  SEQ   TIME                   OBJECT"));
  CHECK(absl::StrContains(r.out,
                          "  3     2026-01-01T00:00:03Z   "
                          "Workload/hello   Applied   workload "
                          "applied\n"));
  CHECK_FALSE(absl::StrContains(r.out, "httpd"));
  // The fake sends one event to a fresh watch: the table prints twice.
  r = d.Nestctl({"get", "workloads", "--watch"});
  CHECK(r.code == 0);
  size_t first = r.out.find("NAME    IMAGE");
  REQUIRE(first != std::string::npos);
  CHECK(r.out.find("NAME    IMAGE", first + 1) != std::string::npos);
}

TEST_CASE("error exit codes") {
  Demo d;
  Result r = d.Nestctl({"get", "workload", "nope"});
  CHECK(r.code == 3);
  CHECK(r.err == "error: get workload: workload \"nope\" not found\n");
  CHECK(r.out.empty());

  r = d.Nestctl({"host", "add", "local", "--uri", "qemu:///system"});
  CHECK(r.code == 4);
  CHECK(r.err == "error: add host local: host \"local\" already exists\n");

  r = d.Nestctl({"delete", "group", "web"});
  CHECK(r.code == 4);
  CHECK(absl::StartsWith(r.err,
                         "error: delete group web: group \"web\" still "
                         "runs workload"));

  r = d.Nestctl({"get"});
  CHECK(r.code == 2);
  CHECK(absl::StartsWith(r.err, "error: "));
  r = d.Nestctl({"frobnicate"});
  CHECK(r.code == 2);
  r = d.Nestctl({"get", "pods"});
  CHECK(r.code == 2);
  CHECK(r.err ==
        "error: unknown kind \"pods\" (expected hosts, groups, vms, "
        "workloads, containers, images or events)\n");
  r = d.Nestctl({"get", "workloads", "-o", "xml"});
  CHECK(r.code == 2);

  // Nothing listens on a port we just closed: unavailable.
  Harness h;
  r = h.Run({"--server", "127.0.0.1:1", "--timeout", "5s", "get", "hosts"});
  CHECK(r.code == 5);
  CHECK(absl::StartsWith(r.err, "error: list hosts: server unavailable: "));
  CHECK(std::count(r.err.begin(), r.err.end(), '\n') == 1);
}

TEST_CASE("local validation errors: exit 2, one line per field, no RPC") {
  Demo d;
  int writes = d.fake.writes();
  fs::path bad = d.h.Write("bad.yaml",
                           "kind: Workload\nname: web\nspec:\n  image: x\n"
                           "  replicas: -1\n  resourcez: {}\n");
  Result r = d.Nestctl({"apply", "-f", bad.string()});
  CHECK(r.code == 2);
  CHECK(r.err ==
        absl::StrCat("error: ", bad.string(), ": 2 invalid fields\n",
                     "  spec.resourcez: unknown field (expected one of: "
                     "image, command, args, env, resources, replicas, "
                     "restart_policy, ports, isolation, priority, group, "
                     "stop_grace_s, max_unavailable, secret_env, files, health_check) "
                     "(document "
                     "1, Workload web, line 6)\n",
                     "  spec.replicas: must be between 0 and 10000, got -1 "
                     "(document 1, Workload web, line 5)\n"));
  r = d.Nestctl({"apply", "-f", (d.h.dir() / "missing.yaml").string()});
  CHECK(r.code == 2);
  CHECK(absl::StartsWith(r.err, "error: cannot read "));
  CHECK(d.fake.writes() == writes);
}

TEST_CASE("host add --pool sends the pool, and get hosts -o wide shows it") {
  Demo d;
  Result r = d.Nestctl({"host", "add", "b", "--uri",
                        "qemu+tcp://10.251.0.2/system", "--pool",
                        "10.92.0.0/16", "--label", "zone=b"});
  CHECK(r.code == 0);
  CHECK(r.out ==
        "host \"b\" added (qemu+tcp://10.251.0.2/system, pool "
        "10.92.0.0/16)\n");
  r = d.Nestctl({"get", "hosts", "b", "-o", "wide"});
  CHECK(r.code == 0);
  CHECK(absl::StrContains(r.out, "   POOL           LABELS"));
  CHECK(absl::StrContains(r.out, "   10.92.0.0/16   zone=b"));
  r = d.Nestctl({"get", "hosts", "b", "-o", "json"});
  CHECK(absl::StrContains(r.out, "\"pool\": \"10.92.0.0/16\""));
}

TEST_CASE("server field violations from the status details are printed") {
  Demo d;
  Result r = d.Nestctl(
      {"apply", "-f", "-"},
      "kind: Workload\nname: x\nspec: {image: nope, group: nogroup}\n");
  CHECK(r.code == 2);
  CHECK(r.err ==
        "error: apply (dry run): 2 invalid fields\n"
        "  objects[0].workload.spec.image: image \"nope\" is not imported "
        "(nestctl image import)\n"
        "  objects[0].workload.spec.group: group \"nogroup\" does not exist\n");
  r = d.Nestctl({"host", "add", "h2", "--uri", "xen:///"});
  CHECK(r.code == 2);
  CHECK(r.err ==
        "error: add host h2: invalid host\n"
        "  uri: must be a libvirt qemu URI such as qemu:///system, got "
        "\"xen:///\"\n");
}

TEST_CASE("apply wait times out with exit 5 when nothing converges") {
  Demo d;
  Result r = d.Nestctl({"apply", "-f", "-", "--wait-timeout", "1s"},
                       "kind: Workload\nname: big\nspec:\n  image: stuck\n"
                       "  group: web\n  replicas: 2\n");
  CHECK(r.code == 5);
  CHECK(absl::StrContains(
      r.err, "waiting: big 0/2 [no capacity: memory on 1 of 1 hosts]\n"));
  CHECK(absl::StrContains(r.err, "error: not converged after 1s: big 0/2"));
  r = d.Nestctl({"explain", "big"});
  CHECK(r.code == 0);
  CHECK(r.out ==
        "workload big: 2 containers pending\n\n"
        "REASON   COUNT   UNIT\n"
        "memory   1       hosts\n\n"
        "suggestion: one more host with 256Mi free\n");
}

// httpd of the demo, with another replica count.
constexpr char kHttpd3[] =
    "kind: Workload\nname: httpd\nspec:\n  image: httpd\n  group: web\n"
    "  replicas: 3\n  resources: {cpu: 100m, memory: 32Mi}\n"
    "  ports: [{name: http, container_port: 8080}]\n"
    "  restart_policy: always\n";

TEST_CASE("apply --wait waits for the new generation, not only the counts") {
  Demo d;
  // The old replicas still run (2 running >= 2 wanted before the update):
  // only observed_generation tells that nothing runs generation 2 yet.
  d.fake.HoldRollout("httpd", 2);
  Result r = d.Nestctl({"apply", "-f", "-", "--wait-timeout", "20s"}, kHttpd3);
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(r.err ==
        "waiting: httpd 0/3 (at generation 1 of 2)\n"
        "ready: httpd 3/3\n");
  r = d.Nestctl({"describe", "workload", "httpd"});
  CHECK(absl::StrContains(r.out,
                          "status:\n  generation: 2\n  running: 3\n"
                          "  observed_generation: 2\n  ready: 3\n"));
}

TEST_CASE("apply --wait times out while the update is not acted on") {
  Demo d;
  d.fake.HoldRollout("httpd", -1);
  Result r = d.Nestctl({"apply", "-f", "-", "--wait-timeout", "1s"}, kHttpd3);
  CHECK(r.code == 5);
  CHECK(absl::StrContains(r.err,
                          "error: not converged after 1s: httpd 0/3 (at "
                          "generation 1 of 2)"));
  // Status never leaks into the spec: what get prints applies as a no-op.
  Result got = d.Nestctl({"get", "workload", "httpd", "-o", "yaml"});
  REQUIRE(got.code == 0);
  CHECK(absl::StrContains(got.out, "observed_generation: 1\n"));
  r = d.Nestctl({"apply", "-f", "-"}, got.out);
  CHECK_MESSAGE(r.code == 0, r.err);
  CHECK(r.out == "Workload/httpd   unchanged\n");
}

TEST_CASE("scale, delete, cordon, image import, logs and exec") {
  Demo d;
  Result r = d.Nestctl({"scale", "workload", "hello", "5"});
  CHECK(r.code == 0);
  CHECK(r.out == "workload \"hello\" scaled to 5 replicas\n");
  r = d.Nestctl({"get", "workload", "hello"});
  CHECK(absl::StrContains(r.out, "hello   hello   5/5"));
  r = d.Nestctl({"scale", "group", "web", "9"});
  CHECK(r.code == 2);
  CHECK(absl::StrContains(r.err, "  desired_vms: must be at most max_vms (3)"));
  r = d.Nestctl({"cordon", "local"});
  CHECK(r.out == "host \"local\" cordoned\n");
  r = d.Nestctl({"get", "hosts"});
  CHECK(absl::StrContains(r.out, "local   cordoned"));
  r = d.Nestctl({"image", "import", "busybox", "/srv/busybox.tar"});
  CHECK(r.code == 0);
  CHECK(r.out == absl::StrCat("image \"busybox\" imported (sha256:",
                              std::string(64, 'a'), ", 3.0Mi, 1 layer)\n"));
  r = d.Nestctl({"delete", "workload", "httpd"});
  CHECK(r.out == "workload \"httpd\" deleted\n");
  r = d.Nestctl({"delete", "workload", "httpd"});
  CHECK(r.code == 3);
  r = d.Nestctl({"logs", "hello-0"});
  CHECK(r.code == 0);
  CHECK(r.out == "hello from nest\n");
  CHECK(r.err == "a warning\n");
  r = d.Nestctl({"exec", "hello-0", "--", "echo", "-n", "hi"});
  CHECK(r.code == 0);
  CHECK(r.out == "echo -n hi\n");
  r = d.Nestctl({"exec", "hello-0", "--", "exit", "7"});
  CHECK(r.code == 7);
  CHECK(r.err == "exiting\n");
  r = d.Nestctl({"exec", "nope", "--", "true"});
  CHECK(r.code == 3);
}

TEST_CASE("the token travels as bearer metadata, from flag or environment") {
  Demo d;
  d.Nestctl({"get", "hosts"});
  CHECK(d.fake.last_authorization().empty());
  d.Nestctl({"--token", "s3cret", "get", "hosts"});
  CHECK(d.fake.last_authorization() == "Bearer s3cret");
  d.Nestctl({"get", "hosts"}, "", {"NEST_TOKEN=from-env"});
  CHECK(d.fake.last_authorization() == "Bearer from-env");
  Harness h;
  Result r = h.Run({"get", "hosts"}, "",
                   {absl::StrCat("NEST_SERVER=", d.fake.address())});
  CHECK(r.code == 0);
  CHECK(absl::StartsWith(r.out, "NAME    STATE"));
}

TEST_CASE("on a terminal, progress rewrites one line") {
  testing::FakeNest fake;
  fake.Seed();
  std::string address = fake.address();
  std::vector<std::string> args = {"nestctl", "--server",
                                   address,   "apply",
                                   "-f",      NEST_EXAMPLES_DIR "/demo.yaml"};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::istringstream in;
  std::ostringstream out, err;
  int code = RunNestctl(static_cast<int>(argv.size()), argv.data(), in, out,
                        err, /*tty=*/true);
  CHECK(code == 0);
  CHECK(absl::StartsWith(err.str(),
                         "\r\033[Kready: web 1/1 VMs, hello 3/3, httpd 2/2 ("));
  CHECK(absl::EndsWith(err.str(), "s)\n"));
}

TEST_CASE("help, version and completion") {
  Harness h;
  Result r = h.Run({"--help"});
  CHECK(r.code == 0);
  CHECK(absl::StrContains(r.out, "Exit codes:\n  0  success\n"));
  CHECK(absl::StrContains(r.out, "5  server unavailable or timed out"));
  r = h.Run({"--version"});
  CHECK(r.code == 0);
  CHECK(absl::StartsWith(r.out, "nestctl "));
  r = h.Run({"completion", "bash"});
  CHECK(r.code == 0);
  CHECK(absl::StrContains(r.out, "complete -F _nestctl nestctl"));
  r = h.Run({"completion", "zsh"});
  CHECK(absl::StartsWith(r.out, "#compdef nestctl"));
  r = h.Run({"completion", "fish"});
  CHECK(r.code == 2);
}

}  // namespace
}  // namespace nest::cli

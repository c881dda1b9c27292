#include "test_util.h"

#include <signal.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/subprocess.h"
#include "core/clock.h"

namespace nest::agent::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string tmpl = absl::StrCat(base ? base : "/tmp", "/nest-agent-XXXXXX");
  char* p = ::mkdtemp(tmpl.data());
  path_ = p ? p : "";
}

TempDir::~TempDir() {
  std::error_code ec;
  if (!path_.empty()) std::filesystem::remove_all(path_, ec);
}

std::pair<std::unique_ptr<ByteStream>, std::unique_ptr<ByteStream>>
StreamPair() {
  int fds[2];
  if (::socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) != 0) {
    return {nullptr, nullptr};
  }
  return {FdByteStream(fds[0]), FdByteStream(fds[1])};
}

void IgnoreSigpipe() { ::signal(SIGPIPE, SIG_IGN); }

AgentHello FakeGuest::Describe() {
  AgentHello h;
  h.kernel_release = "6.1.0-test";
  h.cpus = 3;
  h.memory_bytes = uint64_t{256} << 20;
  return h;
}

absl::StatusOr<GuestStats> FakeGuest::Stats() {
  GuestStats g;
  g.cpu_usage_us = 42;
  g.memory_total_bytes = uint64_t{256} << 20;
  g.memory_available_bytes = uint64_t{128} << 20;
  return g;
}

absl::StatusOr<ExecResult> FakeGuest::Exec(const std::vector<std::string>& args,
                                           const ExecOptions& /*options*/) {
  if (args.empty()) return absl::InvalidArgumentError("args must not be empty");
  ExecResult r;
  r.output = absl::StrCat("guest ran ", args[0]);
  return r;
}

void FakeGuest::Sync() {
  absl::MutexLock lock(&mu_);
  synced_ = true;
}

absl::Status FakeGuest::PowerOff() {
  absl::MutexLock lock(&mu_);
  powered_off_ = true;
  return absl::OkStatus();
}

bool FakeGuest::synced() const {
  absl::MutexLock lock(&mu_);
  return synced_;
}

bool FakeGuest::AwaitPowerOff(absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  return mu_.AwaitWithTimeout(absl::Condition(&powered_off_), timeout);
}

bool FakeGuest::powered_off() const {
  absl::MutexLock lock(&mu_);
  return powered_off_;
}

EventHandler EventRecorder::Handler() {
  return [this](const AgentEvent& e) {
    absl::MutexLock lock(&mu_);
    events_.push_back(e);
  };
}

std::optional<AgentEvent> EventRecorder::WaitFor(
    AgentEventKind kind, const std::string& container_id,
    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  std::optional<AgentEvent> found;
  auto match = [&]() {
    for (const auto& e : events_) {
      if (e.kind == kind &&
          (container_id.empty() || e.container_id == container_id)) {
        found = e;
        return true;
      }
    }
    return false;
  };
  mu_.AwaitWithTimeout(absl::Condition(&match), timeout);
  return found;
}

std::vector<AgentEvent> EventRecorder::WaitForCount(
    AgentEventKind kind, const std::string& container_id, size_t n,
    absl::Duration timeout) {
  absl::MutexLock lock(&mu_);
  std::vector<AgentEvent> found;
  auto enough = [&]() {
    found.clear();
    for (const auto& e : events_) {
      if (e.kind == kind && e.container_id == container_id) found.push_back(e);
    }
    return found.size() >= n;
  };
  mu_.AwaitWithTimeout(absl::Condition(&enough), timeout);
  return found;
}

std::vector<AgentEvent> EventRecorder::All() const {
  absl::MutexLock lock(&mu_);
  return events_;
}

size_t EventRecorder::Count(AgentEventKind kind) const {
  absl::MutexLock lock(&mu_);
  size_t n = 0;
  for (const auto& e : events_) n += e.kind == kind;
  return n;
}

AgentHarness::AgentHarness(ContainerRuntime& runtime,
                           AgentClient::Options options) {
  IgnoreSigpipe();
  std::filesystem::create_directories(tmp_.path() + "/images");
  std::filesystem::create_directories(tmp_.path() + "/run");
  images_ = std::make_unique<ImageStore>(tmp_.path() + "/images");
  containers_ = std::make_unique<ContainerManager>(
      ContainerManager::Options{tmp_.path() + "/run"}, runtime, *images_,
      RealClock());
  server_ =
      std::make_unique<AgentServer>(AgentServer::Options{"test"}, *containers_,
                                    *images_, guest_, RealClock());
  client_ =
      std::make_unique<AgentClient>([this] { return Connect(); }, options);
}

AgentHarness::~AgentHarness() {
  // The client closes its end; each Serve then sees EOF and returns.
  client_.reset();
  std::vector<std::thread> threads;
  {
    absl::MutexLock lock(&mu_);
    threads.swap(serving_);
  }
  for (auto& t : threads) t.join();
  server_.reset();
  containers_.reset();
}

absl::StatusOr<std::unique_ptr<ByteStream>> AgentHarness::Connect() {
  auto [host, guest] = StreamPair();
  if (!host) return absl::InternalError("socketpair failed");
  absl::MutexLock lock(&mu_);
  ++connections_;
  serving_.emplace_back([this, g = std::move(guest)]() mutable {
    (void)server_->Serve(std::move(g));
  });
  return std::move(host);
}

void AgentHarness::AddImage(const std::string& digest) {
  std::filesystem::create_directories(images_->root() + "/" + digest.substr(7));
}

int AgentHarness::connections() const {
  absl::MutexLock lock(&mu_);
  return connections_;
}

CgroupParentCleanup::~CgroupParentCleanup() {
  std::error_code ec;
  for (const auto& e :
       std::filesystem::directory_iterator("/sys/fs/cgroup", ec)) {
    ::rmdir((e.path().string() + parent).c_str());
  }
  ::rmdir(("/sys/fs/cgroup" + parent).c_str());
}

absl::StatusOr<std::string> BusyboxImageTar(const std::string& dir) {
  std::string root = dir + "/rootfs-src";
  std::error_code ec;
  for (const char* d : {"bin", "proc", "dev", "sys", "tmp", "etc", "www"}) {
    std::filesystem::create_directories(root + "/" + d, ec);
  }
  std::filesystem::copy_file("/bin/busybox", root + "/bin/busybox", ec);
  if (ec) return absl::NotFoundError("needs /bin/busybox: " + ec.message());
  for (const char* c : {"sh", "echo", "sleep", "cat", "wget", "httpd", "head",
                        "true", "dd", "stat", "mount"}) {
    std::filesystem::create_symlink("busybox", root + "/bin/" + c, ec);
  }
  std::ofstream(root + "/www/index.html") << "it works\n";
  std::string tar = dir + "/busybox.tar";
  NEST_ASSIGN_OR_RETURN(
      ExecResult r,
      RunCommand({"tar", "-cf", tar, "-C", root, "."}, {}, absl::Seconds(60)));
  if (r.exit_code != 0) return absl::InternalError("tar: " + r.output);
  std::ifstream in(tar, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

std::string Sha256Digest(const std::string& data) {
  TempDir tmp;
  std::string path = tmp.path() + "/data";
  std::ofstream(path, std::ios::binary) << data;
  auto r = RunCommand({"sha256sum", path}, {}, absl::Seconds(60));
  if (!r.ok() || r->output.size() < 64) return "";
  return "sha256:" + r->output.substr(0, 64);
}

std::string TarOf(const std::string& dir) {
  TempDir tmp;
  std::string path = tmp.path() + "/out.tar";
  auto r =
      RunCommand({"tar", "-cf", path, "-C", dir, "."}, {}, absl::Seconds(60));
  if (!r.ok() || r->exit_code != 0) return "";
  std::ifstream in(path, std::ios::binary);
  return std::string((std::istreambuf_iterator<char>(in)),
                     std::istreambuf_iterator<char>());
}

ContainerSpec Spec(const std::string& id, std::vector<std::string> args,
                   const std::string& digest) {
  ContainerSpec s;
  s.id = id;
  s.image_digest = digest;
  s.args = std::move(args);
  s.stop_grace_s = 1;
  return s;
}

}  // namespace nest::agent::testing

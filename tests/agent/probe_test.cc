// The health probes for real: TCP and HTTP against loopback listeners in
// this process (cpp-httplib serves the HTTP side), exec through the
// FakeRuntime.
#include "agent/probe.h"

#include <httplib.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <csignal>
#include <functional>
#include <thread>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/synchronization/notification.h"
#include "absl/time/clock.h"
#include "agent/fake_runtime.h"
#include "doctest/doctest.h"
#include "test_util.h"

namespace nest::agent {
namespace {

// A listening TCP socket on 127.0.0.1, port chosen by the kernel. With
// `serve`, a thread accepts one connection at a time and hands it over.
class Listener {
 public:
  explicit Listener(std::function<void(int fd)> serve = nullptr,
                    int backlog = 16) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof(sa);
    REQUIRE(::bind(fd_, reinterpret_cast<sockaddr*>(&sa), len) == 0);
    REQUIRE(::listen(fd_, backlog) == 0);
    REQUIRE(::getsockname(fd_, reinterpret_cast<sockaddr*>(&sa), &len) == 0);
    port_ = ntohs(sa.sin_port);
    if (serve) {
      thread_ = std::thread([this, serve] {
        for (;;) {
          int c = ::accept4(fd_, nullptr, nullptr, SOCK_CLOEXEC);
          if (c < 0) return;  // shut down
          serve(c);
          ::close(c);
        }
      });
    }
  }
  ~Listener() { Close(); }
  void Close() {
    if (fd_ < 0) return;
    ::shutdown(fd_, SHUT_RDWR);  // wakes accept
    if (thread_.joinable()) thread_.join();
    ::close(fd_);
    fd_ = -1;
  }
  int port() const { return port_; }

 private:
  int fd_ = -1;
  int port_ = 0;
  std::thread thread_;
};

// Reads the request head, so the client is not reset mid-write.
void ReadHead(int fd) {
  std::string in;
  char buf[512];
  while (in.find("\r\n\r\n") == std::string::npos) {
    ssize_t n = ::recv(fd, buf, sizeof(buf), 0);
    if (n <= 0) return;
    in.append(buf, static_cast<size_t>(n));
  }
}

void Answer(int fd, const std::string& text) {
  ReadHead(fd);
  (void)::send(fd, text.data(), text.size(), MSG_NOSIGNAL);
}

TEST_CASE("TCP probe: an open port passes, a closed one fails with why") {
  int port;
  {
    Listener l;
    port = l.port();
    CHECK(ProbeTcp("127.0.0.1", port, absl::Seconds(2)).ok());
  }
  absl::Status s = ProbeTcp("127.0.0.1", port, absl::Seconds(2));
  CHECK(!s.ok());
  CHECK(s.message() ==
        absl::StrCat("connect 127.0.0.1:", port, ": Connection refused"));
  CHECK(absl::StrContains(ProbeTcp("not-an-ip", 80, absl::Seconds(1)).message(),
                          "not an IPv4 address"));
}

TEST_CASE("TCP probe: a connect that hangs fails at the timeout") {
  // A full accept queue: the kernel drops further SYNs, so connects hang.
  Listener l(nullptr, /*backlog=*/0);
  std::vector<int> fillers;
  absl::Status s;
  for (int i = 0; i < 8 && s.ok(); ++i) {
    absl::Time began = absl::Now();
    s = ProbeTcp("127.0.0.1", l.port(), absl::Milliseconds(200));
    if (!s.ok()) {
      CHECK(absl::IsDeadlineExceeded(s));
      CHECK(absl::StrContains(s.message(), "timed out after 200ms"));
      CHECK(absl::Now() - began < absl::Seconds(2));
    }
    // Keep a connection in the queue so the next connect finds it full
    // (non-blocking: once the queue is full, it would hang here).
    int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    sockaddr_in sa{};
    sa.sin_family = AF_INET;
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    sa.sin_port = htons(static_cast<uint16_t>(l.port()));
    (void)::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa));
    fillers.push_back(fd);
  }
  for (int fd : fillers) ::close(fd);
  CHECK_MESSAGE(!s.ok(), "no connect ever hung on a full accept queue");
}

TEST_CASE("HTTP probe: 2xx and 3xx pass; 4xx, 5xx and refusals fail") {
  httplib::Server server;
  absl::Notification release;
  server.Get("/ok", [](const httplib::Request&, httplib::Response& res) {
    res.set_content("fine", "text/plain");
  });
  server.Get("/fail", [](const httplib::Request&, httplib::Response& res) {
    res.status = 500;
  });
  server.Get("/moved", [](const httplib::Request&, httplib::Response& res) {
    res.set_redirect("/ok");
  });
  server.Get("/slow", [&](const httplib::Request&, httplib::Response& res) {
    release.WaitForNotificationWithTimeout(absl::Seconds(10));
    res.status = 200;
  });
  std::string got_host;
  absl::Mutex mu;
  server.Get("/host", [&](const httplib::Request& req, httplib::Response&) {
    absl::MutexLock lock(&mu);
    got_host = req.get_header_value("Host");
  });
  int port = server.bind_to_any_port("127.0.0.1");
  REQUIRE(port > 0);
  std::thread serving([&] { server.listen_after_bind(); });
  absl::Time until = absl::Now() + absl::Seconds(10);
  while (!server.is_running() && absl::Now() < until) {
    absl::SleepFor(absl::Milliseconds(1));
  }
  REQUIRE(server.is_running());
  const std::string base = absl::StrCat("GET http://127.0.0.1:", port);

  CHECK(ProbeHttp("127.0.0.1", port, "/ok", absl::Seconds(5)).ok());
  CHECK(ProbeHttp("127.0.0.1", port, "/moved", absl::Seconds(5)).ok());
  absl::Status s = ProbeHttp("127.0.0.1", port, "/fail", absl::Seconds(5));
  CHECK(s.message() == base + "/fail: status 500");
  s = ProbeHttp("127.0.0.1", port, "/missing", absl::Seconds(5));
  CHECK(s.message() == base + "/missing: status 404");
  REQUIRE(ProbeHttp("127.0.0.1", port, "/host", absl::Seconds(5)).ok());
  {
    absl::MutexLock lock(&mu);
    CHECK(got_host == absl::StrCat("127.0.0.1:", port));
  }

  // One deadline for the whole exchange: a server that never answers.
  absl::Time began = absl::Now();
  s = ProbeHttp("127.0.0.1", port, "/slow", absl::Milliseconds(200));
  CHECK(absl::IsDeadlineExceeded(s));
  CHECK(s.message() == base + "/slow: timed out after 200ms");
  CHECK(absl::Now() - began < absl::Seconds(2));
  release.Notify();

  server.stop();
  serving.join();
  s = ProbeHttp("127.0.0.1", port, "/ok", absl::Seconds(5));
  CHECK(s.message() == base + "/ok: connect: Connection refused");
}

TEST_CASE("HTTP probe: answers that are not HTTP fail") {
  SUBCASE("garbage") {
    Listener l([](int fd) { Answer(fd, "SSH-2.0-OpenSSH\r\n"); });
    absl::Status s = ProbeHttp("127.0.0.1", l.port(), "/", absl::Seconds(5));
    CHECK(absl::StrContains(s.message(),
                            "the answer is not HTTP: \"SSH-2.0-OpenSSH\""));
  }
  SUBCASE("closed at once") {
    Listener l([](int fd) { ReadHead(fd); });
    absl::Status s = ProbeHttp("127.0.0.1", l.port(), "/", absl::Seconds(5));
    CHECK(absl::StrContains(s.message(),
                            "connection closed before a status line"));
  }
  SUBCASE("a status line without a reason phrase passes") {
    Listener l([](int fd) { Answer(fd, "HTTP/1.0 204\r\n\r\n"); });
    CHECK(ProbeHttp("127.0.0.1", l.port(), "/", absl::Seconds(5)).ok());
  }
  SUBCASE("an endless status line") {
    Listener l([](int fd) {
      ReadHead(fd);
      std::string junk(4096, 'x');
      (void)::send(fd, junk.data(), junk.size(), MSG_NOSIGNAL);
    });
    absl::Status s = ProbeHttp("127.0.0.1", l.port(), "/", absl::Seconds(5));
    CHECK(absl::StrContains(s.message(), "the answer is not HTTP"));
  }
}

TEST_CASE(
    "exec probe: exit 0 passes; an exit code, a timeout or an error "
    "fails with why") {
  testing::TempDir tmp;
  FakeRuntime rt;
  rt.SetExitCallback([](const std::string&, int, bool) {});
  REQUIRE(rt.Create(testing::Spec("c", {"sleep"}), "/", tmp.path() + "/log", {})
              .ok());
  REQUIRE(rt.Start("c").ok());
  ExecFunction exec =
      [&rt](const std::string& id, const std::vector<std::string>& args,
            const ExecOptions& options) { return rt.Exec(id, args, options); };
  CHECK(ProbeExec(exec, "c", {"true"}, absl::Seconds(1)).ok());
  absl::Status s = ProbeExec(exec, "c", {"exit", "3"}, absl::Seconds(1));
  CHECK(s.message() == "exit 3");
  rt.SetExecResult("ready", ExecResult{1, "not\nready yet\n", false, false});
  s = ProbeExec(exec, "c", {"ready"}, absl::Seconds(1));
  CHECK(s.message() == "exit 1: not ready yet");
  rt.SetExecResult("chatty", ExecResult{2, std::string(1000, 'y')});
  s = ProbeExec(exec, "c", {"chatty"}, absl::Seconds(1));
  CHECK(s.message() == "exit 2: " + std::string(200, 'y') + "...");
  s = ProbeExec(exec, "c", {"sleep-ms", "5000"}, absl::Milliseconds(30));
  CHECK(absl::IsDeadlineExceeded(s));
  CHECK(s.message() == "exec sleep-ms: timed out after 30ms");
  s = ProbeExec(exec, "gone", {"true"}, absl::Seconds(1));
  CHECK(s.message() == "exec true: container gone not found");

  // RunProbe picks the kind.
  HealthCheck check;
  CHECK(RunProbe(check, "c", "", exec).ok());  // kNone
  check.kind = HealthCheck::Kind::kExec;
  check.exec = {"exit", "4"};
  CHECK(RunProbe(check, "c", "", exec).message() == "exit 4");
  Listener l;
  check.kind = HealthCheck::Kind::kTcp;
  check.port = l.port();
  CHECK(RunProbe(check, "c", "", exec).ok());  // 127.0.0.1 by default
  CHECK(RunProbe(check, "c", "127.0.0.1", exec).ok());
  REQUIRE(rt.Kill("c", SIGKILL).ok());
}

}  // namespace
}  // namespace nest::agent

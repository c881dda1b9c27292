#include "agent/probe.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/clock.h"

namespace nest::agent {
namespace {

// What users see of a failed exec's output: one line, bounded.
constexpr size_t kMaxReasonOutput = 200;
// A status line longer than this is not HTTP.
constexpr size_t kMaxStatusLine = 1024;

class Socket {
 public:
  Socket() = default;
  ~Socket() {
    if (fd_ >= 0) ::close(fd_);
  }
  Socket(const Socket&) = delete;
  Socket& operator=(const Socket&) = delete;
  int fd() const { return fd_; }
  void reset(int fd) { fd_ = fd; }

 private:
  int fd_ = -1;
};

// Monotonic: a probe's deadline must not move when the guest's wall clock is
// set.
absl::Time Now() { return RealClock().MonotonicNow(); }

std::string TimedOut(absl::Duration timeout) {
  return absl::StrCat("timed out after ", absl::FormatDuration(timeout));
}

// Waits for `events` on `fd` until `deadline`: true when ready, false when
// the deadline passed.
bool WaitFor(int fd, short events, absl::Time deadline) {
  for (;;) {
    absl::Duration left = deadline - Now();
    if (left <= absl::ZeroDuration()) return false;
    pollfd p{fd, events, 0};
    int ms = static_cast<int>(
        absl::ToInt64Milliseconds(absl::Ceil(left, absl::Milliseconds(1))));
    int n = ::poll(&p, 1, ms);
    if (n > 0) return true;
    if (n < 0 && errno != EINTR) return true;  // the next call reports it
  }
}

// Connects `sock` to address:port before `deadline`; on failure, returns
// the reason (without the endpoint).
absl::Status Connect(const std::string& address, int port, absl::Time deadline,
                     absl::Duration timeout, Socket& sock) {
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(static_cast<uint16_t>(port));
  if (::inet_pton(AF_INET, address.c_str(), &sa.sin_addr) != 1) {
    return absl::InvalidArgumentError("not an IPv4 address");
  }
  sock.reset(::socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0));
  if (sock.fd() < 0) {
    return absl::UnavailableError(
        absl::StrCat("socket: ", std::strerror(errno)));
  }
  if (::connect(sock.fd(), reinterpret_cast<const sockaddr*>(&sa),
                sizeof(sa)) == 0) {
    return absl::OkStatus();
  }
  if (errno != EINPROGRESS) {
    return absl::UnavailableError(std::strerror(errno));
  }
  if (!WaitFor(sock.fd(), POLLOUT, deadline)) {
    return absl::DeadlineExceededError(TimedOut(timeout));
  }
  int err = 0;
  socklen_t len = sizeof(err);
  if (::getsockopt(sock.fd(), SOL_SOCKET, SO_ERROR, &err, &len) != 0) {
    err = errno;
  }
  if (err != 0) return absl::UnavailableError(std::strerror(err));
  return absl::OkStatus();
}

absl::Status Failed(absl::string_view what, const absl::Status& why) {
  return absl::Status(why.code(), absl::StrCat(what, ": ", why.message()));
}

std::string OneLine(absl::string_view text) {
  text = absl::StripAsciiWhitespace(text);
  std::string out(text.substr(0, kMaxReasonOutput));
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < ' ') c = ' ';
  }
  if (text.size() > kMaxReasonOutput) out += "...";
  return out;
}

// "HTTP/1.x NNN ..." -> NNN, or -1.
int StatusCode(absl::string_view line) {
  if (!absl::StartsWith(line, "HTTP/1.") || line.size() < 12 ||
      line[8] != ' ') {
    return -1;
  }
  int code = 0;
  if (!absl::SimpleAtoi(line.substr(9, 3), &code) || code < 100 || code > 999 ||
      (line.size() > 12 && line[12] != ' ')) {
    return -1;
  }
  return code;
}

}  // namespace

absl::Status ProbeTcp(const std::string& address, int port,
                      absl::Duration timeout) {
  Socket sock;
  absl::Status s = Connect(address, port, Now() + timeout, timeout, sock);
  if (!s.ok()) return Failed(absl::StrCat("connect ", address, ":", port), s);
  return absl::OkStatus();
}

absl::Status ProbeHttp(const std::string& address, int port,
                       const std::string& path, absl::Duration timeout) {
  const absl::Time deadline = Now() + timeout;
  const std::string endpoint = absl::StrCat(address, ":", port);
  const std::string what = absl::StrCat("GET http://", endpoint, path);
  Socket sock;
  absl::Status s = Connect(address, port, deadline, timeout, sock);
  if (!s.ok()) return Failed(what, Failed("connect", s));

  const std::string request = absl::StrCat(
      "GET ", path, " HTTP/1.1\r\nHost: ", endpoint,
      "\r\nUser-Agent: nest-agent\r\nAccept: */*\r\nConnection: close\r\n\r\n");
  size_t sent = 0;
  while (sent < request.size()) {
    ssize_t n = ::send(sock.fd(), request.data() + sent, request.size() - sent,
                       MSG_NOSIGNAL);
    if (n > 0) {
      sent += static_cast<size_t>(n);
    } else if (n < 0 && (errno == EAGAIN || errno == EINTR)) {
      if (!WaitFor(sock.fd(), POLLOUT, deadline)) {
        return absl::DeadlineExceededError(
            absl::StrCat(what, ": ", TimedOut(timeout)));
      }
    } else {
      return absl::UnavailableError(
          absl::StrCat(what, ": send: ", std::strerror(errno)));
    }
  }

  std::string head;
  size_t eol = std::string::npos;
  while ((eol = head.find('\n')) == std::string::npos) {
    if (head.size() > kMaxStatusLine) {
      return absl::UnavailableError(
          absl::StrCat(what, ": the answer is not HTTP"));
    }
    char buf[512];
    ssize_t n = ::recv(sock.fd(), buf, sizeof(buf), 0);
    if (n > 0) {
      head.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      return absl::UnavailableError(
          absl::StrCat(what, ": connection closed before a status line"));
    } else if (errno == EAGAIN || errno == EINTR) {
      if (!WaitFor(sock.fd(), POLLIN, deadline)) {
        return absl::DeadlineExceededError(
            absl::StrCat(what, ": ", TimedOut(timeout)));
      }
    } else {
      return absl::UnavailableError(
          absl::StrCat(what, ": recv: ", std::strerror(errno)));
    }
  }
  absl::string_view line(head.data(), eol);
  if (absl::EndsWith(line, "\r")) line.remove_suffix(1);
  int code = StatusCode(line);
  if (code < 0) {
    return absl::UnavailableError(absl::StrCat(
        what, ": the answer is not HTTP: \"", OneLine(line), "\""));
  }
  if (code < 200 || code > 399) {
    return absl::UnavailableError(absl::StrCat(what, ": status ", code));
  }
  return absl::OkStatus();
}

absl::Status ProbeExec(const ExecFunction& exec, const std::string& id,
                       const std::vector<std::string>& args,
                       absl::Duration timeout) {
  const std::string program = args.empty() ? "" : args[0];
  ExecOptions options;
  options.timeout = timeout;
  absl::StatusOr<ExecResult> r = exec(id, args, options);
  if (!r.ok()) return Failed(absl::StrCat("exec ", program), r.status());
  if (r->timed_out) {
    return absl::DeadlineExceededError(
        absl::StrCat("exec ", program, ": ", TimedOut(timeout)));
  }
  if (r->exit_code != 0) {
    std::string output = OneLine(r->output);
    return absl::UnavailableError(absl::StrCat(
        "exit ", r->exit_code, output.empty() ? "" : ": ", output));
  }
  return absl::OkStatus();
}

absl::Status RunProbe(const HealthCheck& check, const std::string& id,
                      const std::string& address, const ExecFunction& exec) {
  const std::string host = address.empty() ? "127.0.0.1" : address;
  switch (check.kind) {
    case HealthCheck::Kind::kExec:
      return ProbeExec(exec, id, check.exec, check.timeout);
    case HealthCheck::Kind::kTcp:
      return ProbeTcp(host, check.port, check.timeout);
    case HealthCheck::Kind::kHttp:
      return ProbeHttp(host, check.port, check.path, check.timeout);
    case HealthCheck::Kind::kNone:
      break;
  }
  return absl::OkStatus();
}

}  // namespace nest::agent

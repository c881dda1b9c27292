#include "control/workload_health.h"

#include <algorithm>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/container_files.h"
#include "core/validate.h"

namespace nest::control {
namespace {

void CheckRange(FieldErrors& errors, const std::string& field, int64_t v,
                int64_t lo, int64_t hi) {
  if (v < lo || v > hi) {
    errors.Add(field,
               absl::StrCat("must be between ", lo, " and ", hi, ", got ", v));
  }
}

bool PrintablePath(const std::string& p) {
  return !p.empty() && p[0] == '/' && p.size() <= 1024 &&
         std::none_of(p.begin(), p.end(), [](char c) {
           auto u = static_cast<unsigned char>(c);
           return u <= 0x20 || u >= 0x7f;
         });
}

}  // namespace

store::HealthCheck ToHealthCheck(const HealthCheckInput& in,
                                 const std::string& at, FieldErrors& errors) {
  store::HealthCheck h;
  if (!in.set) return h;
  const int kinds = (in.exec.empty() ? 0 : 1) + (in.tcp_port != 0 ? 1 : 0) +
                    (in.http ? 1 : 0);
  if (kinds != 1) {
    errors.Add(at.substr(0, at.size() - 1),
               absl::StrCat("give exactly one of exec, tcp_port and http, "
                            "got ",
                            kinds));
    return h;
  }
  if (!in.exec.empty()) {
    h.kind = "exec";
    h.exec = in.exec;
    if (in.exec.size() > 64) errors.Add(at + "exec", "at most 64 arguments");
    for (size_t i = 0; i < in.exec.size(); ++i) {
      const std::string& a = in.exec[i];
      if (a.size() > 4096 || a.find('\0') != std::string::npos ||
          !IsValidUtf8(a) || (i == 0 && a.empty())) {
        errors.Add(absl::StrCat(at, "exec[", i, "]"),
                   "must be at most 4096 bytes of UTF-8 without NUL "
                   "characters, the first not empty");
      }
    }
  } else if (in.tcp_port != 0) {
    h.kind = "tcp";
    CheckRange(errors, at + "tcp_port", in.tcp_port, 1, 65535);
    h.port = in.tcp_port;
  } else {
    h.kind = "http";
    CheckRange(errors, at + "http.port", in.http_port, 1, 65535);
    h.port = in.http_port;
    h.path = in.http_path.empty() ? "/" : in.http_path;
    if (!PrintablePath(h.path)) {
      errors.Add(at + "http.path",
                 absl::StrCat("must start with \"/\" and be at most 1024 "
                              "printable ASCII characters without spaces, "
                              "got ",
                              QuoteForMessage(in.http_path)));
    }
  }
  CheckRange(errors, at + "initial_delay_s", in.initial_delay_s, 0, 3600);
  h.initial_delay_s = in.initial_delay_s;
  CheckRange(errors, at + "period_s", in.period_s, 0, 3600);
  if (in.period_s > 0) h.period_s = in.period_s;
  CheckRange(errors, at + "timeout_s", in.timeout_s, 0, 3600);
  h.timeout_s =
      in.timeout_s > 0 ? in.timeout_s : std::min<int64_t>(2, h.period_s);
  if (h.timeout_s > h.period_s) {
    errors.Add(at + "timeout_s",
               absl::StrCat("must be at most period_s (", h.period_s, "), got ",
                            in.timeout_s));
  }
  CheckRange(errors, at + "failure_threshold", in.failure_threshold, 0, 100);
  if (in.failure_threshold > 0) h.failure_threshold = in.failure_threshold;
  CheckRange(errors, at + "success_threshold", in.success_threshold, 0, 100);
  if (in.success_threshold > 0) h.success_threshold = in.success_threshold;
  return h;
}

std::string HealthCheckText(const store::HealthCheck& h) {
  if (h.kind.empty()) return "none";
  std::string what;
  if (h.kind == "exec") {
    std::vector<std::string> q;
    for (const auto& a : h.exec) q.push_back(absl::StrCat("\"", a, "\""));
    what = absl::StrCat("exec [", absl::StrJoin(q, ", "), "]");
  } else if (h.kind == "tcp") {
    what = absl::StrCat("tcp :", h.port);
  } else {
    what = absl::StrCat("http :", h.port, h.path);
  }
  return absl::StrCat(what, " after ", h.initial_delay_s, "s every ",
                      h.period_s, "s, timeout ", h.timeout_s, "s, ",
                      h.failure_threshold, " failures / ", h.success_threshold,
                      " passes");
}

agent::HealthCheck ToAgentHealthCheck(const store::HealthCheck& h) {
  agent::HealthCheck a;
  if (h.kind.empty()) return a;
  a.kind = h.kind == "exec"  ? agent::HealthCheck::Kind::kExec
           : h.kind == "tcp" ? agent::HealthCheck::Kind::kTcp
                             : agent::HealthCheck::Kind::kHttp;
  a.exec = h.exec;
  a.port = static_cast<int>(h.port);
  a.path = h.path.empty() ? "/" : h.path;
  a.initial_delay = absl::Seconds(h.initial_delay_s);
  a.period = absl::Seconds(h.period_s);
  a.timeout = absl::Seconds(h.timeout_s);
  a.failure_threshold = static_cast<int>(h.failure_threshold);
  a.success_threshold = static_cast<int>(h.success_threshold);
  return a;
}

bool Available(const store::Container& c) {
  return c.desired == store::ContainerDesiredState::kRunning &&
         c.observed == store::ContainerObservedState::kRunning &&
         (c.health == store::ContainerHealth::kNone ||
          c.health == store::ContainerHealth::kHealthy);
}

agent::Health ToAgentHealth(store::ContainerHealth h) {
  switch (h) {
    case store::ContainerHealth::kNone:
      return agent::Health::kNone;
    case store::ContainerHealth::kStarting:
      return agent::Health::kStarting;
    case store::ContainerHealth::kHealthy:
      return agent::Health::kHealthy;
    case store::ContainerHealth::kUnhealthy:
      return agent::Health::kUnhealthy;
  }
  return agent::Health::kNone;
}

store::ContainerHealth FromAgentHealth(agent::Health h) {
  switch (h) {
    case agent::Health::kNone:
      return store::ContainerHealth::kNone;
    case agent::Health::kStarting:
      return store::ContainerHealth::kStarting;
    case agent::Health::kHealthy:
      return store::ContainerHealth::kHealthy;
    case agent::Health::kUnhealthy:
      return store::ContainerHealth::kUnhealthy;
  }
  return store::ContainerHealth::kNone;
}

}  // namespace nest::control

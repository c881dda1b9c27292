#include "api/dashboard.h"

#include <httplib.h>
#include <openssl/rand.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <optional>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "api/dashboard_assets.h"
#include "api/dashboard_json.h"

namespace nest::api {
namespace {

// Why a cookie: the live view uses EventSource, which cannot send an
// Authorization header, and a token in the URL would end up in history,
// proxy logs and Referer headers. So login trades the token for a random
// session id in a cookie that is HttpOnly (page scripts, and so injected
// ones, cannot read it), SameSite=Strict (no other site's page can make the
// browser send it, which also covers CSRF on the two POSTs) and Path=/.
// Not Secure: the HTTP port serves plain HTTP unless a TLS proxy fronts it,
// and a Secure cookie would never come back. The server keeps the token
// (memory only) and re-checks it on every request.
constexpr char kCookie[] = "nest_session";

// cpp-httplib compresses exactly "application/json" (and text/*) for any
// client that accepts it, preferring Brotli at its slowest setting: 6 s for
// the 1.2 MB cluster document of 2,000 VMs, against 0.2 s to build it. The
// charset parameter keeps the type correct and the body uncompressed.
constexpr char kJsonType[] = "application/json; charset=utf-8";

void Reply(httplib::Response& res, int status, const std::string& json) {
  res.status = status;
  res.set_header("Cache-Control", "no-store");
  res.set_content(json, kJsonType);
}

void Fail(httplib::Response& res, const absl::Status& s) {
  int status = 500;
  switch (s.code()) {
    case absl::StatusCode::kUnauthenticated:
      status = 401;
      break;
    case absl::StatusCode::kPermissionDenied:
      status = 403;
      break;
    case absl::StatusCode::kNotFound:
      status = 404;
      break;
    case absl::StatusCode::kInvalidArgument:
    case absl::StatusCode::kOutOfRange:
      status = 400;
      break;
    case absl::StatusCode::kUnavailable:
      status = 503;
      break;
    default:
      break;
  }
  Reply(res, status,
        nlohmann::json{{"error", std::string(s.message())}}.dump());
}

std::string CookieValue(const httplib::Request& req, absl::string_view name) {
  std::string header = req.get_header_value("Cookie");
  for (absl::string_view part : absl::StrSplit(header, ';')) {
    part = absl::StripAsciiWhitespace(part);
    if (absl::ConsumePrefix(&part, name) && absl::ConsumePrefix(&part, "=")) {
      return std::string(part);
    }
  }
  return "";
}

void SecurityHeaders(httplib::Response& res) {
  res.set_header("Content-Security-Policy",
                 "default-src 'self'; img-src 'self' data:; "
                 "frame-ancestors 'none'");
  res.set_header("X-Content-Type-Options", "nosniff");
  res.set_header("Referrer-Policy", "no-referrer");
}

}  // namespace

Dashboard::Dashboard(const DashboardOptions& options)
    : options_(options),
      gate_(*options.commands, options.auth),
      history_(*options.commands, *options.clock, options.history_interval,
               options.history_points) {}

Dashboard::~Dashboard() { Stop(); }

void Dashboard::Stop() {
  stopping_ = true;
  history_.Stop();
}

std::string Dashboard::NewSession(const std::string& token) {
  unsigned char bytes[32];
  if (RAND_bytes(bytes, sizeof(bytes)) != 1) return "";
  std::string id = absl::BytesToHexString(
      absl::string_view(reinterpret_cast<const char*>(bytes), sizeof(bytes)));
  absl::Time now = options_.clock->Now();
  std::lock_guard<std::mutex> lock(mu_);
  for (auto it = sessions_.begin(); it != sessions_.end();) {
    it = it->second.expires <= now ? sessions_.erase(it) : std::next(it);
  }
  while (!sessions_.empty() && sessions_.size() >= options_.max_sessions) {
    auto oldest = std::min_element(sessions_.begin(), sessions_.end(),
                                   [](const auto& a, const auto& b) {
                                     return a.second.expires < b.second.expires;
                                   });
    sessions_.erase(oldest);
  }
  sessions_[id] = Session{token, now + options_.session_ttl};
  return id;
}

std::string Dashboard::SessionToken(const std::string& id) {
  if (id.empty()) return "";
  std::lock_guard<std::mutex> lock(mu_);
  auto it = sessions_.find(id);
  if (it == sessions_.end()) return "";
  if (it->second.expires <= options_.clock->Now()) {
    sessions_.erase(it);
    return "";
  }
  return it->second.token;
}

std::string Dashboard::CachedCluster(const std::string& key, int64_t seq,
                                     absl::Time now) {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = cluster_cache_.find(key);
  if (it == cluster_cache_.end() || it->second.seq != seq ||
      now - it->second.built > options_.cluster_cache_ttl) {
    return "";
  }
  return it->second.doc;
}

void Dashboard::CacheCluster(const std::string& key, int64_t seq,
                             absl::Time now, const std::string& doc) {
  std::lock_guard<std::mutex> lock(mu_);
  // Bounded: tenants come and go; the next request rebuilds.
  if (cluster_cache_.size() >= 64 && !cluster_cache_.count(key)) {
    cluster_cache_.clear();
  }
  cluster_cache_[key] = ClusterDoc{seq, now, doc};
}

void Dashboard::EndSession(const std::string& id) {
  std::lock_guard<std::mutex> lock(mu_);
  sessions_.erase(id);
}

void Dashboard::Register(httplib::Server& svr) {
  // The caller's commands for `rpc` (its access level decides, as in the
  // gRPC API): the bearer header wins over the session cookie.
  auto enter = [this](
                   const httplib::Request& req,
                   absl::string_view rpc) -> absl::StatusOr<control::Commands> {
    std::string auth = req.get_header_value("Authorization");
    absl::string_view token;
    std::string from_session;
    if (!auth.empty()) {
      token = auth;
      if (!absl::ConsumePrefix(&token, "Bearer ")) {
        return absl::UnauthenticatedError(
            "the Authorization header must be \"Bearer <token>\"");
      }
    } else {
      from_session = SessionToken(CookieValue(req, kCookie));
      if (from_session.empty()) {
        return absl::UnauthenticatedError(
            "log in with an API token (or send Authorization: Bearer)");
      }
      token = from_session;
    }
    return gate_.EnterWithToken(token, rpc);
  };
  auto is_operator = [enter](const httplib::Request& req) {
    return enter(req, "ListHosts").ok();
  };
  // The API shows an operator its own tenant's objects; the dashboard shows
  // an operator every tenant's (the packing view is the whole cluster), by
  // acting as each tenant with the operator's cluster-wide commands. Only
  // a token the Gate admits as an operator gets there; anyone else asking
  // for another tenant (?tenant=) finds nothing, as in the API.
  auto scoped =
      [enter, is_operator](
          const httplib::Request& req,
          absl::string_view rpc) -> absl::StatusOr<control::Commands> {
    NEST_ASSIGN_OR_RETURN(control::Commands c, enter(req, rpc));
    std::string tenant = req.get_param_value("tenant");
    if (tenant.empty() || tenant == c.tenant().str()) return c;
    if (!is_operator(req)) {
      return absl::NotFoundError(absl::StrCat(req.get_param_value("name"),
                                              " not found in tenant ",
                                              c.tenant().str()));
    }
    return c.As(TenantId(tenant), "dashboard", /*cluster_wide=*/true);
  };

  auto asset = [](const httplib::Request& req, httplib::Response& res) {
    const WebAsset* a =
        FindWebAsset(req.path == "/" ? "/index.html" : req.path);
    if (a == nullptr) {
      res.status = 404;
      res.set_content("404 Not Found\n", "text/plain");
      return;
    }
    SecurityHeaders(res);
    res.set_header("Cache-Control", "no-cache");
    res.set_content(reinterpret_cast<const char*>(a->data), a->size,
                    a->content_type);
  };
  svr.Get("/", asset);
  svr.Get(R"(/[a-z_]+\.(html|js|css|svg))", asset);

  svr.Post("/api/ui/login", [this](const httplib::Request& req,
                                   httplib::Response& res) {
    auto body = nlohmann::json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object() || !body.contains("token") ||
        !body["token"].is_string()) {
      Fail(res, absl::InvalidArgumentError(
                    "the body must be {\"token\": \"<API token>\"}"));
      return;
    }
    std::string token = body["token"].get<std::string>();
    auto c = gate_.EnterWithToken(token, "ListVms");
    if (!c.ok()) {
      Fail(res, c.status());
      return;
    }
    bool op = gate_.EnterWithToken(token, "ListHosts").ok();
    std::string id = NewSession(token);
    if (id.empty()) {
      Fail(res, absl::InternalError("no randomness for a session id"));
      return;
    }
    res.set_header("Set-Cookie",
                   absl::StrCat(kCookie, "=", id,
                                "; Path=/; HttpOnly; SameSite=Strict; "
                                "Max-Age=",
                                absl::ToInt64Seconds(options_.session_ttl)));
    Reply(
        res, 200,
        nlohmann::json{{"tenant", c->tenant().str()}, {"operator", op}}.dump());
  });
  svr.Post("/api/ui/logout", [this](const httplib::Request& req,
                                    httplib::Response& res) {
    EndSession(CookieValue(req, kCookie));
    res.set_header("Set-Cookie", absl::StrCat(kCookie,
                                              "=; Path=/; HttpOnly; "
                                              "SameSite=Strict; Max-Age=0"));
    Reply(res, 200, "{}");
  });
  svr.Get("/api/ui/me", [enter, is_operator](const httplib::Request& req,
                                             httplib::Response& res) {
    auto c = enter(req, "ListVms");
    if (!c.ok()) return Fail(res, c.status());
    Reply(res, 200,
          nlohmann::json{{"tenant", c->tenant().str()},
                         {"operator", is_operator(req)}}
              .dump());
  });
  svr.Get("/api/ui/cluster",
          [this, enter, is_operator](const httplib::Request& req,
                                     httplib::Response& res) {
            auto c = enter(req, "ListVms");
            if (!c.ok()) return Fail(res, c.status());
            bool op = is_operator(req);
            // Who sees what decides the cache entry: every operator sees
            // the same, a tenant its own.
            std::string key = op ? "*" : "t:" + c->tenant().str();
            int64_t seq = c->LastEventSeq();
            absl::Time now = options_.clock->Now();
            if (std::string hit = CachedCluster(key, seq, now); !hit.empty()) {
              return Reply(res, 200, dashboard::WithNow(hit, now));
            }
            std::vector<control::Commands> scopes;
            if (op) {
              auto tenants = c->ListQuotas();  // every tenant
              if (!tenants.ok()) return Fail(res, tenants.status());
              for (const control::QuotaView& t : *tenants) {
                scopes.push_back(c->As(t.tenant, "dashboard", true));
              }
            } else {
              scopes.push_back(*c);
            }
            auto json = dashboard::ClusterJson(scopes, op ? &*c : nullptr, seq);
            if (!json.ok()) return Fail(res, json.status());
            CacheCluster(key, seq, now, *json);
            Reply(res, 200, dashboard::WithNow(*json, now));
          });
  svr.Get("/api/ui/workload",
          [this, scoped](const httplib::Request& req, httplib::Response& res) {
            auto c = scoped(req, "GetWorkload");
            if (!c.ok()) return Fail(res, c.status());
            auto json = dashboard::WorkloadJson(*c, req.get_param_value("name"),
                                                options_.clock->Now());
            if (!json.ok()) return Fail(res, json.status());
            Reply(res, 200, *json);
          });
  svr.Get("/api/ui/group",
          [this, scoped](const httplib::Request& req, httplib::Response& res) {
            auto c = scoped(req, "GetVmGroup");
            if (!c.ok()) return Fail(res, c.status());
            std::string name = req.get_param_value("name");
            // A group younger than the sampling interval has no sample yet.
            if (history_.Of(c->tenant(), GroupId(name)).empty()) {
              history_.SampleOnce();
            }
            auto json = dashboard::GroupJson(
                *c, name, history_.Of(c->tenant(), GroupId(name)),
                options_.clock->Now());
            if (!json.ok()) return Fail(res, json.status());
            Reply(res, 200, *json);
          });
  svr.Get("/api/ui/events", [this, enter](const httplib::Request& req,
                                          httplib::Response& res) {
    auto entered = enter(req, "Watch");
    if (!entered.ok()) return Fail(res, entered.status());
    if (streams_.fetch_add(1) >= options_.max_streams) {
      streams_.fetch_sub(1);
      return Fail(res, absl::UnavailableError("too many live streams"));
    }
    // A reconnecting EventSource resumes after the last event it got; a
    // new one after the state its page drew (?after=), else from now.
    int64_t after = -1;
    if (!absl::SimpleAtoi(req.get_header_value("Last-Event-ID"), &after) &&
        !absl::SimpleAtoi(req.get_param_value("after"), &after)) {
      after = -1;
    }
    if (after < 0) after = entered->LastEventSeq();
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Accel-Buffering", "no");
    control::Commands c = *entered;
    res.set_chunked_content_provider(
        "text/event-stream",
        [this, c, after](size_t, httplib::DataSink& sink) mutable {
          auto write = [&sink](const std::string& s) {
            return sink.write(s.data(), s.size());
          };
          if (!write(absl::StrCat("retry: 1000\n: seq ", after, "\n\n"))) {
            return false;
          }
          Clock& clock = *options_.clock;
          absl::Time end = clock.MonotonicNow() + options_.stream_lifetime;
          absl::Time quiet_since = clock.MonotonicNow();
          control::EventFilter f;
          f.limit = 200;
          while (!stopping_ && clock.MonotonicNow() < end) {
            int64_t committed = c.LastEventSeq();
            f.after_seq = after;
            auto events = c.ListEvents(f);
            if (!events.ok()) {
              if (!absl::IsOutOfRange(events.status())) break;
              // Pruned past our position: the page reloads its state.
              write(absl::StrCat(
                  "event: reset\ndata: ",
                  nlohmann::json(std::string(events.status().message())).dump(),
                  "\n\n"));
              after = committed;
              continue;
            }
            for (const store::Event& e : *events) {
              if (!write(absl::StrCat("id: ", e.seq, "\nevent: change\ndata: ",
                                      dashboard::EventJson(e), "\n\n"))) {
                return false;  // the browser went away
              }
              quiet_since = clock.MonotonicNow();
            }
            after = events->size() < static_cast<size_t>(f.limit)
                        ? std::max(after, committed)
                        : events->back().seq;
            // A comment now and then finds a vanished client by a failed
            // write (the second after it left), freeing the thread, and
            // keeps proxies from timing the stream out.
            if (clock.MonotonicNow() - quiet_since > absl::Seconds(2)) {
              if (!write(": ping\n\n")) return false;
              quiet_since = clock.MonotonicNow();
            }
            c.WaitForEvents(after, absl::Milliseconds(500));
          }
          sink.done();
          return true;
        },
        [this](bool) { streams_.fetch_sub(1); });
  });
  history_.Start();
}

}  // namespace nest::api

// nestd's read-only web dashboard, served on the HTTP port next to
// /metrics: the static files of web/ (embedded at build time), JSON under
// /api/ui/ and a live stream of events (server-sent events).
//
// Authentication is the API's (api/auth.h, Gate): every request carries a
// token, as "Authorization: Bearer <token>" or through the session cookie
// that POST /api/ui/login issues for a valid token, and every answer is
// built by control::Commands acting for that token, so a tenant sees only
// its own objects; an operator sees hosts and every tenant's objects (the
// packing view is the whole cluster), and names another tenant's workload
// or group with ?tenant=. The token is checked again on every request, so
// revoking it ends its sessions at once.
//
//   POST /api/ui/login  {"token": "..."} -> {"tenant", "operator"} + cookie
//   POST /api/ui/logout
//   GET  /api/ui/me
//   GET  /api/ui/cluster              everything the packing view draws
//   GET  /api/ui/workload?name=W[&tenant=T]  replicas, events, explain
//   GET  /api/ui/group?name=G[&tenant=T]     VMs, events, size history
//   GET  /api/ui/events               text/event-stream of the caller's events
//
// Thread-safety: thread-safe; Stop() before the HTTP server stops, so live
// streams end and the server's threads can join.
#pragma once

#include <atomic>
#include <map>
#include <memory>
#include <mutex>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "api/auth.h"
#include "api/dashboard_history.h"
#include "control/commands.h"
#include "core/clock.h"

namespace httplib {
class Server;
}

namespace nest::api {

struct DashboardOptions {
  // The dashboard is served only when set; must outlive the server.
  control::Commands* commands = nullptr;
  Clock* clock = nullptr;  // required with `commands`
  AuthMode auth = AuthMode::kTokens;
  // The group plot: one sample of every group per interval, this many kept.
  absl::Duration history_interval = absl::Seconds(5);
  size_t history_points = 720;
  absl::Duration session_ttl = absl::Hours(8);
  size_t max_sessions = 1024;
  // A live stream ends after this long and the browser reconnects (resuming
  // by Last-Event-ID), so a stream never pins a server thread for good.
  absl::Duration stream_lifetime = absl::Minutes(2);
  int max_streams = 8;
  // The cluster document is built again when an event has happened since,
  // or after this long (for a change that wrote no event).
  absl::Duration cluster_cache_ttl = absl::Seconds(5);
};

class Dashboard {
 public:
  explicit Dashboard(const DashboardOptions& options);
  ~Dashboard();
  Dashboard(const Dashboard&) = delete;
  Dashboard& operator=(const Dashboard&) = delete;

  // Adds the routes to `svr` and starts the history sampler.
  void Register(httplib::Server& svr);
  // Ends the live streams and the sampler; idempotent.
  void Stop();

 private:
  struct Session {
    std::string token;
    absl::Time expires;
  };
  // A new session id for `token` (evicting expired and, when full, the
  // oldest sessions).
  std::string NewSession(const std::string& token);
  // The token of a live session, or empty.
  std::string SessionToken(const std::string& id);
  void EndSession(const std::string& id);
  // The cluster document for `key` (who sees it) when it was built at event
  // `seq` less than the cache TTL before `now`; empty otherwise.
  std::string CachedCluster(const std::string& key, int64_t seq,
                            absl::Time now);
  void CacheCluster(const std::string& key, int64_t seq, absl::Time now,
                    const std::string& doc);

  struct ClusterDoc {
    int64_t seq = 0;
    absl::Time built;
    std::string doc;
  };

  const DashboardOptions options_;
  Gate gate_;
  GroupHistory history_;
  std::atomic<bool> stopping_{false};
  std::atomic<int> streams_{0};
  std::mutex mu_;
  std::map<std::string, Session> sessions_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, ClusterDoc> cluster_cache_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nest::api

#include "api/dashboard_history.h"

#include "spdlog/spdlog.h"

namespace nest::api {

GroupHistory::GroupHistory(control::Commands& base, Clock& clock,
                           absl::Duration interval, size_t points)
    : base_(base), clock_(clock), interval_(interval), points_(points) {}

GroupHistory::~GroupHistory() { Stop(); }

void GroupHistory::Start() {
  if (thread_.joinable()) return;
  SampleOnce();  // a plot has a first point as soon as the server is up
  thread_ = std::thread([this] {
    std::unique_lock<std::mutex> lock(stop_mu_);
    while (!stopping_) {
      // A wall-clock wait on purpose: Stop() must interrupt it, which an
      // injected Clock's SleepFor cannot; the samples' times come from
      // clock_.
      stop_cv_.wait_for(lock, absl::ToChronoMilliseconds(interval_),
                        [this] { return stopping_; });
      if (stopping_) break;
      lock.unlock();
      SampleOnce();
      lock.lock();
    }
  });
}

void GroupHistory::Stop() {
  {
    std::lock_guard<std::mutex> lock(stop_mu_);
    stopping_ = true;
  }
  stop_cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void GroupHistory::SampleOnce() {
  auto tenants = base_.ListQuotas();
  if (!tenants.ok()) {
    spdlog::warn("dashboard history: {}", tenants.status().ToString());
    return;
  }
  absl::Time now = clock_.Now();
  std::map<std::pair<std::string, std::string>, GroupSample> taken;
  for (const control::QuotaView& t : *tenants) {
    control::Commands c = base_.As(t.tenant, "dashboard", false);
    control::ListOptions page;
    page.page_size = control::kMaxPageSize;
    std::map<std::string, int64_t> pending;  // by group
    do {
      auto w = c.ListWorkloads(page);
      if (!w.ok()) break;
      for (const auto& v : w->items) {
        pending[v.workload.target_group.str()] += v.pending;
      }
      page.page_token = w->next_page_token;
    } while (!page.page_token.empty());
    page.page_token.clear();
    do {
      auto g = c.ListGroups(page);
      if (!g.ok()) break;
      for (const auto& v : g->items) {
        GroupSample s;
        s.time = now;
        s.vms = v.vms;
        s.vms_running = v.vms_running;
        s.desired = v.group.desired_size;
        s.pending_containers = pending[v.group.name.str()];
        taken[{t.tenant.str(), v.group.name.str()}] = s;
      }
      page.page_token = g->next_page_token;
    } while (!page.page_token.empty());
  }
  std::lock_guard<std::mutex> lock(mu_);
  // Groups that are gone lose their history.
  for (auto it = samples_.begin(); it != samples_.end();) {
    it = taken.count(it->first) ? std::next(it) : samples_.erase(it);
  }
  for (auto& [key, s] : taken) {
    auto& q = samples_[key];
    q.push_back(s);
    while (q.size() > points_) q.pop_front();
  }
}

std::vector<GroupSample> GroupHistory::Of(const TenantId& tenant,
                                          const GroupId& group) const {
  std::lock_guard<std::mutex> lock(mu_);
  auto it = samples_.find({tenant.str(), group.str()});
  if (it == samples_.end()) return {};
  return {it->second.begin(), it->second.end()};
}

}  // namespace nest::api

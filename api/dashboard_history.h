// A bounded, in-memory history of every VM group's size and of the
// containers pending for it, for the dashboard's group plot. Sampled by a
// background thread of its own; lost on restart (the store keeps no
// history of sizes, and the plot only needs the recent past).
//
// Thread-safety: thread-safe.
#pragma once

#include <atomic>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/time/time.h"
#include "control/commands.h"
#include "core/clock.h"

namespace nest::api {

struct GroupSample {
  absl::Time time;
  int64_t vms = 0;  // every VM row of the group
  int64_t vms_running = 0;
  int64_t desired = 0;
  int64_t pending_containers = 0;  // of the workloads targeting the group
};

class GroupHistory {
 public:
  // `base` lists every tenant (as ListQuotas does) and acts as each.
  // Keeps at most `points` samples per group, one per `interval`.
  GroupHistory(control::Commands& base, Clock& clock, absl::Duration interval,
               size_t points);
  ~GroupHistory();  // stops the sampler

  void Start();
  void Stop();
  // Samples every group now (also what the sampler thread does).
  void SampleOnce();
  // The samples of `tenant`'s `group`, oldest first.
  std::vector<GroupSample> Of(const TenantId& tenant,
                              const GroupId& group) const;

 private:
  control::Commands& base_;
  Clock& clock_;
  const absl::Duration interval_;
  const size_t points_;
  mutable std::mutex mu_;
  std::map<std::pair<std::string, std::string>, std::deque<GroupSample>>
      samples_ ABSL_GUARDED_BY(mu_);
  std::mutex stop_mu_;
  std::condition_variable stop_cv_;
  bool stopping_ ABSL_GUARDED_BY(stop_mu_) = false;
  std::thread thread_;
};

}  // namespace nest::api

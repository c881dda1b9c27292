#include "control/utilization.h"

#include <algorithm>
#include <cmath>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace nest::control {
namespace {

struct Metric {
  const char* name;
  int64_t target_percent;
  std::optional<double> VmLoad::*load;
};

// Rounding noise must not move a load that sits on the edge of the band
// out of it, nor turn an exact count into one more VM.
constexpr double kEpsilon = 1e-9;

std::string VmCount(int64_t n) {
  return absl::StrCat(n, n == 1 ? " VM" : " VMs");
}

std::string Remaining(absl::Duration d) {
  return absl::FormatDuration(absl::Ceil(d, absl::Seconds(1)));
}

}  // namespace

VmLoad LoadOf(const VmUsage& u, int64_t vcpus) {
  VmLoad l;
  if (u.cpu_known && vcpus > 0) {
    l.cpu = u.cpu_cores / static_cast<double>(vcpus);
  }
  if (u.memory_total_bytes > 0) {
    const int64_t used =
        u.memory_total_bytes -
        std::min(u.memory_available_bytes, u.memory_total_bytes);
    l.memory =
        static_cast<double>(used) / static_cast<double>(u.memory_total_bytes);
  }
  return l;
}

UtilizationDecision DecideUtilization(const UtilizationInput& in) {
  UtilizationDecision out{in.vms, ""};
  const Metric metrics[] = {
      {"CPU", in.target_cpu_percent, &VmLoad::cpu},
      {"memory", in.target_memory_percent, &VmLoad::memory},
  };
  if (in.target_cpu_percent <= 0 && in.target_memory_percent <= 0) {
    out.reason = "no utilization target";
    return out;
  }
  if (in.vms <= 0) {
    out.reason = "no running VM to measure";
    return out;
  }
  const double tolerance = static_cast<double>(in.tolerance_percent) / 100.0;
  int64_t desired = 0;
  std::vector<std::string> why;  // of the target(s) that gave `desired`
  for (const Metric& m : metrics) {
    if (m.target_percent <= 0) continue;
    double sum = 0;
    int64_t known = 0;
    for (const VmLoad& l : in.loads) {
      if (!(l.*m.load).has_value()) continue;
      sum += *(l.*m.load);
      ++known;
    }
    // A VM that just booted has no sample yet: deciding on the others
    // would count its share of the load as zero.
    if (known < in.vms) {
      out.reason =
          absl::StrCat("waiting for the ", m.name, " usage of every VM (",
                       known, " of ", in.vms, " known)");
      return out;
    }
    const double average = sum / static_cast<double>(known);
    const double ratio =
        average * 100.0 / static_cast<double>(m.target_percent);
    int64_t count = in.vms;
    const char* where = "within";
    if (std::abs(ratio - 1.0) > tolerance + kEpsilon) {
      count = static_cast<int64_t>(
          std::ceil(static_cast<double>(in.vms) * ratio - kEpsilon));
      where = ratio > 1.0 ? "above" : "below";
    }
    std::string phrase = absl::StrCat(
        "average ", m.name, " ", std::llround(average * 100.0), "% of ",
        VmCount(in.vms), " is ", where, " the ", m.target_percent,
        "% target (±", in.tolerance_percent, "%)");
    if (why.empty() || count > desired) {
      desired = count;
      why = {std::move(phrase)};
    } else if (count == desired) {
      why.push_back(std::move(phrase));
    }
  }
  const std::string reason = absl::StrJoin(why, "; ");
  if (desired > in.vms) {
    if (in.vms >= in.max_vms) {
      out.reason = absl::StrCat(reason, "; already at max_vms ", in.max_vms);
      return out;
    }
    if (in.now < in.up_allowed_at) {
      out.reason = absl::StrCat(reason, "; scale-up cooldown for another ",
                                Remaining(in.up_allowed_at - in.now));
      return out;
    }
    out.desired = std::min(desired, in.max_vms);
    out.reason = absl::StrCat("+", out.desired - in.vms, ": ", reason);
    if (out.desired < desired) {
      absl::StrAppend(&out.reason, "; ", desired, " wanted, max_vms is ",
                      in.max_vms);
    }
    return out;
  }
  if (desired < in.vms) {
    const int64_t floor = std::max<int64_t>(in.min_vms, 1);
    if (in.vms <= floor) {
      out.reason =
          absl::StrCat(reason, "; already at the minimum of ", VmCount(floor));
      return out;
    }
    if (in.waiting) {
      out.reason = absl::StrCat(reason, "; containers are waiting for room");
      return out;
    }
    if (in.now < in.down_allowed_at) {
      out.reason = absl::StrCat(reason, "; scale-down cooldown for another ",
                                Remaining(in.down_allowed_at - in.now));
      return out;
    }
    out.desired = std::max(desired, floor);
    out.reason = absl::StrCat("-", in.vms - out.desired, ": ", reason);
    if (out.desired > desired) {
      absl::StrAppend(&out.reason, "; ", desired, " wanted, the minimum is ",
                      VmCount(floor));
    }
    return out;
  }
  out.reason = reason;
  return out;
}

}  // namespace nest::control

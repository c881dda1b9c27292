#include "placement/checkers.h"

#include <array>
#include <string>

namespace nest::placement {
namespace {

bool AllMatch(const std::vector<LabelConstraint>& cs, const Labels& labels) {
  for (const LabelConstraint& c : cs) {
    if (!c.Matches(labels)) return false;
  }
  return true;
}

// The first dimension in which `demand` exceeds `free`, or nullptr.
const char* ShortDim(const Resources& demand, const Resources& free) {
  for (int d = 0; d < kDims; ++d) {
    if (demand.v[d] > free.v[d]) return CapacityReason(static_cast<Dim>(d));
  }
  return nullptr;
}

}  // namespace

const char* CapacityReason(Dim d) {
  // Built once from DimName so that a new dimension needs no change here.
  static const std::array<std::string, kDims> kNames = [] {
    std::array<std::string, kDims> names;
    for (int i = 0; i < kDims; ++i) {
      names[i] = std::string(DimName(static_cast<Dim>(i)));
    }
    return names;
  }();
  return kNames[static_cast<int>(d)].c_str();
}

const char* VmRetiredChecker::Check(const Snapshot& s, const Ask&,
                                    int vm) const {
  if (s.vm(vm).retired) return kReasonRetired;
  return s.vm(vm).spec.cordoned ? kReasonCordoned : nullptr;
}

const char* VmHostStateChecker::Check(const Snapshot& s, const Ask&,
                                      int vm) const {
  return s.host(s.vm(vm).host).spec.state == HostState::kReady
             ? nullptr
             : kReasonHostNotReady;
}

const char* VmTenantChecker::Check(const Snapshot& s, const Ask& ask,
                                   int vm) const {
  const VmRec& r = s.vm(vm);
  for (const Container* c : ask.items) {
    if (c->tenant != r.spec.tenant) return kReasonTenant;
  }
  return nullptr;
}

const char* VmDedicatedChecker::Check(const Snapshot& s, const Ask& ask,
                                      int vm) const {
  const VmRec& r = s.vm(vm);
  if (r.dedicated > 0) return kReasonDedicated;
  for (const Container* c : ask.items) {
    if (c->isolation == Isolation::kDedicated && !r.spec.containers.empty()) {
      return kReasonDedicated;
    }
  }
  return nullptr;
}

const char* VmAntiAffinityChecker::Check(const Snapshot& s, const Ask& ask,
                                         int vm) const {
  for (size_t i = 0; i < ask.items.size(); ++i) {
    AntiAffinity a = ask.items[i]->anti_affinity;
    if (a == AntiAffinity::kNone || ask.workloads[i] < 0) continue;
    if (s.ReplicasOnVm(ask.workloads[i], vm) > 0) return kReasonAntiAffinityVm;
    if (a == AntiAffinity::kDistinctHosts &&
        s.ReplicasOnHost(ask.workloads[i], s.vm(vm).host) > 0) {
      return kReasonAntiAffinityHost;
    }
  }
  return nullptr;
}

const char* VmLabelChecker::Check(const Snapshot& s, const Ask& ask,
                                  int vm) const {
  const Labels& labels = s.host(s.vm(vm).host).spec.labels;
  for (const Container* c : ask.items) {
    if (!AllMatch(c->constraints, labels)) return kReasonLabels;
  }
  return nullptr;
}

const char* VmCapacityChecker::Check(const Snapshot& s, const Ask& ask,
                                     int vm) const {
  return ShortDim(ask.requests, s.vm(vm).free());
}

const char* HostStateChecker::Check(const Snapshot& s, const Ask&,
                                    int host) const {
  return s.host(host).spec.state == HostState::kReady ? nullptr
                                                      : kReasonHostNotReady;
}

const char* HostLabelChecker::Check(const Snapshot& s, const Ask& ask,
                                    int host) const {
  const Labels& labels = s.host(host).spec.labels;
  if (!AllMatch(s.group(ask.group).spec.host_constraints, labels)) {
    return kReasonLabels;
  }
  for (const Container* c : ask.items) {
    if (!AllMatch(c->constraints, labels)) return kReasonLabels;
  }
  return nullptr;
}

const char* HostCapacityChecker::Check(const Snapshot& s, const Ask& ask,
                                       int host) const {
  return ShortDim(ask.host_demand, s.host(host).free());
}

const char* HostAntiAffinityChecker::Check(const Snapshot& s, const Ask& ask,
                                           int host) const {
  for (size_t i = 0; i < ask.items.size(); ++i) {
    if (ask.items[i]->anti_affinity != AntiAffinity::kDistinctHosts) continue;
    if (s.ReplicasOnHost(ask.workloads[i], host) > 0) {
      return kReasonAntiAffinityHost;
    }
  }
  return nullptr;
}

const char* HostSpreadChecker::Check(const Snapshot& s, const Ask& ask,
                                     int host) const {
  const GroupRec& g = s.group(ask.group);
  if (g.spec.spread_label.empty()) return nullptr;
  const Labels& labels = s.host(host).spec.labels;
  auto it = labels.find(g.spec.spread_label);
  if (it == labels.end()) return kReasonSpread;
  auto count = g.vms_per_domain.find(it->second);
  int here = count == g.vms_per_domain.end() ? 0 : count->second;
  return here + 1 - ask.spread_min <= g.spec.max_skew ? nullptr : kReasonSpread;
}

const char* GroupMaxChecker::Check(const Snapshot& s, const Ask& ask) const {
  const GroupRec& g = s.group(ask.group);
  return g.live_vms < g.spec.max_vms ? nullptr : kReasonGroupMax;
}

const char* TenantQuotaChecker::Check(const Snapshot& s, const Ask& ask) const {
  const GroupRec& g = s.group(ask.group);
  const TenantRec* t = s.tenant(g.spec.tenant);
  if (t == nullptr) return nullptr;
  return t->Exceeded(ask.host_demand).empty() ? nullptr : kReasonTenantQuota;
}

const char* GroupTenantChecker::Check(const Snapshot& s, const Ask& ask) const {
  const TenantId& owner = s.group(ask.group).spec.tenant;
  if (owner.empty()) return nullptr;
  for (const Container* c : ask.items) {
    if (c->tenant != owner) return kReasonTenant;
  }
  return nullptr;
}

}  // namespace nest::placement

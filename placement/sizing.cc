#include "placement/sizing.h"

#include <algorithm>
#include <limits>

#include "absl/strings/str_cat.h"
#include "placement/ask.h"
#include "placement/schedule.h"

namespace nest::placement {
namespace {

absl::Status UnknownGroup(const GroupId& g) {
  return absl::NotFoundError(
      absl::StrCat("group must name a known group, got \"", g.str(), "\""));
}

}  // namespace

absl::StatusOr<ScaleUp> SizeScaleUp(const Snapshot& s, const GroupId& group,
                                    const std::vector<Container>& pending,
                                    Rng& rng, const Options& options) {
  std::optional<int> g = s.FindGroup(group);
  if (!g) return UnknownGroup(group);
  Snapshot sim = s;
  sim.SetGroupMax(*g, std::numeric_limits<int>::max());
  sim.ClearQuota(s.group(*g).spec.tenant);
  Pending mine;
  for (const Container& c : pending) {
    if (c.group == group) mine.containers.push_back(c);
  }
  Plan plan = Schedule(sim, mine, rng, options);
  ScaleUp out;
  for (const Action& a : plan.actions) {
    if (const auto* create = std::get_if<CreateVm>(&a)) {
      if (create->group == group) out.vms.push_back(*create);
    }
  }
  out.new_vms = static_cast<int>(out.vms.size());
  for (const Explanation& e : plan.unplaced) {
    out.unplaceable.push_back(e.container);
  }
  const GroupRec& rec = s.group(*g);
  out.exceeds_max =
      static_cast<int64_t>(rec.live_vms) + out.new_vms > rec.spec.max_vms;
  if (const TenantRec* t = s.tenant(rec.spec.tenant)) {
    TenantRec after = *t;
    for (const CreateVm& vm : out.vms) {
      Resources demand = VmHostDemand(vm.shape, vm.vmm_overhead_mib);
      out.exceeds_quota = after.Exceeded(demand);
      if (!out.exceeds_quota.empty()) break;
      ++after.live_vms;
      after.used += demand;
    }
  }
  return out;
}

absl::StatusOr<ScaleDown> SizeScaleDown(const Snapshot& s, const GroupId& group,
                                        Rng& rng, const Options& options) {
  std::optional<int> g = s.FindGroup(group);
  if (!g) return UnknownGroup(group);
  const uint64_t salt = rng.Next();
  Snapshot sim = s;
  const Stack& stack = Stack::Default();
  std::vector<int> order;
  for (int vm : sim.group(*g).vms) {
    // A cordoned VM is on its way out already.
    if (!sim.vm(vm).retired && !sim.vm(vm).spec.cordoned) order.push_back(vm);
  }
  // Emptiest first: the least to move.
  auto load = [&](int vm) {
    const VmRec& r = sim.vm(vm);
    double share = 0;
    for (int d = 0; d < kDims; ++d) {
      if (r.spec.shape.v[d] > 0) {
        share = std::max(share,
                         static_cast<double>(r.used.v[d]) / r.spec.shape.v[d]);
      }
    }
    return share;
  };
  std::stable_sort(order.begin(), order.end(), [&](int a, int b) {
    const VmRec& x = sim.vm(a);
    const VmRec& y = sim.vm(b);
    if (x.spec.containers.empty() != y.spec.containers.empty()) {
      return x.spec.containers.empty();
    }
    double la = load(a), lb = load(b);
    if (la != lb) return la < lb;
    return x.spec.id < y.spec.id;
  });
  ScaleDown out;
  for (int vm : order) {
    if (sim.group(*g).live_vms <= sim.group(*g).spec.min_vms) break;
    sim.SetRetired(vm, true);
    const std::vector<Container> cs = sim.vm(vm).spec.containers;
    std::vector<std::pair<Container, int>> moved;  // container, target
    bool ok = true;
    for (const Container& c : cs) {
      Ask ask = MakeAsk(sim, *g, {&c}, salt);
      std::optional<int> target = stack.SelectVm(sim, ask, options);
      if (!target) {
        ok = false;
        break;
      }
      absl::StatusOr<Container> taken = sim.RemoveContainer(vm, c.id);
      if (!taken.ok()) return taken.status();
      NEST_RETURN_IF_ERROR(sim.AddContainer(*target, c));
      moved.emplace_back(c, *target);
    }
    if (ok) {
      out.removable.push_back(sim.vm(vm).spec.id);
      for (const auto& [c, target] : moved) {
        out.moves.push_back(
            StopContainer{c.id, sim.vm(vm).spec.id, "scale-down"});
        out.moves.push_back(PlaceContainer{
            c, sim.vm(target).spec.id, sim.host(sim.vm(target).host).spec.id});
      }
      continue;
    }
    for (auto it = moved.rbegin(); it != moved.rend(); ++it) {
      absl::StatusOr<Container> back =
          sim.RemoveContainer(it->second, it->first.id);
      if (!back.ok()) return back.status();
      NEST_RETURN_IF_ERROR(sim.AddContainer(vm, it->first));
    }
    sim.SetRetired(vm, false);
  }
  return out;
}

}  // namespace nest::placement

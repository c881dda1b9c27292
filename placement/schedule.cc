#include "placement/schedule.h"

#include <algorithm>
#include <map>
#include <optional>
#include <tuple>

#include "absl/strings/str_cat.h"
#include "placement/ask.h"
#include "placement/explain.h"
#include "placement/packer.h"
#include "placement/preempt.h"

namespace nest::placement {
namespace {

// Decisions read the newest state; commits are deferred until the next
// read, so a single decision never copies the snapshot and the last one of
// a batch is never applied to a copy nobody reads.
class Working {
 public:
  explicit Working(const Snapshot& base) : base_(base) {}

  const Snapshot& Get() {
    if (!deferred_.empty()) {
      if (!copy_) copy_.emplace(base_);
      for (const Action& a : deferred_) {
        // Actions are built from this very state and cannot fail to apply.
        absl::Status st = copy_->Apply(a);
        (void)st;
      }
      deferred_.clear();
    }
    return copy_ ? *copy_ : base_;
  }
  void Commit(Plan& plan, Action a) {
    deferred_.push_back(a);
    plan.actions.push_back(std::move(a));
  }

 private:
  const Snapshot& base_;
  std::optional<Snapshot> copy_;
  std::vector<Action> deferred_;
};

double DominantShare(const Container& c, const Resources& shape) {
  double share = 0;
  for (int d = 0; d < kDims; ++d) {
    if (shape.v[d] > 0) {
      share =
          std::max(share, static_cast<double>(c.requests.v[d]) / shape.v[d]);
    }
  }
  return share;
}

class Scheduler {
 public:
  Scheduler(const Snapshot& s, Rng& rng, const Options& opt)
      : w_(s), salt_(rng.Next()), opt_(opt), stack_(Stack::Default()) {}

  Plan Run(const Pending& pending) {
    FillMinimums();
    std::vector<const Container*> order;
    for (const Container& c : pending.containers) {
      std::optional<int> g = w_.Get().FindGroup(c.group);
      if (!g || c.requests.any_negative()) {
        Unplaced(c);
        continue;
      }
      order.push_back(&c);
    }
    std::map<const Container*, double> key;
    for (const Container* c : order) {
      key[c] = DominantShare(
          *c, w_.Get().group(*w_.Get().FindGroup(c->group)).spec.shape);
    }
    std::stable_sort(order.begin(), order.end(),
                     [&](const Container* a, const Container* b) {
                       if (a->priority != b->priority) {
                         return a->priority > b->priority;
                       }
                       if (key[a] != key[b]) return key[a] > key[b];
                       return a->id < b->id;
                     });
    for (size_t i = 0; i < order.size();) {
      size_t j = i;
      while (j < order.size() && order[j]->priority == order[i]->priority) ++j;
      Level({order.begin() + i, order.begin() + j});
      i = j;
    }
    return std::move(plan_);
  }

 private:
  int GroupOf(const Container& c) { return *w_.Get().FindGroup(c.group); }

  void FillMinimums() {
    for (int g = 0; g < w_.Get().group_count(); ++g) {
      while (w_.Get().group(g).live_vms < w_.Get().group(g).spec.min_vms) {
        if (!NewVm(g, {})) break;
      }
    }
  }

  // Creates a VM of group g holding `items` on the best host, if any.
  bool NewVm(int g, const std::vector<const Container*>& items) {
    const Snapshot& s = w_.Get();
    Ask ask = MakeAsk(s, g, items, salt_);
    std::optional<int> host = stack_.SelectHost(s, ask, opt_);
    if (!host) return false;
    const Group& group = s.group(g).spec;
    CreateVm create{s.FreshVmId(g),        group.id,    ask.tenant,
                    s.host(*host).spec.id, group.shape, group.vmm_overhead_mib};
    for (const Container* c : items) {
      pending_.push_back(PlaceContainer{*c, create.vm, create.host});
    }
    w_.Commit(plan_, create);
    for (PlaceContainer& p : pending_) w_.Commit(plan_, std::move(p));
    pending_.clear();
    return true;
  }

  void Level(std::vector<const Container*> level) {
    std::vector<const Container*> left;
    for (const Container* c : level) {
      const Snapshot& s = w_.Get();
      Ask ask = MakeAsk(s, GroupOf(*c), {c}, salt_);
      std::optional<int> vm = stack_.SelectVm(s, ask, opt_);
      if (vm) {
        w_.Commit(plan_, PlaceContainer{*c, s.vm(*vm).spec.id,
                                        s.host(s.vm(*vm).host).spec.id});
      } else {
        left.push_back(c);
      }
    }
    // Containers that may share a new VM: same group, tenant, constraints.
    std::map<std::tuple<int, std::string, std::string>,
             std::vector<const Container*>>
        parts;
    for (const Container* c : left) {
      std::string constraints;
      for (const LabelConstraint& l : c->constraints) {
        absl::StrAppend(&constraints, l.ToString(), ";");
      }
      parts[{GroupOf(*c), c->tenant.str(), constraints}].push_back(c);
    }
    std::vector<const Container*> failed;
    for (auto& [part, items] : parts) {
      // The packer orders items itself; hand them over in the caller's
      // order so that its ties (and so its result) do not depend on ours.
      std::stable_sort(
          items.begin(), items.end(),
          [](const Container* a, const Container* b) { return a < b; });
      Pack(std::get<0>(part), items, failed);
    }
    for (const Container* c : failed) Rescue(*c);
  }

  void Pack(int g, const std::vector<const Container*>& items,
            std::vector<const Container*>& failed) {
    const Resources shape = w_.Get().group(g).spec.shape;
    std::vector<const Container*> packable;
    std::vector<PackItem> pack;
    std::map<std::string, int> workloads;
    for (const Container* c : items) {
      if (!c->requests.fits(shape)) {
        failed.push_back(c);
        continue;
      }
      PackItem it{c->requests, -1, c->isolation == Isolation::kDedicated};
      if (c->anti_affinity != AntiAffinity::kNone) {
        it.conflict =
            workloads
                .emplace(c->workload.str(), static_cast<int>(workloads.size()))
                .first->second;
      }
      packable.push_back(c);
      pack.push_back(it);
    }
    Bins bins = PackBins(pack, shape);
    for (const std::vector<int>& bin : bins) {
      std::vector<const Container*> vm_items;
      for (int i : bin) vm_items.push_back(packable[i]);
      if (NewVm(g, vm_items)) continue;
      // The whole VM found no host; the items may still fit one by one
      // (e.g. host anti-affinity between them).
      for (const Container* c : vm_items) {
        if (vm_items.size() == 1 || !NewVm(g, {c})) failed.push_back(c);
      }
    }
  }

  void Rescue(const Container& c) {
    const Snapshot& s = w_.Get();
    Ask ask = MakeAsk(s, GroupOf(c), {&c}, salt_);
    // An earlier rescue may have opened room.
    if (std::optional<int> vm = stack_.SelectVm(s, ask, opt_)) {
      w_.Commit(plan_, PlaceContainer{c, s.vm(*vm).spec.id,
                                      s.host(s.vm(*vm).host).spec.id});
      return;
    }
    if (std::optional<Preemption> p = FindPreemption(s, ask)) {
      const VmRec& r = s.vm(p->vm);
      VmId vm = r.spec.id;
      HostId host = s.host(r.host).spec.id;
      for (const ContainerId& id : p->evict) {
        w_.Commit(
            plan_,
            StopContainer{id, vm, absl::StrCat("preempted by ", c.id.str())});
      }
      w_.Commit(plan_, PlaceContainer{c, vm, host});
      return;
    }
    Unplaced(c);
  }

  void Unplaced(const Container& c) {
    plan_.unplaced.push_back(Explain(w_.Get(), c));
  }

  Working w_;
  uint64_t salt_;
  Options opt_;
  const Stack& stack_;
  Plan plan_;
  std::vector<PlaceContainer> pending_;
};

}  // namespace

Plan Schedule(const Snapshot& snapshot, const Pending& pending, Rng& rng,
              const Options& options) {
  return Scheduler(snapshot, rng, options).Run(pending);
}

}  // namespace nest::placement

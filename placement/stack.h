// The stack: the one place where checkers are chained and scorers weighted
// (like Nomad's scheduler/feasible/stack.go). Selection walks candidates
// from the snapshot's indexes, or scans everything (the baseline the
// benchmark compares against); both use the same chain and scorers.
#pragma once

#include <optional>
#include <vector>

#include "placement/ask.h"
#include "placement/checkers.h"
#include "placement/scorers.h"
#include "placement/snapshot.h"

namespace nest::placement {

struct Options {
  // Walk the free-capacity indexes (true) or scan every host/VM (false).
  bool use_index = true;
  // With the index, stop after this many feasible candidates (the walk
  // starts at the tightest fit for binpack, the emptiest for spread). A
  // scan scores every feasible candidate.
  int candidate_limit = 16;
};

// Thread-safe: immutable after construction.
class Stack {
 public:
  // The production chain: VM checkers retired, host state, tenant,
  // dedicated, anti-affinity, labels, capacity; ask checkers group tenant
  // and group max; host checkers state, labels, capacity, anti-affinity,
  // spread. Scores: the group's policy (binpack or spread) weight 1, plus
  // stranding weight 0.5 for hosts.
  static const Stack& Default();

  // First failing reason, or nullptr when feasible.
  const char* CheckVm(const Snapshot& s, const Ask& ask, int vm) const;
  // The VM chain without capacity and dedicated isolation: what preemption
  // can change by evicting containers.
  const char* CheckVmForPreemption(const Snapshot& s, const Ask& ask,
                                   int vm) const;
  const char* CheckAsk(const Snapshot& s, const Ask& ask) const;
  const char* CheckHost(const Snapshot& s, const Ask& ask, int host) const;

  double ScoreVm(const Snapshot& s, const Ask& ask, int vm) const;
  double ScoreHost(const Snapshot& s, const Ask& ask, int host) const;

  // Best feasible existing VM of ask.group for ask.items, or none.
  std::optional<int> SelectVm(const Snapshot& s, const Ask& ask,
                              const Options& opt) const;
  // Best feasible host for a new VM of ask.group holding ask.items.
  std::optional<int> SelectHost(const Snapshot& s, const Ask& ask,
                                const Options& opt) const;

  const std::vector<const VmChecker*>& vm_checkers() const { return vm_; }
  const std::vector<const AskChecker*>& ask_checkers() const { return ask_; }
  const std::vector<const HostChecker*>& host_checkers() const { return host_; }

 private:
  Stack();
  std::vector<const VmChecker*> vm_;
  std::vector<const VmChecker*> vm_preempt_;
  std::vector<const AskChecker*> ask_;
  std::vector<const HostChecker*> host_;
};

}  // namespace nest::placement

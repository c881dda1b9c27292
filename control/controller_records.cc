// The controller's queue of observations: what workers and passes saw
// (a VM answered, a container started or exited) is written in batches,
// one transaction per flush with a savepoint per change.
#include "absl/strings/str_cat.h"
#include "control/controller.h"

namespace nest::control {

void Controller::Record(Change change) {
  absl::MutexLock lock(&mu_);
  records_.push_back(std::move(change));
}

void Controller::RecordVm(const VmId& id,
                          std::function<void(store::Vm&)> mutate,
                          std::string reason, std::string message) {
  Record([id, mutate = std::move(mutate), reason = std::move(reason),
          message = std::move(message)](store::WriteTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(store::Vm vm, tx.GetVm(id));
    store::Vm before = vm;
    mutate(vm);
    if (vm == before) return absl::OkStatus();
    return tx.UpdateVm(vm, 0, {reason, message}).status();
  });
}

void Controller::RecordContainer(const ContainerId& id,
                                 std::function<void(store::Container&)> mutate,
                                 std::string reason, std::string message) {
  Record([id, mutate = std::move(mutate), reason = std::move(reason),
          message = std::move(message)](store::WriteTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(store::Container c, tx.GetContainer(id));
    store::Container before = c;
    mutate(c);
    if (c == before) return absl::OkStatus();
    return tx.UpdateContainer(c, 0, {reason, message}).status();
  });
}

absl::Status Controller::FlushRecords() {
  absl::MutexLock order(&flush_mu_);
  std::vector<Change> changes;
  {
    absl::MutexLock lock(&mu_);
    changes.swap(records_);
  }
  if (changes.empty()) return absl::OkStatus();
  int64_t failed = 0;
  absl::Status first;
  absl::Status st = store_.Write([&](store::WriteTx& tx) -> absl::Status {
    failed = 0;
    first = absl::OkStatus();
    tx.SetActor("control", "");
    for (const Change& change : changes) {
      // A row deleted since it was observed is no longer of interest; any
      // other failure is reported, and the next pass observes again.
      absl::Status s = tx.Nested(change);
      if (s.ok() || absl::IsNotFound(s)) continue;
      ++failed;
      if (first.ok()) first = std::move(s);
    }
    return absl::OkStatus();
  });
  if (!st.ok()) {
    // Nothing was written: keep the changes, in order, for the next flush
    // (a VM whose readiness is lost here would never be observed again).
    absl::MutexLock lock(&mu_);
    changes.insert(changes.end(), std::make_move_iterator(records_.begin()),
                   std::make_move_iterator(records_.end()));
    records_ = std::move(changes);
    return Annotate(st, "recording observations");
  }
  if (!first.ok()) {
    return Annotate(first, absl::StrCat(failed, " of ", changes.size(),
                                        " observations not recorded"));
  }
  return absl::OkStatus();
}

}  // namespace nest::control

// Workload revisions: `rollout history` and `rollout undo`.
#include <string>
#include <utility>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "control/commands.h"

namespace nest::control {

using namespace commands_internal;  // NOLINT: shared helpers

namespace {

// Longest command line a summary shows before cutting it with "...".
constexpr size_t kSummaryCommandMax = 40;

// What tells one template from another at a glance: the image, the
// command line, how much configuration it carries, and its size.
std::string Summary(const store::Workload& w) {
  std::vector<std::string> parts;
  parts.push_back(absl::StrCat("image ", w.image));
  std::vector<std::string> line = w.command;
  line.insert(line.end(), w.args.begin(), w.args.end());
  if (!line.empty()) {
    std::string cmd = absl::StrJoin(line, " ");
    if (cmd.size() > kSummaryCommandMax) {
      cmd = absl::StrCat(cmd.substr(0, kSummaryCommandMax - 3), "...");
    }
    parts.push_back(absl::StrCat("command ", cmd));
  }
  auto count = [&](size_t n, absl::string_view one, absl::string_view many) {
    if (n > 0) parts.push_back(absl::StrCat(n, " ", n == 1 ? one : many));
  };
  count(w.env.size(), "env", "env");
  count(w.files.size(), "file", "files");
  count(w.ports.size(), "port", "ports");
  if (!w.health_check.kind.empty()) {
    parts.push_back(absl::StrCat(w.health_check.kind, " check"));
  }
  parts.push_back(absl::StrCat(FormatMilliCpu(w.requests.milli_cpu()), "/",
                               FormatMiB(w.requests.memory_mib())));
  return absl::StrJoin(parts, ", ");
}

// A revision as reads show it: secrets are write-only, in history too.
RevisionView ViewRevision(int64_t revision, store::Workload w,
                          absl::Time replaced_at) {
  for (auto& e : w.env) {
    if (e.secret) e.value = std::string(kSecretShown);
  }
  for (auto& f : w.files) {
    if (f.secret) f.content = std::string(kSecretShown);
  }
  RevisionView v;
  v.revision = revision;
  v.summary = Summary(w);
  v.workload = std::move(w);
  v.replaced_at = replaced_at;
  return v;
}

// The replica template of `from` (exactly what store::TemplateDiffers
// compares) on `to`; everything else of `to` stays.
void CopyTemplate(const store::Workload& from, store::Workload& to) {
  to.image = from.image;
  to.command = from.command;
  to.args = from.args;
  to.env = from.env;
  to.requests = from.requests;
  to.ports = from.ports;
  to.files = from.files;
  to.health_check = from.health_check;
  to.restart_policy = from.restart_policy;
  to.stop_grace_s = from.stop_grace_s;
  to.isolation = from.isolation;
}

std::string KeptNumbers(const std::vector<store::WorkloadRevision>& kept) {
  std::vector<int64_t> numbers;
  for (const auto& r : kept) numbers.push_back(r.revision);
  return absl::StrJoin(numbers, ", ");
}

}  // namespace

absl::StatusOr<RevisionsView> Commands::ListRevisions(const std::string& name) {
  RevisionsView out;
  NEST_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(store::Workload cur,
                          tx.GetWorkload(tenant_, WorkloadId(name)));
    NEST_ASSIGN_OR_RETURN(auto kept,
                          tx.ListWorkloadRevisions(tenant_, cur.name));
    for (auto& r : kept) {
      out.revisions.push_back(
          ViewRevision(r.revision, std::move(r.workload), r.replaced_at));
    }
    out.current_revision = kept.empty() ? 1 : out.revisions.back().revision + 1;
    out.revisions.push_back(ViewRevision(out.current_revision, std::move(cur),
                                         absl::InfinitePast()));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<Written> Commands::RollbackWorkload(
    const WriteMeta& m, const std::string& name, int64_t to_revision,
    const Encoder<RollbackView>& enc) {
  if (to_revision < 0) {
    FieldErrors errors;
    errors.Add("to_revision",
               absl::StrCat("must be 0 (the previous revision) or a revision "
                            "number from `nestctl rollout history`, got ",
                            to_revision));
    return errors.ToStatus();
  }
  return Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
    NEST_ASSIGN_OR_RETURN(store::Workload cur,
                          tx.GetWorkload(tenant_, WorkloadId(name)));
    NEST_ASSIGN_OR_RETURN(auto kept,
                          tx.ListWorkloadRevisions(tenant_, cur.name));
    if (kept.empty()) {
      return absl::FailedPreconditionError(
          absl::StrCat("workload ", name,
                       " has no earlier revision: only an update that "
                       "changes its template (image, command, env, ...) "
                       "keeps one"));
    }
    const int64_t current = kept.back().revision + 1;
    // The current revision is the template the workload has: like any kept
    // revision equal to it, rolling back to it changes nothing.
    store::WorkloadRevision self{current, cur, absl::InfinitePast()};
    const store::WorkloadRevision* target = &kept.back();
    if (to_revision == current) {
      target = &self;
    } else if (to_revision != 0) {
      target = nullptr;
      for (const auto& r : kept) {
        if (r.revision == to_revision) target = &r;
      }
      if (target == nullptr) {
        FieldErrors errors;
        errors.Add(
            "to_revision",
            absl::StrCat("workload ", name, " has no revision ", to_revision,
                         "; kept revisions: ", KeptNumbers(kept), " (current ",
                         current, "; see nestctl rollout history ", name, ")"));
        return errors.ToStatus();
      }
    }
    RollbackView out;
    out.rolled_back_to = target->revision;
    store::Workload next = cur;
    CopyTemplate(target->workload, next);
    out.unchanged = !store::TemplateDiffers(cur, next);
    NEST_ASSIGN_OR_RETURN(
        store::Workload after,
        ReplaceWorkload(
            tx, cur, next, m.expected_generation,
            {"RolledBack",
             absl::StrCat("rolled back to revision ", target->revision,
                          " (image ", target->workload.image, ")")}));
    NEST_ASSIGN_OR_RETURN(out.workload, ViewWorkload(tx, after));
    return enc(out);
  });
}

}  // namespace nest::control

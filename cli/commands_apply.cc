// apply: parse and validate locally, show the server's diff (a dry run),
// apply it, then wait until the changed objects converge.
#include <cerrno>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/spec.h"

namespace nest::cli {
namespace {

absl::StatusOr<std::string> ReadInput(const Context& ctx,
                                      const std::string& file) {
  if (file == "-") {
    return std::string(std::istreambuf_iterator<char>(*ctx.in), {});
  }
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(
        absl::StrCat("cannot read ", file, ": ", std::strerror(errno)));
  }
  return std::string(std::istreambuf_iterator<char>(in), {});
}

absl::string_view ActionWord(nest::v1::ApplyAction a) {
  switch (a) {
    case nest::v1::APPLY_ACTION_CREATE:
      return "create";
    case nest::v1::APPLY_ACTION_UPDATE:
      return "update";
    case nest::v1::APPLY_ACTION_UNCHANGED:
      return "unchanged";
    default:
      return "?";
  }
}

// The plan, one object a line with its field diffs indented below it.
void PrintPlan(const Context& ctx, const nest::v1::ApplyResponse& resp) {
  size_t width = 0;
  for (const auto& c : resp.changes()) {
    width = std::max(width, c.kind().size() + 1 + c.name().size());
  }
  for (const auto& c : resp.changes()) {
    std::string object = absl::StrCat(c.kind(), "/", c.name());
    *ctx.out << object << std::string(width - object.size() + 3, ' ')
             << ActionWord(c.action()) << "\n";
    for (const std::string& d : c.diff()) *ctx.out << "    " << d << "\n";
  }
}

struct Target {
  bool group = false;
  std::string name;
};

// One object's progress: "hello 2/3" and whether it has converged.
absl::StatusOr<std::pair<std::string, bool>> Progress(const Context& ctx,
                                                      const Target& t) {
  Client& c = *ctx.client;
  if (t.group) {
    nest::v1::GetVmGroupRequest req;
    req.set_name(t.name);
    nest::v1::GetVmGroupResponse resp;
    NEST_RETURN_IF_ERROR(FromGrpc(
        c.groups().GetVmGroup(c.Context().get(), req, &resp), "get group"));
    const auto& g = resp.group();
    int want = std::max(g.spec().min_vms(), g.spec().desired_vms());
    bool done =
        g.status().vms_running() >= want && g.status().vms_pending() == 0;
    return std::make_pair(
        absl::StrCat(t.name, " ", g.status().vms_running(), "/", want, " VMs"),
        done);
  }
  nest::v1::GetWorkloadRequest req;
  req.set_name(t.name);
  nest::v1::GetWorkloadResponse resp;
  NEST_RETURN_IF_ERROR(
      FromGrpc(c.workloads().GetWorkload(c.Context().get(), req, &resp),
               "get workload"));
  const auto& w = resp.workload();
  const auto& st = w.status();
  // Counts alone can be met by the replicas of the previous spec right
  // after an update: only a status that observed this generation counts.
  // Then every live replica runs it, so a container that ran to completion
  // (exit 0) counts too: a batch workload such as the demo's hello
  // converges when all of it has run.
  bool rolled_out = st.observed_generation() == w.meta().generation();
  int ready = st.ready() + (rolled_out ? st.succeeded() : 0);
  bool done = rolled_out && ready >= w.spec().replicas() && st.pending() == 0;
  std::string text = absl::StrCat(t.name, " ", ready, "/", w.spec().replicas());
  if (!rolled_out) {
    absl::StrAppend(&text, " (at generation ", st.observed_generation(), " of ",
                    w.meta().generation(), ")");
  }
  if (w.status().failed() > 0) {
    absl::StrAppend(&text, " (", w.status().failed(), " failed)");
  }
  if (!done && !w.status().message().empty()) {
    absl::StrAppend(&text, " [", w.status().message(), "]");
  }
  return std::make_pair(text, done);
}

absl::Status Wait(const Context& ctx, const std::vector<Target>& targets,
                  const ApplyOptions& options) {
  absl::Time start = absl::Now();
  absl::Time deadline = start + options.wait_timeout;
  std::string last;
  for (;;) {
    std::vector<std::string> parts;
    bool all_done = true;
    for (const Target& t : targets) {
      NEST_ASSIGN_OR_RETURN(auto p, Progress(ctx, t));
      parts.push_back(p.first);
      all_done = all_done && p.second;
    }
    std::string line = absl::StrJoin(parts, ", ");
    absl::Duration elapsed = absl::Now() - start;
    std::string secs = absl::StrCat(absl::ToInt64Seconds(elapsed), "s");
    if (ctx.tty) {
      *ctx.err << "\r\033[K" << (all_done ? "ready: " : "waiting: ") << line
               << " (" << secs << ")";
      if (all_done) *ctx.err << "\n";
      ctx.err->flush();
    } else if (line != last || all_done) {
      *ctx.err << (all_done ? "ready: " : "waiting: ") << line << "\n";
    }
    last = line;
    if (all_done) return absl::OkStatus();
    if (absl::Now() >= deadline) {
      if (ctx.tty) *ctx.err << "\n";
      return absl::DeadlineExceededError(absl::StrCat(
          "not converged after ", absl::FormatDuration(options.wait_timeout),
          ": ", line, " (raise --wait-timeout, or see `nestctl explain`)"));
    }
    // Polling keeps the wait correct whatever events the server emits.
    absl::SleepFor(std::min(options.poll_interval, deadline - absl::Now()));
  }
}

}  // namespace

absl::Status RolloutStatus(const Context& ctx, const std::string& workload,
                           absl::Duration timeout) {
  ApplyOptions options;
  options.wait_timeout = timeout;
  return Wait(ctx, {Target{false, workload}}, options);
}

absl::Status Apply(const Context& ctx, const ApplyOptions& options) {
  if (options.file.empty()) {
    return absl::InvalidArgumentError(
        "apply needs -f FILE (or -f - for stdin)");
  }
  NEST_ASSIGN_OR_RETURN(std::string text, ReadInput(ctx, options.file));
  bool stdin_spec = options.file == "-";
  // A spec's from_file names are relative to the spec, not to where
  // nestctl runs (stdin has no directory: the current one).
  std::string base_dir =
      stdin_spec ? ""
                 : std::filesystem::path(options.file).parent_path().string();
  NEST_ASSIGN_OR_RETURN(
      auto objects,
      ParseSpec(text, stdin_spec ? "stdin" : options.file, base_dir));

  Client& c = *ctx.client;
  nest::v1::ApplyRequest req;
  for (auto& o : objects) *req.add_objects() = std::move(o);
  req.set_dry_run(true);
  nest::v1::ApplyResponse plan;
  NEST_RETURN_IF_ERROR(FromGrpc(
      c.workloads().Apply(c.Context().get(), req, &plan), "apply (dry run)"));

  std::vector<Target> targets;
  for (const auto& ch : plan.changes()) {
    if (ch.action() == nest::v1::APPLY_ACTION_CREATE ||
        ch.action() == nest::v1::APPLY_ACTION_UPDATE) {
      bool group = absl::EqualsIgnoreCase(ch.kind(), kKindVmGroup) ||
                   absl::EqualsIgnoreCase(ch.kind(), "group");
      targets.push_back({group, ch.name()});
    }
  }
  PrintPlan(ctx, plan);
  if (options.dry_run || targets.empty()) {
    if (options.dry_run) {
      *ctx.err << "dry run: nothing was changed\n";
    } else {
      *ctx.err << "nothing to change\n";
    }
    return absl::OkStatus();
  }

  req.set_dry_run(false);
  nest::v1::ApplyResponse done;
  NEST_RETURN_IF_ERROR(
      FromGrpc(c.workloads().Apply(c.Context().get(), req, &done), "apply"));
  std::map<nest::v1::ApplyAction, int> counts;
  for (const auto& ch : done.changes()) ++counts[ch.action()];
  *ctx.out << "applied: " << counts[nest::v1::APPLY_ACTION_CREATE]
           << " created, " << counts[nest::v1::APPLY_ACTION_UPDATE]
           << " updated, " << counts[nest::v1::APPLY_ACTION_UNCHANGED]
           << " unchanged\n";
  if (!options.wait) return absl::OkStatus();
  ctx.out->flush();
  return Wait(ctx, targets, options);
}

}  // namespace nest::cli

// nestctl's commands, each a function over a Client. They print results to
// `out`, progress and notes to `err`, and return errors (never print them;
// the caller does, once, with PrintError).
#pragma once

#include <istream>
#include <map>
#include <ostream>
#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/time/time.h"
#include "cli/client.h"
#include "cli/documents.h"
#include "core/status.h"

namespace nest::cli {

enum class Kind { kHost, kGroup, kVm, kWorkload, kContainer, kImage, kEvent };

// Accepts singular, plural and short forms: "workloads", "workload", "wl";
// "groups", "group", "vmgroup"; "containers", "ct"; ...
absl::StatusOr<Kind> ParseKind(absl::string_view text);

struct Context {
  Client* client = nullptr;
  std::istream* in = nullptr;
  std::ostream* out = nullptr;
  std::ostream* err = nullptr;
  Format format = Format::kTable;
  // stdout is a terminal: live progress lines and screen redraws.
  bool tty = false;
};

absl::Status Get(const Context& ctx, Kind kind, const std::string& name,
                 bool watch);
absl::Status Describe(const Context& ctx, Kind kind, const std::string& name);
absl::Status Delete(const Context& ctx, Kind kind, const std::string& name);
absl::Status Scale(const Context& ctx, Kind kind, const std::string& name,
                   int count);
absl::Status Events(const Context& ctx, bool follow, int64_t after);
// API tokens (operators): create prints the secret once.
absl::Status TokenCreate(const Context& ctx, const std::string& tenant,
                         const std::string& role,
                         const std::string& description);
absl::Status TokenList(const Context& ctx);
absl::Status TokenRevoke(const Context& ctx, const std::string& id);
// Quotas. Flags are "" (leave as is), "unlimited", or a count (memory: a
// size such as "16Gi").
struct QuotaFlags {
  std::string vcpus, memory, vms, containers, images;
};
absl::Status QuotaSet(const Context& ctx, const std::string& tenant,
                      const QuotaFlags& flags);
// Empty tenant: the caller's own.
absl::Status QuotaGet(const Context& ctx, const std::string& tenant);
absl::Status QuotaList(const Context& ctx);
// The token in $NEST_TOKEN_FILE or /var/lib/nest/operator.token (what nestd
// writes at its first start), or "" when there is none to read.
std::string LocalOperatorToken();

// `what`: hosts, vms or containers, from nestd's last usage sample.
absl::Status Top(const Context& ctx, const std::string& what);

struct ApplyOptions {
  std::string file;  // "-" for stdin
  bool dry_run = false;
  bool wait = true;
  absl::Duration wait_timeout = absl::Minutes(5);
  absl::Duration poll_interval = absl::Milliseconds(500);
};
absl::Status Apply(const Context& ctx, const ApplyOptions& options);
// Waits (with progress) until every replica of `workload` runs its newest
// spec; DEADLINE_EXCEEDED naming where it stands after `timeout`.
absl::Status RolloutStatus(const Context& ctx, const std::string& workload,
                           absl::Duration timeout);
// The workload's kept revisions and its current one (REVISION, REPLACED,
// SUMMARY).
absl::Status RolloutHistory(const Context& ctx, const std::string& workload);
// Puts revision `to_revision` (0: the previous one) back and returns at
// once; `rollout status` follows the rollout it starts.
absl::Status RolloutUndo(const Context& ctx, const std::string& workload,
                         int64_t to_revision);

// The tail of a VM's serial console (its boot log), `tail_bytes` 0: the
// server's default.
absl::Status Console(const Context& ctx, const std::string& vm,
                     int64_t tail_bytes);
absl::Status Logs(const Context& ctx, const std::string& container, bool follow,
                  int tail);
// The command's exit code on success.
absl::StatusOr<int> Exec(const Context& ctx, const std::string& container,
                         const std::vector<std::string>& command);
absl::Status Explain(const Context& ctx, const std::string& workload);
// `pool`: the host's own IPv4 CIDR for its VMs and containers; empty: none.
absl::Status HostAdd(const Context& ctx, const std::string& name,
                     const std::string& uri, const std::string& pool,
                     const std::vector<std::string>& labels);
// verb: "cordon", "uncordon" or "drain".
absl::Status HostAction(const Context& ctx, const std::string& verb,
                        const std::string& name);
absl::Status ImageImport(const Context& ctx, const std::string& name,
                         const std::string& source);
// A bash or zsh completion script.
absl::StatusOr<std::string> CompletionScript(absl::string_view shell);

}  // namespace nest::cli

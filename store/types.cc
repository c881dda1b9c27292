#include "store/types.h"

#include <array>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/validate.h"

namespace nest::store {
namespace {

// One table per enum keeps the stored spelling and the parser in lockstep.
template <typename E, size_t N>
using NameTable = std::array<std::pair<E, absl::string_view>, N>;

template <typename E, size_t N>
absl::string_view Lookup(const NameTable<E, N>& table, E v) {
  for (const auto& [e, name] : table) {
    if (e == v) return name;
  }
  return "invalid";
}

template <typename E, size_t N>
absl::StatusOr<E> Parse(const NameTable<E, N>& table, absl::string_view field,
                        absl::string_view text) {
  std::vector<std::string> names;
  for (const auto& [e, name] : table) {
    if (name == text) return e;
    names.emplace_back(name);
  }
  return absl::InvalidArgumentError(
      absl::StrCat(field, " must be one of ", absl::StrJoin(names, "|"),
                   ", got ", QuoteForMessage(text)));
}

constexpr NameTable<HostState, 4> kHostStates{{
    {HostState::kReady, "ready"},
    {HostState::kCordoned, "cordoned"},
    {HostState::kDraining, "draining"},
    {HostState::kDown, "down"},
}};
constexpr NameTable<PlacementPolicy, 2> kPolicies{{
    {PlacementPolicy::kBinpack, "binpack"},
    {PlacementPolicy::kSpread, "spread"},
}};
constexpr NameTable<VmDesiredState, 3> kVmDesired{{
    {VmDesiredState::kRunning, "running"},
    {VmDesiredState::kStopped, "stopped"},
    {VmDesiredState::kDeleted, "deleted"},
}};
constexpr NameTable<VmObservedState, 8> kVmObserved{{
    {VmObservedState::kPending, "pending"},
    {VmObservedState::kCreating, "creating"},
    {VmObservedState::kBooting, "booting"},
    {VmObservedState::kRunning, "running"},
    {VmObservedState::kStopping, "stopping"},
    {VmObservedState::kStopped, "stopped"},
    {VmObservedState::kFailed, "failed"},
    {VmObservedState::kUnknown, "unknown"},
}};
constexpr NameTable<RestartPolicy, 3> kRestart{{
    {RestartPolicy::kAlways, "always"},
    {RestartPolicy::kOnFailure, "on-failure"},
    {RestartPolicy::kNever, "never"},
}};
constexpr NameTable<Isolation, 2> kIsolation{{
    {Isolation::kShared, "shared"},
    {Isolation::kDedicated, "dedicated"},
}};
constexpr NameTable<ContainerDesiredState, 3> kCtrDesired{{
    {ContainerDesiredState::kRunning, "running"},
    {ContainerDesiredState::kStopped, "stopped"},
    {ContainerDesiredState::kDeleted, "deleted"},
}};
constexpr NameTable<ContainerObservedState, 7> kCtrObserved{{
    {ContainerObservedState::kPending, "pending"},
    {ContainerObservedState::kCreating, "creating"},
    {ContainerObservedState::kRunning, "running"},
    {ContainerObservedState::kExited, "exited"},
    {ContainerObservedState::kFailed, "failed"},
    {ContainerObservedState::kCrashLoop, "crash-loop"},
    {ContainerObservedState::kUnknown, "unknown"},
}};
constexpr NameTable<ContainerHealth, 4> kCtrHealth{{
    {ContainerHealth::kNone, ""},
    {ContainerHealth::kStarting, "starting"},
    {ContainerHealth::kHealthy, "healthy"},
    {ContainerHealth::kUnhealthy, "unhealthy"},
}};

}  // namespace

absl::string_view Name(HostState v) { return Lookup(kHostStates, v); }
absl::string_view Name(PlacementPolicy v) { return Lookup(kPolicies, v); }
absl::string_view Name(VmDesiredState v) { return Lookup(kVmDesired, v); }
absl::string_view Name(VmObservedState v) { return Lookup(kVmObserved, v); }
absl::string_view Name(RestartPolicy v) { return Lookup(kRestart, v); }
absl::string_view Name(Isolation v) { return Lookup(kIsolation, v); }
absl::string_view Name(ContainerDesiredState v) {
  return Lookup(kCtrDesired, v);
}
absl::string_view Name(ContainerObservedState v) {
  return Lookup(kCtrObserved, v);
}

absl::StatusOr<HostState> ParseHostState(absl::string_view field,
                                         absl::string_view text) {
  return Parse(kHostStates, field, text);
}
absl::StatusOr<PlacementPolicy> ParsePlacementPolicy(absl::string_view field,
                                                     absl::string_view text) {
  return Parse(kPolicies, field, text);
}
absl::StatusOr<VmDesiredState> ParseVmDesiredState(absl::string_view field,
                                                   absl::string_view text) {
  return Parse(kVmDesired, field, text);
}
absl::StatusOr<VmObservedState> ParseVmObservedState(absl::string_view field,
                                                     absl::string_view text) {
  return Parse(kVmObserved, field, text);
}
absl::StatusOr<RestartPolicy> ParseRestartPolicy(absl::string_view field,
                                                 absl::string_view text) {
  return Parse(kRestart, field, text);
}
absl::StatusOr<Isolation> ParseIsolation(absl::string_view field,
                                         absl::string_view text) {
  return Parse(kIsolation, field, text);
}
absl::StatusOr<ContainerDesiredState> ParseContainerDesiredState(
    absl::string_view field, absl::string_view text) {
  return Parse(kCtrDesired, field, text);
}
absl::StatusOr<ContainerObservedState> ParseContainerObservedState(
    absl::string_view field, absl::string_view text) {
  return Parse(kCtrObserved, field, text);
}
absl::string_view Name(ContainerHealth v) { return Lookup(kCtrHealth, v); }
absl::StatusOr<ContainerHealth> ParseContainerHealth(absl::string_view field,
                                                     absl::string_view text) {
  return Parse(kCtrHealth, field, text);
}

bool TemplateDiffers(const Workload& a, const Workload& b) {
  return a.image != b.image || a.command != b.command || a.args != b.args ||
         a.env != b.env || a.requests != b.requests || a.ports != b.ports ||
         a.files != b.files || a.health_check != b.health_check ||
         a.restart_policy != b.restart_policy ||
         a.stop_grace_s != b.stop_grace_s || a.isolation != b.isolation;
}

}  // namespace nest::store

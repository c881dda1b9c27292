// Validation of agent requests, shared by the guest (ContainerManager,
// ImageStore) and the host-side FakeAgent so both reject the same input with
// the same message.
#pragma once

#include "absl/strings/string_view.h"
#include "absl/time/time.h"
#include "agent/types.h"
#include "core/status.h"

namespace nest::agent {

// "sha256:" followed by 64 lowercase hex digits.
[[nodiscard]] absl::Status ValidateDigest(absl::string_view field,
                                          absl::string_view digest);

// 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'.
[[nodiscard]] absl::Status ValidateContainerId(absl::string_view field,
                                               absl::string_view id);

// Bounds of a HealthCheck: a period in [kMinHealthPeriod, kMaxHealthPeriod]
// (the initial delay at most the maximum too), thresholds in
// [1, kMaxHealthThreshold].
inline constexpr absl::Duration kMinHealthPeriod = absl::Milliseconds(10);
inline constexpr absl::Duration kMaxHealthPeriod = absl::Hours(1);
inline constexpr int kMaxHealthThreshold = 1000;

// A container's health check: nothing more when kind is kNone; otherwise
// exec names a program (kExec), port is 1..65535 (kTcp, kHttp), path starts
// with '/' and has no spaces or control characters (kHttp), 0 <=
// initial_delay, 1ms <= timeout <= period, and the bounds above. Messages
// name the field as "health_check.<field>".
[[nodiscard]] absl::Status ValidateHealthCheck(const HealthCheck& check);

// Every field of a CreateContainer request.
[[nodiscard]] absl::Status ValidateSpec(const ContainerSpec& spec);

// A dotted-quad IPv4 address ("10.88.0.2"), each part 0-255 without
// leading zeros; false otherwise. `out` (host byte order) may be null.
bool ParseIpv4(absl::string_view text, uint32_t* out);

// "52:54:00:12:34:56": six pairs of hex digits separated by ':'.
[[nodiscard]] absl::Status ValidateMac(absl::string_view field,
                                       absl::string_view mac);

// Every field of a ConfigureNetwork request: the addresses, prefix_length
// 8..30, a gateway inside the subnet other than the address, the VIPs, the
// hosts' names (letters, digits, '.', '-', '_', at most 253) and addresses.
[[nodiscard]] absl::Status ValidateGuestNetwork(const GuestNetwork& network);

// FAILED_PRECONDITION "guest network not configured …": container `id`
// asks for `address` before ConfigureNetwork was called.
[[nodiscard]] absl::Status NetworkNotConfigured(absl::string_view id,
                                                absl::string_view address);

// 1..64.
[[nodiscard]] absl::Status ValidateSignal(int signal);

}  // namespace nest::agent

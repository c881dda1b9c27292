// Validation of agent requests, shared by the guest (ContainerManager,
// ImageStore) and the host-side FakeAgent so both reject the same input with
// the same message.
#pragma once

#include "absl/strings/string_view.h"
#include "agent/types.h"
#include "core/status.h"

namespace nest::agent {

// "sha256:" followed by 64 lowercase hex digits.
[[nodiscard]] absl::Status ValidateDigest(absl::string_view field,
                                          absl::string_view digest);

// 1-128 characters of [A-Za-z0-9_.-], not starting with '.' or '-'.
[[nodiscard]] absl::Status ValidateContainerId(absl::string_view field,
                                               absl::string_view id);

// Every field of a CreateContainer request.
[[nodiscard]] absl::Status ValidateSpec(const ContainerSpec& spec);

// 1..64.
[[nodiscard]] absl::Status ValidateSignal(int signal);

}  // namespace nest::agent

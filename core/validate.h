// Validation of user-supplied names. Every message names the field and says
// what was expected.
#pragma once

#include "absl/strings/string_view.h"

#include "core/status.h"

namespace nest {

// A DNS-1123 label: 1-63 characters of [a-z0-9-], starting and ending with
// an alphanumeric character. Object names (tenants, groups, workloads, hosts)
// must be labels so they are safe in libvirt names, file names and DNS.
absl::Status ValidateName(absl::string_view field, absl::string_view value);

// Returns `value` with control characters and non-ASCII bytes escaped, cut
// to a readable length, for quoting untrusted input in error messages.
std::string QuoteForMessage(absl::string_view value);

}  // namespace nest

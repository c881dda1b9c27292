// Unpredictable bytes from the operating system's CSPRNG (OpenSSL's
// RAND_bytes), for secrets such as API tokens. Not for simulations: those
// use the seeded, injectable Rng (core/rng.h).
#pragma once

#include <string>

#include "core/status.h"

namespace nest {

// `bytes` random bytes as 2*bytes lower-case hex digits; INTERNAL if the
// generator cannot be seeded.
[[nodiscard]] absl::StatusOr<std::string> SecureRandomHex(int bytes);

}  // namespace nest

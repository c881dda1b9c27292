// The idempotency table's request hash: the project's one SHA-256.

#include "core/sha256.h"

#include <string>

#include "store/store.h"

namespace nest::store {

std::string HashRequest(absl::string_view bytes) { return Sha256Hex(bytes); }

}  // namespace nest::store

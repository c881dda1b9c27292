// The idempotency table's request hash: the project's one SHA-256.

#include <string>

#include "core/sha256.h"
#include "store/store.h"

namespace nest::store {

std::string HashRequest(absl::string_view bytes) { return Sha256Hex(bytes); }

}  // namespace nest::store

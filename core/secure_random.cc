#include "core/secure_random.h"

#include <openssl/rand.h>

#include <vector>

namespace nest {

absl::StatusOr<std::string> SecureRandomHex(int bytes) {
  if (bytes <= 0 || bytes > 1024) {
    return absl::InvalidArgumentError("random secrets are 1 to 1024 bytes");
  }
  std::vector<unsigned char> buf(bytes);
  if (RAND_bytes(buf.data(), bytes) != 1) {
    return absl::InternalError("the system's random generator failed");
  }
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(2 * buf.size());
  for (unsigned char b : buf) {
    out.push_back(kHex[b >> 4]);
    out.push_back(kHex[b & 0xf]);
  }
  return out;
}

}  // namespace nest

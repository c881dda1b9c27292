// SHA-256, for content digests of the guest boot set. Self-contained so
// images/guest depends on nothing but core.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest::images::guest_internal {

class Sha256 {
 public:
  Sha256();
  void Update(const void* data, size_t size);
  void Update(absl::string_view s) { Update(s.data(), s.size()); }
  std::string HexDigest();  // finishes; call once

 private:
  void Block(const uint8_t* p);
  uint32_t h_[8];
  uint8_t buf_[64];
  size_t buf_len_ = 0;
  uint64_t total_ = 0;
};

std::string Sha256Hex(absl::string_view data);
// Digest of a file's content; NOT_FOUND / UNAVAILABLE on I/O errors.
[[nodiscard]] absl::StatusOr<std::string> Sha256File(const std::string& path);

}  // namespace nest::images::guest_internal

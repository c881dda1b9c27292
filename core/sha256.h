// SHA-256 (OpenSSL libcrypto) and OCI digest strings: the one hash of the
// project (image blobs, boot-set inputs, idempotency request hashes).
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest {

// Incremental SHA-256. Thread-compatible: one hasher per stream.
class Sha256 {
 public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void Update(const void* data, size_t n);
  // Returns "sha256:<64 lowercase hex>". The hasher must not be used after.
  [[nodiscard]] std::string FinishDigest();
  // Returns the 64 lowercase hex digits alone. Same rule as FinishDigest.
  [[nodiscard]] std::string FinishHex();

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Digest of a whole buffer, as "sha256:<hex>".
[[nodiscard]] std::string Sha256Digest(absl::string_view data);
// The same, hex digits only.
[[nodiscard]] std::string Sha256Hex(absl::string_view data);
// Hex digest of a file's content; NOT_FOUND / UNAVAILABLE on I/O errors.
[[nodiscard]] absl::StatusOr<std::string> Sha256FileHex(
    const std::string& path);

// Checks that `digest` is "sha256:" followed by 64 lowercase hex characters
// (the only algorithm Nest accepts). `field` names the input in errors.
[[nodiscard]] absl::Status ValidateDigest(absl::string_view field,
                                          absl::string_view digest);

// The hex part of a valid digest ("sha256:abc…" -> "abc…").
[[nodiscard]] std::string DigestHex(absl::string_view digest);

}  // namespace nest

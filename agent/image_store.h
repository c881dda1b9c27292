// Images cached in the guest by digest: <root>/<hex>/ holds the unpacked
// root filesystem of "sha256:<hex>". Uploads land in <root>/.upload-* and
// are renamed into place only once unpacked, so a present directory is
// always complete, and only after the data's sha256 (computed with the
// sha256sum tool, which busybox provides) matched the digest. Thread-safe.
#pragma once

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "agent/validation.h"
#include "core/status.h"

namespace nest::agent {

class ImageUpload {
 public:
  virtual ~ImageUpload() = default;  // an uncommitted upload is discarded
  [[nodiscard]] virtual absl::Status Append(absl::string_view data) = 0;
  // Unpacks the tar received so far and publishes the image.
  [[nodiscard]] virtual absl::Status Commit() = 0;
  virtual uint64_t bytes_received() const = 0;
};

class ImageStore {
 public:
  explicit ImageStore(std::string root);

  const std::string& root() const { return root_; }
  bool Has(absl::string_view digest) const;
  // The unpacked rootfs of a present image; NOT_FOUND otherwise.
  [[nodiscard]] absl::StatusOr<std::string> RootfsPath(
      absl::string_view digest) const;
  [[nodiscard]] absl::StatusOr<std::unique_ptr<ImageUpload>> BeginUpload(
      absl::string_view digest);

 private:
  const std::string root_;
};

}  // namespace nest::agent

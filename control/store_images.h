// ImageSource over the content-addressed image store (images/): imports OCI
// layouts and archives, and hands the agent an uncompressed tar of each
// image's unpacked rootfs, built once per image and kept in memory.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "control/ports.h"
#include "images/image_store.h"

namespace nest::control {

// Thread-safe. Images are shared by every tenant until tenancy (issue 11)
// scopes them.
class StoreImageSource : public ImageSource {
 public:
  explicit StoreImageSource(std::unique_ptr<images::ImageStore> store)
      : store_(std::move(store)) {}
  absl::StatusOr<std::shared_ptr<const ImageBlob>> Get(
      const TenantId& tenant, const std::string& name) override;
  absl::StatusOr<ImportedImage> Import(const TenantId& tenant,
                                       const std::string& name,
                                       const std::string& source) override;
  absl::Status Remove(const TenantId& tenant, const std::string& name) override;

 private:
  std::unique_ptr<images::ImageStore> store_;
  absl::Mutex mu_;
  // By config digest: the same image under two names is packed once.
  std::map<std::string, std::shared_ptr<const ImageBlob>> blobs_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace nest::control

#include "control/store_images.h"

#include <sys/stat.h>

#include "absl/strings/str_cat.h"
#include "core/sha256.h"
#include "images/runtime_config.h"
#include "images/subprocess.h"

namespace nest::control {

absl::StatusOr<std::shared_ptr<const ImageBlob>> StoreImageSource::Get(
    const TenantId&, const std::string& name) {
  auto record = store_->Get(name);
  if (!record.ok()) {
    if (absl::IsNotFound(record.status())) {
      return absl::NotFoundError(absl::StrCat(
          "image \"", name, "\" is not imported (nestctl image import ", name,
          " SOURCE)"));
    }
    return record.status();
  }
  {
    absl::MutexLock lock(&mu_);
    auto it = blobs_.find(record->config_digest);
    if (it != blobs_.end()) return it->second;
  }
  if (!record->unpacked) {
    return absl::FailedPreconditionError(
        absl::StrCat("image \"", name, "\" has no unpacked rootfs"));
  }
  // A sorted, owner-numeric, fixed-mtime tar makes the digest depend only on
  // the rootfs, so the guest's cache hits across nestd restarts.
  NEST_ASSIGN_OR_RETURN(
      images::CommandResult tar,
      images::RunChecked({"tar", "--sort=name", "--numeric-owner", "--mtime=@0",
                          "-C", store_->RootfsPath(*record), "-cf", "-", "."}));
  NEST_ASSIGN_OR_RETURN(std::string config_json, store_->ImageConfig(name));
  NEST_ASSIGN_OR_RETURN(images::ImageConfig config,
                        images::ParseImageConfig(config_json));
  auto blob = std::make_shared<ImageBlob>();
  blob->digest = Sha256Digest(tar.out);
  blob->tar = std::move(tar.out);
  blob->entrypoint = config.entrypoint;
  blob->cmd = config.cmd;
  blob->env = config.env;
  blob->cwd = config.working_dir.empty() ? "/" : config.working_dir;
  absl::MutexLock lock(&mu_);
  blobs_[record->config_digest] = blob;
  return blob;
}

absl::StatusOr<ImportedImage> StoreImageSource::Import(
    const TenantId&, const std::string& name, const std::string& source) {
  // "DIR:REF" picks one image of a layout holding several (as skopeo's
  // oci:DIR:REF); a path that exists as given is never split.
  images::ImportOptions options;
  std::string path = source;
  struct stat st;
  if (::stat(source.c_str(), &st) != 0) {
    size_t colon = source.rfind(':');
    if (colon != std::string::npos && colon > 0) {
      path = source.substr(0, colon);
      options.ref = source.substr(colon + 1);
    }
  }
  NEST_ASSIGN_OR_RETURN(images::ImportResult r,
                        store_->Import(path, name, options));
  return ImportedImage{r.image.manifest_digest,
                       static_cast<int64_t>(r.image.size_bytes),
                       static_cast<int>(r.image.layers.size())};
}

absl::Status StoreImageSource::Remove(const TenantId&,
                                      const std::string& name) {
  return store_->Delete(name);
}

}  // namespace nest::control

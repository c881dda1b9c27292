// Reads an image from where skopeo, buildah and podman write one: an OCI
// image layout directory, an `oci-archive` tarball (a layout in a tar) or a
// `docker-archive` tarball. Small documents (index, manifest, config) are
// verified against their digests when the source is opened; layer blobs are
// only located here and are verified by the importer while it streams them.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/status.h"
#include "images/fs.h"

namespace nest::images {

inline constexpr absl::string_view kOciManifestType =
    "application/vnd.oci.image.manifest.v1+json";
inline constexpr absl::string_view kOciConfigType =
    "application/vnd.oci.image.config.v1+json";
inline constexpr absl::string_view kOciLayerTarType =
    "application/vnd.oci.image.layer.v1.tar";
inline constexpr absl::string_view kOciLayerGzipType =
    "application/vnd.oci.image.layer.v1.tar+gzip";

enum class SourceKind { kOciLayout, kOciArchive, kDockerArchive };
absl::string_view SourceKindName(SourceKind k);

// Where a blob's bytes are: a range of an open file.
struct BlobLocation {
  int fd = -1;  // owned by the ImageSource
  uint64_t offset = 0;
  uint64_t size = 0;
  std::string name;  // for messages
};

struct SourceLayer {
  std::string digest;      // expected blob digest; empty for docker-archive
  uint64_t size = 0;       // expected blob size (0: unknown)
  std::string media_type;  // as declared (OCI) or derived (docker-archive)
  std::string diff_id;     // digest of the uncompressed tar (from config)
  BlobLocation where;
};

// An opened, partly verified source. Thread-compatible; keeps its files open.
class ImageSource {
 public:
  // `path` is a layout directory or an archive file (detected). `ref`
  // selects the image when the source holds several: the
  // org.opencontainers.image.ref.name annotation (OCI) or a RepoTag
  // (docker-archive); empty means "the only one".
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ImageSource>> Open(
      const std::string& path, absl::string_view ref);

  SourceKind kind() const { return kind_; }
  // Raw manifest bytes and digest (verified for OCI sources; empty for a
  // docker-archive, whose manifest the importer synthesizes).
  const std::string& manifest() const { return manifest_; }
  const std::string& manifest_digest() const { return manifest_digest_; }
  const std::string& config() const { return config_; }  // verified
  const std::string& config_digest() const { return config_digest_; }
  const std::vector<SourceLayer>& layers() const { return layers_; }

 private:
  class Files;
  ImageSource() = default;
  absl::Status OpenOci(absl::string_view ref);
  absl::Status OpenDocker(absl::string_view ref);

  SourceKind kind_ = SourceKind::kOciLayout;
  std::shared_ptr<Files> files_;
  std::string manifest_, manifest_digest_, config_, config_digest_;
  std::vector<SourceLayer> layers_;
};

// Digest of `n` bytes at a location (pread, streaming).
[[nodiscard]] absl::StatusOr<std::string> HashLocation(const BlobLocation& loc);

}  // namespace nest::images

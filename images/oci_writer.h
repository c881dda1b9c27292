// Writes OCI image layouts: used by tests and benchmarks to generate images
// (including hostile ones) without a registry. Output is deterministic: the
// same layers and config give the same digests.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest::images {

struct OciImageConfig {
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;
  std::string working_dir;
  std::string user;
};

// Builds one image into a layout directory (created if missing; other images
// already in its index.json are kept). Thread-compatible.
class OciLayoutWriter {
 public:
  // `gzip_level` 0 writes uncompressed layers.
  OciLayoutWriter(std::string layout_dir, int gzip_level = 1)
      : dir_(std::move(layout_dir)), level_(gzip_level) {}

  // Adds a layer from an uncompressed tar stream (see TarWriter).
  [[nodiscard]] absl::Status AddLayer(absl::string_view tar);

  // Writes config, manifest and the index entry named `ref`; returns the
  // manifest digest.
  [[nodiscard]] absl::StatusOr<std::string> Finish(
      absl::string_view ref, const OciImageConfig& config);

  // Digests of the layer blobs written so far (tests corrupt them).
  const std::vector<std::string>& layer_digests() const { return layers_; }

 private:
  std::string dir_;
  int level_;
  std::vector<std::string> layers_, diff_ids_;
  std::vector<size_t> sizes_;
};

// gzip-compresses `data` (deterministic header: no name, mtime 0).
[[nodiscard]] absl::StatusOr<std::string> GzipCompress(absl::string_view data,
                                                       int level);

}  // namespace nest::images

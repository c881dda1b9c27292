// The content-addressed image store.
//
// Layout under `root` (the Nest state dir, e.g. /var/lib/nest):
//   images/sha256/<hex>      blobs (manifests, configs, layers), read-only,
//                            named by the sha256 of their bytes
//   images/rootfs/<hex>/     unpacked rootfs of an image, named by the hex
//                            of its config digest (which pins every diff_id)
//   images/index.json        named images -> digests (replaced atomically)
//   images/tmp/              staging; anything here is garbage
//   images/.lock             flock: one writer (import/delete/gc) at a time
//
// Guarantees:
//  * A blob appears under sha256/ only after its bytes were hashed and
//    matched, and after fsync; an image appears in index.json only after all
//    its blobs (and its rootfs, when unpacked) are in place. So a crash at
//    any point leaves no visible half-imported image; leftovers are
//    unreferenced and removed by Gc().
//  * A failed import removes the blobs it added: nothing is left behind.
//  * A blob's reference count is the number of named images using it; Gc()
//    deletes blobs and rootfs trees with no reference.
//
// Thread-safety: all methods are thread-safe. Writers (Import, Delete, Gc)
// are serialized across threads and processes by the lock file; readers
// (List, Get, ...) read index.json without locking since it is replaced
// atomically.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/status.h"

namespace nest::images {

struct ImageRecord {
  std::string name;
  std::string manifest_digest;
  std::string config_digest;
  std::vector<std::string> layers;  // layer blob digests, bottom first
  uint64_t size_bytes = 0;          // sum of blob sizes
  std::string source_kind;          // "oci layout", "oci-archive", ...
  bool unpacked = false;            // rootfs present under images/rootfs/

  std::vector<std::string> Blobs() const;  // manifest, config and layers
};

struct ImportOptions {
  // Selects the image in a source holding several (see ImageSource::Open).
  std::string ref;
  // Also unpack the rootfs into images/rootfs/ (the host-side cache).
  bool unpack = true;
  // Called between steps ("verified manifest", "layer 2/5", ...). A non-OK
  // return aborts the import (cancellation); the store is left clean.
  std::function<absl::Status(absl::string_view step)> progress;
};

struct ImportResult {
  ImageRecord image;
  bool already_present = false;  // nothing was copied or unpacked
  uint64_t bytes_copied = 0;     // blob bytes newly written to the store
};

struct GcResult {
  int blobs_removed = 0;
  uint64_t bytes_freed = 0;
  int rootfs_removed = 0;
};

class ImageStore {
 public:
  // Creates the layout under `root` if needed.
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<ImageStore>> Open(
      const std::string& root);

  // Imports the image at `source` (OCI layout dir, oci-archive or
  // docker-archive) under `name` (a DNS label, see core/validate.h). An
  // image whose config digest is already stored is not copied again; the
  // name is just (re)bound. Rebinding a name to another image leaves the old
  // one's blobs unreferenced until Gc().
  [[nodiscard]] absl::StatusOr<ImportResult> Import(
      const std::string& source, absl::string_view name,
      const ImportOptions& options = {});

  [[nodiscard]] absl::StatusOr<std::vector<ImageRecord>> List() const;
  [[nodiscard]] absl::StatusOr<ImageRecord> Get(absl::string_view name) const;
  // Removes the name; its blobs are freed by the next Gc().
  [[nodiscard]] absl::Status Delete(absl::string_view name);
  [[nodiscard]] absl::StatusOr<GcResult> Gc();

  // Number of named images referencing each stored blob (blobs with no
  // reference appear with 0).
  [[nodiscard]] absl::StatusOr<std::map<std::string, int>> RefCounts() const;

  // Reads a blob and checks its digest.
  [[nodiscard]] absl::StatusOr<std::string> ReadBlob(
      absl::string_view digest) const;
  // The image config JSON of a named image.
  [[nodiscard]] absl::StatusOr<std::string> ImageConfig(
      absl::string_view name) const;

  // Unpacks the named image's layers from the store (verifying each blob
  // again) into `dest`, which must not exist yet; written to a sibling
  // staging dir and renamed, so `dest` is complete or absent.
  [[nodiscard]] absl::Status UnpackTo(absl::string_view name,
                                      const std::string& dest) const;

  const std::string& root() const { return root_; }
  std::string BlobPath(absl::string_view digest) const;
  std::string RootfsPath(const ImageRecord& image) const;

 private:
  explicit ImageStore(std::string root);
  class WriterLock;
  absl::StatusOr<std::map<std::string, ImageRecord>> LoadIndex() const;
  absl::Status SaveIndex(const std::map<std::string, ImageRecord>& index);

  const std::string root_;
  const std::string dir_;  // root_ + "/images"
  absl::Mutex mu_;         // serializes writers inside this process
};

}  // namespace nest::images

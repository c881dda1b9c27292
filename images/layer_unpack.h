// Applies OCI layers (uncompressed tar streams) to a rootfs directory.
//
// Security contract: every entry is checked before anything is written.
// Refused, with an error naming the entry: absolute paths, any ".."
// component, character and block devices, sparse and unknown entry types,
// hard links whose target is outside the rootfs, and any entry whose parent
// path goes through a symlink (so a layer cannot write outside the rootfs
// by planting `a -> /etc` and then `a/passwd`). Symlinks themselves may
// point anywhere: they are stored, never followed here.
//
// Whiteouts follow the OCI image spec: `.wh.NAME` deletes NAME from lower
// layers; `.wh..wh..opq` hides every lower-layer child of its directory.
#pragma once

#include <cstdint>

#include "core/status.h"
#include "images/byte_source.h"

namespace nest::images {

struct UnpackOptions {
  // chown entries to the uid/gid recorded in the layer; only possible as
  // root. When false, files belong to the caller.
  bool preserve_owner = false;
};

struct UnpackStats {
  uint64_t entries = 0;
  uint64_t file_bytes = 0;
};

// Reads one uncompressed layer tar from `tar_stream` (up to its end-of-
// archive marker) and applies it to the directory open at `root_fd`.
// On error the rootfs is left partly written: callers unpack into a staging
// directory and discard it. Thread-compatible; `stats` may be null.
[[nodiscard]] absl::Status ApplyLayer(ByteSource& tar_stream, int root_fd,
                                      const UnpackOptions& options,
                                      UnpackStats* stats);

// Default options for this process (preserve_owner when running as root).
UnpackOptions DefaultUnpackOptions();

}  // namespace nest::images

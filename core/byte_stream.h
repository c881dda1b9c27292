// A bidirectional byte stream. vmm/ implements it over a libvirt stream
// (virDomainOpenChannel); tests implement it over a socketpair. agent/ speaks
// its protocol over this interface and never sees libvirt.
#pragma once

#include <cstddef>
#include <memory>

#include "absl/time/time.h"
#include "core/status.h"

namespace nest {

class ByteStream {
 public:
  virtual ~ByteStream() = default;

  // Reads up to `size` bytes, blocking until at least one byte arrives, the
  // deadline passes (DEADLINE_EXCEEDED), or the peer closes (returns 0).
  // At most one reader at a time.
  virtual absl::StatusOr<size_t> Read(void* buf, size_t size,
                                      absl::Time deadline) = 0;

  // Writes all `size` bytes or fails. At most one writer at a time; a reader
  // and a writer may run concurrently.
  virtual absl::Status Write(const void* buf, size_t size) = 0;

  // Closes both directions; wakes a blocked Read. Idempotent.
  virtual void Close() = 0;
};

// A ByteStream over a connected file descriptor (socketpair, unix socket,
// character device). Takes ownership of `fd`.
std::unique_ptr<ByteStream> FdByteStream(int fd);

}  // namespace nest

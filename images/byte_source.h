// Pull-based byte streams that are chained to import a layer in one pass:
// file range -> sha256 (+ copy into the store) -> gunzip -> sha256 -> tar.
// Each source is thread-compatible and borrows the source it wraps, which
// must outlive it.
#pragma once

#include <zlib.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "core/status.h"
#include "core/sha256.h"

namespace nest::images {

class ByteSource {
 public:
  virtual ~ByteSource() = default;
  // Reads up to `n` bytes into `buf`; returns 0 only at the end.
  [[nodiscard]] virtual absl::StatusOr<size_t> Read(char* buf, size_t n) = 0;
  // Discards exactly `n` bytes (error if the stream is shorter). Sources
  // that can seek override this; the default reads.
  [[nodiscard]] virtual absl::Status Skip(uint64_t n);
};

// Reads until the end and discards; returns the number of bytes skipped.
[[nodiscard]] absl::StatusOr<uint64_t> Drain(ByteSource& src);

// `size` bytes of an open file starting at `offset`, read with pread so
// several ranges of one file (an archive) can be read independently.
class FileRangeSource : public ByteSource {
 public:
  FileRangeSource(int fd, uint64_t offset, uint64_t size, std::string name)
      : fd_(fd), pos_(offset), left_(size), name_(std::move(name)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override;
  absl::Status Skip(uint64_t n) override;

 private:
  int fd_;
  uint64_t pos_;
  uint64_t left_;
  std::string name_;
};

// An in-memory buffer (tests, small documents).
class StringSource : public ByteSource {
 public:
  explicit StringSource(std::string data) : data_(std::move(data)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override;

 private:
  std::string data_;
  size_t pos_ = 0;
};

// Passes bytes through while hashing them and, when `tee_fd` >= 0, writing
// them to that file too (how a blob is copied into the store while it is
// being unpacked).
class HashingSource : public ByteSource {
 public:
  HashingSource(ByteSource& inner, int tee_fd = -1, std::string tee_name = "")
      : inner_(inner), tee_fd_(tee_fd), tee_name_(std::move(tee_name)) {}
  absl::StatusOr<size_t> Read(char* buf, size_t n) override;
  uint64_t bytes() const { return bytes_; }
  // "sha256:<hex>" of everything read so far; call once, at the end.
  std::string FinishDigest() { return hash_.FinishDigest(); }

 private:
  ByteSource& inner_;
  int tee_fd_;
  std::string tee_name_;
  Sha256 hash_;
  uint64_t bytes_ = 0;
};

// Decompresses a gzip stream (one or more concatenated members).
class GzipSource : public ByteSource {
 public:
  explicit GzipSource(ByteSource& inner, std::string name);
  ~GzipSource() override;
  GzipSource(const GzipSource&) = delete;
  GzipSource& operator=(const GzipSource&) = delete;
  absl::StatusOr<size_t> Read(char* buf, size_t n) override;

 private:
  ByteSource& inner_;
  std::string name_;
  z_stream z_{};
  std::vector<char> in_;
  bool input_eof_ = false;
  bool member_done_ = false;
  bool done_ = false;
};

enum class Compression { kNone, kGzip, kZstd };

// Looks at the first bytes of a blob.
Compression DetectCompression(const char* head, size_t n);

}  // namespace nest::images

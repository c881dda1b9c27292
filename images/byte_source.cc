#include "images/byte_source.h"

#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "images/fs.h"

namespace nest::images {

absl::StatusOr<uint64_t> Drain(ByteSource& src) {
  std::vector<char> buf(1 << 20);
  uint64_t total = 0;
  for (;;) {
    NEST_ASSIGN_OR_RETURN(size_t n, src.Read(buf.data(), buf.size()));
    if (n == 0) return total;
    total += n;
  }
}

absl::Status ByteSource::Skip(uint64_t n) {
  std::vector<char> buf(static_cast<size_t>(std::min<uint64_t>(n, 1 << 20)));
  while (n > 0) {
    size_t want = static_cast<size_t>(std::min<uint64_t>(n, buf.size()));
    NEST_ASSIGN_OR_RETURN(size_t got, Read(buf.data(), want));
    if (got == 0) return absl::DataLossError("stream ends early");
    n -= got;
  }
  return absl::OkStatus();
}

absl::Status FileRangeSource::Skip(uint64_t n) {
  if (n > left_) {
    return absl::DataLossError(absl::StrCat(name_, " is truncated"));
  }
  pos_ += n;
  left_ -= n;
  return absl::OkStatus();
}

absl::StatusOr<size_t> FileRangeSource::Read(char* buf, size_t n) {
  if (left_ == 0) return 0;
  if (n > left_) n = static_cast<size_t>(left_);
  for (;;) {
    ssize_t r = ::pread(fd_, buf, n, static_cast<off_t>(pos_));
    if (r < 0 && errno == EINTR) continue;
    if (r < 0) return ErrnoStatus(errno, "read", name_);
    if (r == 0) {
      return absl::DataLossError(
          absl::StrCat(name_, " is truncated: ", left_, " bytes missing"));
    }
    pos_ += static_cast<uint64_t>(r);
    left_ -= static_cast<uint64_t>(r);
    return static_cast<size_t>(r);
  }
}

absl::StatusOr<size_t> StringSource::Read(char* buf, size_t n) {
  n = std::min(n, data_.size() - pos_);
  std::memcpy(buf, data_.data() + pos_, n);
  pos_ += n;
  return n;
}

absl::StatusOr<size_t> HashingSource::Read(char* buf, size_t n) {
  NEST_ASSIGN_OR_RETURN(size_t got, inner_.Read(buf, n));
  if (got > 0) {
    hash_.Update(buf, got);
    bytes_ += got;
    if (tee_fd_ >= 0)
      NEST_RETURN_IF_ERROR(WriteAll(tee_fd_, buf, got, tee_name_));
  }
  return got;
}

GzipSource::GzipSource(ByteSource& inner, std::string name)
    : inner_(inner), name_(std::move(name)), in_(1 << 20) {
  // 16 + MAX_WBITS: gzip framing only, so a raw zlib stream is rejected.
  inflateInit2(&z_, 16 + MAX_WBITS);
}

GzipSource::~GzipSource() { inflateEnd(&z_); }

absl::StatusOr<size_t> GzipSource::Read(char* buf, size_t n) {
  if (done_ || n == 0) return 0;
  z_.next_out = reinterpret_cast<Bytef*>(buf);
  z_.avail_out = static_cast<uInt>(std::min<size_t>(n, 1u << 30));
  while (z_.avail_out > 0) {
    if (z_.avail_in == 0 && !input_eof_) {
      NEST_ASSIGN_OR_RETURN(size_t got, inner_.Read(in_.data(), in_.size()));
      if (got == 0) {
        input_eof_ = true;
      } else {
        z_.next_in = reinterpret_cast<Bytef*>(in_.data());
        z_.avail_in = static_cast<uInt>(got);
      }
    }
    if (member_done_) {
      // Another gzip member may follow (pigz and some tools concatenate).
      if (z_.avail_in == 0 && input_eof_) {
        done_ = true;
        break;
      }
      if (z_.avail_in == 0) continue;
      inflateReset(&z_);
      member_done_ = false;
    }
    if (z_.avail_in == 0 && input_eof_) {
      return absl::DataLossError(
          absl::StrCat(name_, ": gzip stream ends early (truncated blob)"));
    }
    int rc = inflate(&z_, Z_NO_FLUSH);
    if (rc == Z_STREAM_END) {
      member_done_ = true;
      // Stop here if we produced something, so callers see data promptly.
      if (z_.avail_out < n) break;
      continue;
    }
    if (rc != Z_OK && rc != Z_BUF_ERROR) {
      return absl::DataLossError(absl::StrCat(
          name_, ": invalid gzip data: ", z_.msg ? z_.msg : "inflate failed"));
    }
  }
  return n - z_.avail_out;
}

Compression DetectCompression(const char* head, size_t n) {
  const auto* u = reinterpret_cast<const unsigned char*>(head);
  if (n >= 2 && u[0] == 0x1f && u[1] == 0x8b) return Compression::kGzip;
  if (n >= 4 && u[0] == 0x28 && u[1] == 0xb5 && u[2] == 0x2f && u[3] == 0xfd)
    return Compression::kZstd;
  return Compression::kNone;
}

}  // namespace nest::images

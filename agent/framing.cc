#include "agent/framing.h"

#include <cstring>

#include "absl/strings/str_cat.h"

namespace nest::agent {
namespace {

constexpr char kMagic[4] = {'N', 'E', 'S', 'T'};

uint32_t LoadBigEndian32(const char* p) {
  const auto* u = reinterpret_cast<const unsigned char*>(p);
  return (uint32_t{u[0]} << 24) | (uint32_t{u[1]} << 16) |
         (uint32_t{u[2]} << 8) | uint32_t{u[3]};
}

}  // namespace

absl::StatusOr<std::string> EncodeFrame(const v1::Frame& frame) {
  size_t size = frame.ByteSizeLong();
  if (size > kMaxFrameBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat("frame payload must be at most ", kMaxFrameBytes,
                     " bytes, got ", size));
  }
  std::string out(kFrameHeaderBytes + size, '\0');
  std::memcpy(out.data(), kMagic, 4);
  out[4] = static_cast<char>((size >> 24) & 0xff);
  out[5] = static_cast<char>((size >> 16) & 0xff);
  out[6] = static_cast<char>((size >> 8) & 0xff);
  out[7] = static_cast<char>(size & 0xff);
  if (!frame.SerializeToArray(out.data() + kFrameHeaderBytes,
                              static_cast<int>(size))) {
    return absl::InternalError("frame serialization failed");
  }
  return out;
}

absl::Status WriteFrame(ByteStream& stream, const v1::Frame& frame) {
  NEST_ASSIGN_OR_RETURN(std::string bytes, EncodeFrame(frame));
  return stream.Write(bytes.data(), bytes.size());
}

bool FrameReader::TryParse(v1::Frame* frame, Result* result) {
  size_t avail = buf_.size() - start_;
  if (avail == 0) return false;
  const char* p = buf_.data() + start_;
  // Resynchronise on the magic: everything before it is garbage.
  size_t check = std::min<size_t>(avail, 4);
  if (std::memcmp(p, kMagic, check) != 0) {
    size_t skip = 1;
    while (skip < avail) {
      size_t n = std::min<size_t>(avail - skip, 4);
      if (std::memcmp(p + skip, kMagic, n) == 0) break;
      ++skip;
    }
    start_ += skip;
    error_ = absl::StrCat("skipped ", skip,
                          " bytes that do not start a frame (expected magic "
                          "\"NEST\")");
    *result = Result::kMalformed;
    return true;
  }
  if (avail < kFrameHeaderBytes) return false;
  uint32_t len = LoadBigEndian32(p + 4);
  if (len > kMaxFrameBytes) {
    // Drop only the magic so a real frame hidden behind it is still found.
    start_ += 4;
    error_ = absl::StrCat("frame length must be at most ", kMaxFrameBytes,
                          " bytes, got ", len);
    *result = Result::kMalformed;
    return true;
  }
  if (avail < kFrameHeaderBytes + len) return false;
  bool ok = frame->ParseFromArray(p + kFrameHeaderBytes, static_cast<int>(len));
  start_ += kFrameHeaderBytes + len;
  if (!ok) {
    error_ = absl::StrCat("frame payload of ", len,
                          " bytes is not a valid nest.agent.v1.Frame");
    *result = Result::kMalformed;
  } else {
    *result = Result::kFrame;
  }
  return true;
}

absl::StatusOr<FrameReader::Result> FrameReader::Next(v1::Frame* frame,
                                                      absl::Time deadline) {
  for (;;) {
    Result result;
    if (TryParse(frame, &result)) return result;
    // Compact before reading more so the buffer stays bounded by one frame.
    if (start_ > 0) {
      buf_.erase(0, start_);
      start_ = 0;
    }
    char chunk[64 * 1024];
    NEST_ASSIGN_OR_RETURN(size_t n,
                          stream_.Read(chunk, sizeof(chunk), deadline));
    if (n == 0) return Result::kClosed;
    buf_.append(chunk, n);
  }
}

}  // namespace nest::agent

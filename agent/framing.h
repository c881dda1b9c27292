// Frames of the agent protocol over a ByteStream:
//
//   "NEST" (4 bytes) | payload length (uint32 big endian) | payload
//
// The payload is a serialized nest.agent.v1.Frame. A length above
// kMaxFrameBytes is rejected; the magic lets the reader skip garbage and
// resynchronise instead of dropping the connection.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "absl/time/time.h"
#include "core/byte_stream.h"
#include "core/status.h"
#include "nest/agent/v1/agent.pb.h"

namespace nest::agent {

inline constexpr size_t kFrameHeaderBytes = 8;
// Room for a container's files (at most 4 MiB, core/container_files.h) and
// the rest of its spec in one CreateContainer request.
inline constexpr uint32_t kMaxFrameBytes = 8 << 20;
// Image uploads and log streams are cut into chunks of at most this size so
// a frame always fits.
inline constexpr size_t kMaxChunkBytes = 1 << 20;

// Serializes `frame` with its header. Fails if it would exceed
// kMaxFrameBytes.
[[nodiscard]] absl::StatusOr<std::string> EncodeFrame(const v1::Frame& frame);

// Writes one frame. Not synchronised: callers serialise writers.
[[nodiscard]] absl::Status WriteFrame(ByteStream& stream,
                                      const v1::Frame& frame);

// Reads frames from a stream, buffering split and merged reads.
// Thread-compatible: one reader thread.
class FrameReader {
 public:
  explicit FrameReader(ByteStream& stream) : stream_(stream) {}

  enum class Result {
    kFrame,      // *frame is set
    kMalformed,  // framing or parse error, skipped; see error()
    kClosed,     // the peer closed the stream
  };

  // Blocks until a frame, a skipped malformed frame, the peer's close, or a
  // stream error (returned as a status: DEADLINE_EXCEEDED, CANCELLED, ...).
  [[nodiscard]] absl::StatusOr<Result> Next(v1::Frame* frame,
                                            absl::Time deadline);

  // Why the last kMalformed result happened.
  const std::string& error() const { return error_; }

 private:
  // Tries to cut one frame from buf_. Returns nullopt-like false when more
  // bytes are needed.
  bool TryParse(v1::Frame* frame, Result* result);

  ByteStream& stream_;
  std::string buf_;
  size_t start_ = 0;
  std::string error_;
};

}  // namespace nest::agent

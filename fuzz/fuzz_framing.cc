// The agent's frame reader on hostile bytes: it always ends (every result
// consumes input), never yields a frame above kMaxFrameBytes, yields the same
// frames however the bytes are split across reads (only the number of
// "skipped garbage" reports may differ), and every frame it
// yields encodes and decodes to itself. Decoded requests then go through the
// same translation and validation the guest runs.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "absl/time/clock.h"
#include "agent/convert.h"
#include "agent/framing.h"
#include "agent/validation.h"
#include "fuzz/check.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/message_differencer.h"

namespace {

using nest::agent::FrameReader;
using nest::agent::v1::Frame;

// Serves `bytes` in reads of at most `chunk` bytes, then reports close.
class SplitStream : public nest::ByteStream {
 public:
  SplitStream(std::string bytes, size_t chunk)
      : bytes_(std::move(bytes)), chunk_(chunk) {}

  absl::StatusOr<size_t> Read(void* buf, size_t size, absl::Time) override {
    size_t n = std::min({size, chunk_, bytes_.size() - pos_});
    std::memcpy(buf, bytes_.data() + pos_, n);
    pos_ += n;
    return n;
  }
  absl::Status Write(const void*, size_t) override {
    return absl::UnimplementedError("read-only stream");
  }
  void Close() override {}

 private:
  std::string bytes_;
  size_t chunk_;
  size_t pos_ = 0;
};

struct Outcome {
  FrameReader::Result result;
  Frame frame;  // when result is kFrame
};

std::vector<Outcome> ReadAll(const std::string& bytes, size_t chunk) {
  SplitStream stream(bytes, chunk);
  FrameReader reader(stream);
  std::vector<Outcome> out;
  for (;;) {
    Outcome o;
    absl::StatusOr<FrameReader::Result> r =
        reader.Next(&o.frame, absl::InfiniteFuture());
    FUZZ_CHECK(r.ok());  // the stream itself never fails
    o.result = *r;
    if (o.result == FrameReader::Result::kClosed) break;
    if (o.result == FrameReader::Result::kMalformed) {
      FUZZ_CHECK(!reader.error().empty());
      o.frame.Clear();
    }
    out.push_back(std::move(o));
    // Each frame or skip consumes at least one byte, so this bounds the loop.
    FUZZ_CHECK(out.size() <= bytes.size());
  }
  return out;
}

std::vector<Frame> FramesOf(const std::vector<Outcome>& outcomes) {
  std::vector<Frame> frames;
  for (const Outcome& o : outcomes) {
    if (o.result == FrameReader::Result::kFrame) frames.push_back(o.frame);
  }
  return frames;
}

bool SameFrame(const Frame& a, const Frame& b) {
  return google::protobuf::util::MessageDifferencer::Equals(a, b);
}

// What the guest does with a decoded request: translate and validate.
void Translate(const Frame& frame) {
  if (frame.has_request() && frame.request().has_create_container()) {
    nest::agent::ContainerSpec spec =
        nest::agent::FromProto(frame.request().create_container());
    absl::Status valid = nest::agent::ValidateSpec(spec);
    nest::agent::v1::CreateContainerRequest once, twice;
    nest::agent::ToProto(spec, &once);
    nest::agent::ToProto(nest::agent::FromProto(once), &twice);
    FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(once, twice));
    FUZZ_CHECK(nest::agent::ValidateSpec(nest::agent::FromProto(once)).ok() ==
               valid.ok());
  }
  if (frame.has_response()) {
    absl::Status s = nest::agent::FromProto(frame.response().status());
    (void)s.ToString();
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Invalid UTF-8 in string fields makes parsing fail (a malformed frame, as
  // checked) and protobuf log a line each time, which only slows the run.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  // The first byte picks how reads are split; the rest is the stream.
  size_t chunk = data[0] == 0 ? 1 : data[0];
  std::string bytes(reinterpret_cast<const char*>(data) + 1, size - 1);

  std::vector<Frame> split = FramesOf(ReadAll(bytes, chunk));
  std::vector<Outcome> whole = ReadAll(bytes, bytes.size() + 1);
  std::vector<Frame> whole_frames = FramesOf(whole);
  FUZZ_CHECK(split.size() == whole_frames.size());
  for (size_t i = 0; i < split.size(); ++i) {
    FUZZ_CHECK(SameFrame(split[i], whole_frames[i]));
  }

  for (const Outcome& o : whole) {
    if (o.result != FrameReader::Result::kFrame) continue;
    FUZZ_CHECK(o.frame.ByteSizeLong() <= nest::agent::kMaxFrameBytes);
    absl::StatusOr<std::string> encoded = nest::agent::EncodeFrame(o.frame);
    FUZZ_CHECK(encoded.ok());
    FUZZ_CHECK(encoded->size() <=
               nest::agent::kFrameHeaderBytes + nest::agent::kMaxFrameBytes);
    std::vector<Outcome> again = ReadAll(*encoded, encoded->size());
    FUZZ_CHECK(again.size() == 1 &&
               again[0].result == FrameReader::Result::kFrame &&
               SameFrame(again[0].frame, o.frame));
    Translate(o.frame);
  }
  return 0;
}

#include "agent/framing.h"

#include <cstring>
#include <deque>

#include "doctest/doctest.h"
#include "test_util.h"

namespace nest::agent {
namespace {

using testing::StreamPair;

// Delivers scripted reads: each Read returns at most one scripted piece, so
// a test controls exactly where the bytes are split.
class ScriptedStream : public ByteStream {
 public:
  explicit ScriptedStream(std::deque<std::string> pieces)
      : pieces_(std::move(pieces)) {}
  absl::StatusOr<size_t> Read(void* buf, size_t size, absl::Time) override {
    if (pieces_.empty()) return 0;
    std::string& p = pieces_.front();
    size_t n = std::min(size, p.size());
    std::memcpy(buf, p.data(), n);
    p.erase(0, n);
    if (p.empty()) pieces_.pop_front();
    return n;
  }
  absl::Status Write(const void*, size_t) override { return absl::OkStatus(); }
  void Close() override {}

 private:
  std::deque<std::string> pieces_;
};

v1::Frame HelloFrame(uint64_t rid) {
  v1::Frame f;
  f.set_request_id(rid);
  f.mutable_request()->mutable_hello()->set_client("test");
  return f;
}

std::string Encoded(const v1::Frame& f) {
  absl::StatusOr<std::string> s = EncodeFrame(f);
  REQUIRE(s.ok());
  return *s;
}

std::string Header(uint32_t len) {
  std::string h = "NEST";
  h += static_cast<char>(len >> 24);
  h += static_cast<char>((len >> 16) & 0xff);
  h += static_cast<char>((len >> 8) & 0xff);
  h += static_cast<char>(len & 0xff);
  return h;
}

TEST_CASE("frames survive being split into single bytes") {
  std::string bytes = Encoded(HelloFrame(7));
  std::deque<std::string> pieces;
  for (char c : bytes) pieces.push_back(std::string(1, c));
  ScriptedStream s(pieces);
  FrameReader r(s);
  v1::Frame f;
  auto res = r.Next(&f, absl::InfiniteFuture());
  REQUIRE(res.ok());
  CHECK(*res == FrameReader::Result::kFrame);
  CHECK(f.request_id() == 7);
  CHECK(f.request().hello().client() == "test");
  res = r.Next(&f, absl::InfiniteFuture());
  REQUIRE(res.ok());
  CHECK(*res == FrameReader::Result::kClosed);
}

TEST_CASE("several frames merged into one read are all returned") {
  std::string bytes =
      Encoded(HelloFrame(1)) + Encoded(HelloFrame(2)) + Encoded(HelloFrame(3));
  ScriptedStream s({bytes});
  FrameReader r(s);
  for (uint64_t want = 1; want <= 3; ++want) {
    v1::Frame f;
    auto res = r.Next(&f, absl::InfiniteFuture());
    REQUIRE(res.ok());
    REQUIRE(*res == FrameReader::Result::kFrame);
    CHECK(f.request_id() == want);
  }
}

TEST_CASE("an oversized length is rejected and the next frame still parses") {
  ScriptedStream s({Header(kMaxFrameBytes + 1) + Encoded(HelloFrame(9))});
  FrameReader r(s);
  v1::Frame f;
  auto res = r.Next(&f, absl::InfiniteFuture());
  REQUIRE(res.ok());
  CHECK(*res == FrameReader::Result::kMalformed);
  CHECK(r.error().find("at most") != std::string::npos);
  // The 4 length bytes are skipped as garbage, then the real frame.
  bool got = false;
  for (int i = 0; i < 4 && !got; ++i) {
    res = r.Next(&f, absl::InfiniteFuture());
    REQUIRE(res.ok());
    got = *res == FrameReader::Result::kFrame;
  }
  CHECK(got);
  CHECK(f.request_id() == 9);
}

TEST_CASE("garbage bytes are skipped up to the next magic") {
  ScriptedStream s({"\x01\x02garbageNES", "xx" + Encoded(HelloFrame(5))});
  FrameReader r(s);
  v1::Frame f;
  int malformed = 0;
  for (;;) {
    auto res = r.Next(&f, absl::InfiniteFuture());
    REQUIRE(res.ok());
    REQUIRE(*res != FrameReader::Result::kClosed);
    if (*res == FrameReader::Result::kFrame) break;
    ++malformed;
  }
  CHECK(malformed >= 1);
  CHECK(f.request_id() == 5);
}

TEST_CASE("a payload that is not a Frame is reported as malformed") {
  std::string junk(16, '\xff');
  ScriptedStream s({Header(16) + junk + Encoded(HelloFrame(4))});
  FrameReader r(s);
  v1::Frame f;
  auto res = r.Next(&f, absl::InfiniteFuture());
  REQUIRE(res.ok());
  CHECK(*res == FrameReader::Result::kMalformed);
  CHECK(r.error().find("not a valid") != std::string::npos);
  res = r.Next(&f, absl::InfiniteFuture());
  REQUIRE(res.ok());
  CHECK(*res == FrameReader::Result::kFrame);
  CHECK(f.request_id() == 4);
}

TEST_CASE("EncodeFrame refuses a payload above the maximum") {
  v1::Frame f;
  f.mutable_request()->mutable_put_image()->set_data(
      std::string(kMaxFrameBytes + 1, 'x'));
  absl::StatusOr<std::string> s = EncodeFrame(f);
  CHECK(absl::IsInvalidArgument(s.status()));
}

TEST_CASE("a read deadline surfaces as DEADLINE_EXCEEDED") {
  auto [a, b] = StreamPair();
  FrameReader r(*a);
  v1::Frame f;
  auto res = r.Next(&f, absl::Now() + absl::Milliseconds(20));
  CHECK(absl::IsDeadlineExceeded(res.status()));
}

}  // namespace
}  // namespace nest::agent

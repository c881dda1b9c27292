#include <sys/socket.h>

#include <thread>

#include "absl/time/clock.h"
#include "core/byte_stream.h"
#include "doctest/doctest.h"

namespace nest {
namespace {

struct Pair {
  std::unique_ptr<ByteStream> a, b;
};

Pair MakePair() {
  int fds[2];
  REQUIRE(socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds) == 0);
  return {FdByteStream(fds[0]), FdByteStream(fds[1])};
}

TEST_CASE("bytes flow both ways") {
  Pair p = MakePair();
  REQUIRE(p.a->Write("ping", 4).ok());
  char buf[16];
  auto n = p.b->Read(buf, sizeof(buf), absl::Now() + absl::Seconds(5));
  REQUIRE(n.ok());
  CHECK(std::string(buf, *n) == "ping");
  REQUIRE(p.b->Write("pong", 4).ok());
  n = p.a->Read(buf, sizeof(buf), absl::Now() + absl::Seconds(5));
  REQUIRE(n.ok());
  CHECK(std::string(buf, *n) == "pong");
}

TEST_CASE("read honours its deadline") {
  Pair p = MakePair();
  char buf[4];
  auto n = p.a->Read(buf, sizeof(buf), absl::Now() + absl::Milliseconds(20));
  CHECK(n.status().code() == absl::StatusCode::kDeadlineExceeded);
}

TEST_CASE("peer close reads as end of stream") {
  Pair p = MakePair();
  p.b.reset();
  char buf[4];
  auto n = p.a->Read(buf, sizeof(buf), absl::Now() + absl::Seconds(5));
  REQUIRE(n.ok());
  CHECK(*n == 0);
}

TEST_CASE("Close wakes a blocked reader") {
  Pair p = MakePair();
  absl::Status result;
  std::thread reader([&] {
    char buf[4];
    result = p.a->Read(buf, sizeof(buf), absl::InfiniteFuture()).status();
  });
  p.a->Close();
  reader.join();
  CHECK(result.code() == absl::StatusCode::kCancelled);
  CHECK(p.a->Write("x", 1).code() == absl::StatusCode::kCancelled);
}

}  // namespace
}  // namespace nest

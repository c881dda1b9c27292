#include "agent/log_file.h"

#include <filesystem>

#include "doctest/doctest.h"
#include "test_util.h"

namespace nest::agent {
namespace {

TEST_CASE("logs rotate and keep at most two files of max size") {
  testing::TempDir tmp;
  std::string path = tmp.path() + "/out.log";
  RotatingLog log(path, 10);
  for (int i = 0; i < 5; ++i) REQUIRE(log.Append("0123456789").ok());
  REQUIRE(log.Append("abc").ok());
  CHECK(std::filesystem::file_size(path) == 3);
  CHECK(std::filesystem::file_size(path + ".1") == 10);
  auto all = ReadLog(path, 0);
  REQUIRE(all.ok());
  CHECK(*all == "0123456789abc");
  auto tail = ReadLog(path, 5);
  REQUIRE(tail.ok());
  CHECK(*tail == "89abc");
  uint64_t end = 0;
  auto t2 = ReadLog(path, 2, &end);
  REQUIRE(t2.ok());
  CHECK(*t2 == "bc");
  CHECK(end == 3);
}

TEST_CASE("one append larger than the limit is split across rotations") {
  testing::TempDir tmp;
  std::string path = tmp.path() + "/out.log";
  RotatingLog log(path, 4);
  REQUIRE(log.Append("abcdefghij").ok());
  auto all = ReadLog(path, 0);
  REQUIRE(all.ok());
  CHECK(*all == "efghij");  // the oldest 4 bytes were rotated out
}

TEST_CASE("ReadLogFrom follows growth and restarts after rotation") {
  testing::TempDir tmp;
  std::string path = tmp.path() + "/out.log";
  RotatingLog log(path, 8);
  uint64_t off = 0;
  std::string out;
  REQUIRE(ReadLogFrom(path, &off, 100, &out).ok());  // missing: empty
  CHECK(out.empty());
  REQUIRE(log.Append("12345").ok());
  REQUIRE(ReadLogFrom(path, &off, 100, &out).ok());
  CHECK(out == "12345");
  REQUIRE(log.Append("678").ok());
  REQUIRE(log.Append("9").ok());  // rotates: the new file holds "9"
  REQUIRE(ReadLogFrom(path, &off, 100, &out).ok());
  CHECK(out == "123459");
}

}  // namespace
}  // namespace nest::agent

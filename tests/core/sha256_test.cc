#include "core/sha256.h"
#include "core/secure_random.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <set>
#include <string>

#include "doctest/doctest.h"

namespace nest {
namespace {

TEST_CASE("sha256 known answers (FIPS 180-2 vectors)") {
  CHECK(Sha256Hex("") ==
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(Sha256Hex("abc") ==
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(Sha256Hex(std::string(1000, 'a')) ==
        "41edece42d63e8d9bf515a9ba6932e1c20cbc9f5a5d134645adb5db1b9737ea3");
  CHECK(Sha256Digest("abc") ==
        "sha256:"
        "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_CASE("sha256 streaming equals one shot, whatever the split") {
  std::string data;
  for (int i = 0; i < 300; ++i) data.push_back(static_cast<char>(i * 7));
  for (size_t split : {size_t{0}, size_t{1}, size_t{63}, size_t{64}, size_t{65},
                       size_t{299}, size_t{300}}) {
    Sha256 h;
    h.Update(data.data(), split);
    h.Update(data.data() + split, data.size() - split);
    CHECK(h.FinishHex() == Sha256Hex(data));
  }
}

TEST_CASE("sha256 of a file, and of a missing one") {
  char path[] = "/tmp/nest-sha256-XXXXXX";
  int fd = ::mkstemp(path);
  REQUIRE(fd >= 0);
  std::string content(200000, 'x');
  REQUIRE(::write(fd, content.data(), content.size()) ==
          static_cast<ssize_t>(content.size()));
  ::close(fd);
  auto got = Sha256FileHex(path);
  ::unlink(path);
  REQUIRE(got.ok());
  CHECK(*got == Sha256Hex(content));
  auto missing = Sha256FileHex(path);
  CHECK(absl::IsNotFound(missing.status()));
}

TEST_CASE("digest strings: validation names the field") {
  std::string good = Sha256Digest("x");
  CHECK(ValidateDigest("image.digest", good).ok());
  CHECK(DigestHex(good) == good.substr(7));
  for (std::string bad :
       {std::string(""), std::string("sha256:abc"), "md5:" + good.substr(7),
        "sha256:" + std::string(64, 'A'), good + "0"}) {
    absl::Status st = ValidateDigest("image.digest", bad);
    CHECK(absl::IsInvalidArgument(st));
    CHECK(st.message().find("image.digest") != std::string::npos);
  }
}

TEST_CASE("secure random hex: length, alphabet, no repeats") {
  std::set<std::string> seen;
  for (int i = 0; i < 100; ++i) {
    auto h = SecureRandomHex(16);
    REQUIRE(h.ok());
    CHECK(h->size() == 32);
    CHECK(h->find_first_not_of("0123456789abcdef") == std::string::npos);
    seen.insert(*h);
  }
  CHECK(seen.size() == 100);
  CHECK_FALSE(SecureRandomHex(0).ok());
}

}  // namespace
}  // namespace nest

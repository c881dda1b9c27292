#include "images/layer_unpack.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "images/byte_source.h"
#include "images/fs.h"
#include "images/tar.h"
#include "tests/images/test_util.h"

namespace nest::images {
namespace {

using testing::Exists;
using testing::IsSymlink;
using testing::ReadOr;

// A rootfs under a temp dir, with a sibling "outside" dir that hostile
// layers try to reach.
struct Fixture {
  ScopedTempDir tmp;
  std::string root = tmp.path() + "/rootfs";
  std::string outside = tmp.path() + "/outside";
  ScopedFd fd;
  Fixture() {
    REQUIRE(MakeDirs(root).ok());
    REQUIRE(MakeDirs(outside).ok());
    REQUIRE(AtomicWriteFile(outside + "/passwd", "host secret").ok());
    fd = ScopedFd(::open(root.c_str(), O_RDONLY | O_DIRECTORY));
    REQUIRE(fd.valid());
  }
  absl::Status Apply(const std::string& tar) {
    StringSource src(tar);
    return ApplyLayer(src, fd.get(), UnpackOptions{}, nullptr);
  }
};

TEST_CASE("a layer with files, dirs, symlinks and hard links unpacks") {
  Fixture f;
  TarWriter t;
  t.AddDirectory("./etc/", 0755);
  t.AddFile("./etc/hostname", "box\n", 0640);
  t.AddSymlink("./etc/alias", "hostname");
  t.AddHardLink("./etc/hard", "etc/hostname");
  t.AddFile("bin/tool", "#!/bin/sh\n", 0755);  // parent created implicitly
  UnpackStats stats;
  StringSource src(t.Finish());
  REQUIRE(ApplyLayer(src, f.fd.get(), UnpackOptions{}, &stats).ok());
  CHECK(stats.entries == 5);
  CHECK(ReadOr(f.root + "/etc/hostname") == "box\n");
  CHECK(ReadOr(f.root + "/etc/hard") == "box\n");
  CHECK(IsSymlink(f.root + "/etc/alias"));
  CHECK(ReadOr(f.root + "/etc/alias") == "box\n");
  struct stat st;
  REQUIRE(::stat((f.root + "/etc/hostname").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0640);
  CHECK(st.st_nlink == 2);
  REQUIRE(::stat((f.root + "/bin/tool").c_str(), &st) == 0);
  CHECK((st.st_mode & 0777) == 0755);
}

TEST_CASE("long names via PAX headers round-trip") {
  Fixture f;
  std::string longdir(120, 'd');
  TarWriter t;
  t.AddFile(longdir + "/" + std::string(90, 'f'), "x");
  t.AddSymlink("ln", std::string(150, 'L'));
  REQUIRE(f.Apply(t.Finish()).ok());
  CHECK(ReadOr(f.root + "/" + longdir + "/" + std::string(90, 'f')) == "x");
  char buf[256] = {};
  REQUIRE(::readlink((f.root + "/ln").c_str(), buf, sizeof buf) == 150);
}

TEST_CASE("whiteouts delete lower files and directories") {
  Fixture f;
  TarWriter lower;
  lower.AddFile("etc/keep", "k");
  lower.AddFile("etc/gone", "g");
  lower.AddFile("var/cache/a/b", "deep");
  REQUIRE(f.Apply(lower.Finish()).ok());
  TarWriter upper;
  upper.AddFile("etc/.wh.gone", "");
  upper.AddFile("var/.wh.cache", "");
  upper.AddFile("nothere/.wh.x", "");  // whiteout under a missing dir: no-op
  REQUIRE(f.Apply(upper.Finish()).ok());
  CHECK(ReadOr(f.root + "/etc/keep") == "k");
  CHECK_FALSE(Exists(f.root + "/etc/gone"));
  CHECK_FALSE(Exists(f.root + "/etc/.wh.gone"));
  CHECK_FALSE(Exists(f.root + "/var/cache"));
  CHECK(Exists(f.root + "/var"));
}

TEST_CASE("an opaque directory hides lower children but keeps its own") {
  Fixture f;
  TarWriter lower;
  lower.AddFile("data/old1", "1");
  lower.AddFile("data/sub/old2", "2");
  lower.AddFile("other/stay", "s");
  REQUIRE(f.Apply(lower.Finish()).ok());
  TarWriter upper;
  upper.AddDirectory("data");
  upper.AddFile("data/new-before", "nb");  // same layer, before the marker
  upper.AddFile("data/.wh..wh..opq", "");
  upper.AddFile("data/new-after", "na");
  REQUIRE(f.Apply(upper.Finish()).ok());
  CHECK_FALSE(Exists(f.root + "/data/old1"));
  CHECK_FALSE(Exists(f.root + "/data/sub"));
  CHECK_FALSE(Exists(f.root + "/data/.wh..wh..opq"));
  CHECK(ReadOr(f.root + "/data/new-before") == "nb");
  CHECK(ReadOr(f.root + "/data/new-after") == "na");
  CHECK(ReadOr(f.root + "/other/stay") == "s");
}

TEST_CASE("a later layer replaces a symlink instead of writing through it") {
  Fixture f;
  TarWriter lower;
  lower.AddSymlink("x", f.outside + "/passwd");
  REQUIRE(f.Apply(lower.Finish()).ok());
  TarWriter upper;
  upper.AddFile("x", "mine");
  REQUIRE(f.Apply(upper.Finish()).ok());
  CHECK_FALSE(IsSymlink(f.root + "/x"));
  CHECK(ReadOr(f.root + "/x") == "mine");
  CHECK(ReadOr(f.outside + "/passwd") == "host secret");
}

TEST_CASE("hostile entries are refused and nothing escapes the rootfs") {
  Fixture f;
  struct Case {
    const char* what;
    std::string tar;
    const char* message;
  };
  auto one = [](auto add) {
    TarWriter t;
    add(t);
    return t.Finish();
  };
  std::string outside = f.outside;
  Case cases[] = {
      {"dot-dot",
       one([](TarWriter& t) { t.AddFile("../outside/passwd", "pwn"); }),
       "contains '..'"},
      {"nested dot-dot",
       one([](TarWriter& t) { t.AddFile("etc/../../outside/passwd", "pwn"); }),
       "contains '..'"},
      {"absolute",
       one([&](TarWriter& t) { t.AddFile(outside + "/passwd", "pwn"); }),
       "is absolute"},
      {"symlink then write through it", one([&](TarWriter& t) {
         t.AddSymlink("evil", outside);
         t.AddFile("evil/passwd", "pwn");
       }),
       "through symlink"},
      {"relative symlink then write through it", one([](TarWriter& t) {
         t.AddSymlink("up", "..");
         t.AddFile("up/outside/passwd", "pwn");
       }),
       "through symlink"},
      {"symlink then mkdir through it", one([&](TarWriter& t) {
         t.AddSymlink("evil", outside);
         t.AddDirectory("evil/newdir");
       }),
       "through symlink"},
      {"char device",
       one([](TarWriter& t) { t.AddRaw("dev/mem", '3', "", ""); }),
       "device nodes"},
      {"block device",
       one([](TarWriter& t) { t.AddRaw("dev/sda", '4', "", ""); }),
       "device nodes"},
      {"hard link out",
       one([](TarWriter& t) { t.AddHardLink("h", "../outside/passwd"); }),
       "not a path inside"},
      {"hard link through symlink", one([&](TarWriter& t) {
         t.AddSymlink("s", outside);
         t.AddHardLink("h", "s/passwd");
       }),
       "through symlink"},
      {"unknown type", one([](TarWriter& t) { t.AddRaw("x", 'S', "", ""); }),
       "unsupported"},
  };
  for (const auto& c : cases) {
    CAPTURE(c.what);
    absl::Status st = f.Apply(c.tar);
    CHECK_FALSE(st.ok());
    CHECK(std::string(st.message()).find(c.message) != std::string::npos);
    CHECK(ReadOr(f.outside + "/passwd") == "host secret");
    CHECK(testing::CountEntries(f.outside) == 1);
    CHECK_FALSE(Exists(f.tmp.path() + "/passwd"));
  }
}

TEST_CASE("a corrupt tar header is an error, not garbage files") {
  Fixture f;
  TarWriter t;
  t.AddFile("a", "1");
  std::string tar = t.Finish();
  tar[148] = '9';  // break the checksum field
  absl::Status st = f.Apply(tar);
  CHECK_FALSE(st.ok());
  CHECK(std::string(st.message()).find("checksum") != std::string::npos);
  CHECK(testing::CountEntries(f.root) == 0);
}

TEST_CASE("a tar cut inside file data is reported as truncated") {
  Fixture f;
  TarWriter t;
  t.AddFile("big", std::string(4096, 'x'));
  std::string tar = t.Finish().substr(0, 512 + 1000);
  absl::Status st = f.Apply(tar);
  CHECK_FALSE(st.ok());
  CHECK(absl::IsDataLoss(st));
}

}  // namespace
}  // namespace nest::images

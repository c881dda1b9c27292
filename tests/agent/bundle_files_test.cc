#include "agent/bundle_files.h"

#include <sys/stat.h>
#include <unistd.h>

#include <fstream>
#include <iterator>

#include "doctest/doctest.h"
#include "test_util.h"

namespace nest::agent {
namespace {

std::string Read(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

struct stat Stat(const std::string& path) {
  struct stat st {};
  REQUIRE(::lstat(path.c_str(), &st) == 0);
  return st;
}

TEST_CASE("files are written by index into a private directory, modes kept") {
  testing::TempDir tmp;
  std::string dir = tmp.path() + "/files";
  std::string binary("\0\xffpw", 4);
  // A umask that would widen nothing and narrow everything.
  mode_t old = ::umask(0777);
  absl::Status s = WriteContainerFiles(dir, {{"/etc/app.conf", "a=1\n", 0444},
                                             {"/run/secrets/db", binary, 0400},
                                             {"/etc/wide", "", 0755}});
  ::umask(old);
  REQUIRE_MESSAGE(s.ok(), s.ToString());
  CHECK((Stat(dir).st_mode & 07777) == 0700);
  CHECK(Read(ContainerFilePath(dir, 0)) == "a=1\n");
  CHECK(Read(ContainerFilePath(dir, 1)) == binary);
  CHECK(Read(ContainerFilePath(dir, 2)).empty());
  CHECK((Stat(ContainerFilePath(dir, 0)).st_mode & 07777) == 0444);
  CHECK((Stat(ContainerFilePath(dir, 1)).st_mode & 07777) == 0400);
  CHECK((Stat(ContainerFilePath(dir, 2)).st_mode & 07777) == 0755);
  if (::geteuid() == 0) {
    for (int i = 0; i < 3; ++i) {
      CHECK(Stat(ContainerFilePath(dir, i)).st_uid == 0);
      CHECK(Stat(ContainerFilePath(dir, i)).st_gid == 0);
    }
  }
  CHECK(ContainerFilePath(dir, 1) == dir + "/1");
}

TEST_CASE("an existing directory is not written through") {
  testing::TempDir tmp;
  std::string dir = tmp.path() + "/files";
  REQUIRE(::mkdir(dir.c_str(), 0755) == 0);
  REQUIRE(::symlink("/etc/passwd", (dir + "/0").c_str()) == 0);
  absl::Status s = WriteContainerFiles(dir, {{"/x", "evil", 0644}});
  CHECK(absl::IsInternal(s));
  CHECK(Read("/etc/passwd").find("evil") == std::string::npos);
}

}  // namespace
}  // namespace nest::agent

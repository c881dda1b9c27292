#include "images/path.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include "images/fs.h"

namespace nest::images {
namespace {

TEST_CASE("entry paths are cleaned, and '..' or absolute paths refused") {
  auto p = SplitEntryPath("./a//b/./c/");
  REQUIRE(p.ok());
  CHECK(*p == std::vector<std::string>{"a", "b", "c"});
  CHECK(SplitEntryPath("./")->empty());
  CHECK_FALSE(SplitEntryPath("").ok());
  CHECK_FALSE(SplitEntryPath("/etc/passwd").ok());
  CHECK_FALSE(SplitEntryPath("../etc/passwd").ok());
  CHECK_FALSE(SplitEntryPath("a/../../b").ok());
  CHECK_FALSE(SplitEntryPath("a/..").ok());
}

TEST_CASE("ResolveUnderRoot confines paths, including through symlinks") {
  ScopedTempDir tmp;
  std::string root = tmp.path() + "/pool";
  REQUIRE(MakeDirs(root + "/vms").ok());
  REQUIRE(MakeDirs(tmp.path() + "/elsewhere").ok());
  REQUIRE(::symlink((tmp.path() + "/elsewhere").c_str(),
                    (root + "/escape").c_str()) == 0);
  REQUIRE(::symlink("/etc/passwd", (root + "/vms/link").c_str()) == 0);
  REQUIRE(::symlink("vms", (root + "/inside").c_str()) == 0);

  auto ok = ResolveUnderRoot(root, "vms/a.qcow2");
  REQUIRE(ok.ok());
  CHECK(ok->size() > root.size());
  CHECK(ok->substr(ok->size() - 12) == "/vms/a.qcow2");
  CHECK(ResolveUnderRoot(root, "inside/b.qcow2").ok());  // stays inside
  CHECK_FALSE(ResolveUnderRoot(root, "../x").ok());
  CHECK_FALSE(ResolveUnderRoot(root, "/etc/passwd").ok());
  auto esc = ResolveUnderRoot(root, "escape/disk.qcow2");
  REQUIRE_FALSE(esc.ok());
  CHECK(absl::IsPermissionDenied(esc.status()));
  CHECK_FALSE(ResolveUnderRoot(root, "vms/link").ok());  // leaf symlink out
  CHECK_FALSE(ResolveUnderRoot(root, "missing-dir/x").ok());
}

}  // namespace
}  // namespace nest::images

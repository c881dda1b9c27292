#include "images/disk.h"

#include <doctest/doctest.h>
#include <unistd.h>

#include <nlohmann/json.hpp>

#include "images/fs.h"
#include "images/subprocess.h"

namespace nest::images {
namespace {

void QemuImg(const std::vector<std::string>& args) {
  std::vector<std::string> argv = {"qemu-img"};
  argv.insert(argv.end(), args.begin(), args.end());
  auto r = RunChecked(argv);
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
}

TEST_CASE("a self-contained disk passes inspection with its declared format") {
  ScopedTempDir tmp;
  std::string raw = tmp.path() + "/d.raw", q = tmp.path() + "/d.qcow2";
  QemuImg({"create", "-q", "-f", "raw", raw, "8M"});
  QemuImg({"create", "-q", "-f", "qcow2", q, "16M"});
  auto a = InspectUserDisk(raw, DiskFormat::kRaw);
  REQUIRE(a.ok());
  CHECK(a->virtual_size == 8 << 20);
  auto b = InspectUserDisk(q, DiskFormat::kQcow2);
  REQUIRE(b.ok());
  CHECK(b->virtual_size == 16 << 20);
}

TEST_CASE("a qcow2 with a backing file is refused") {
  ScopedTempDir tmp;
  std::string base = tmp.path() + "/base.raw", top = tmp.path() + "/top.qcow2";
  QemuImg({"create", "-q", "-f", "raw", base, "8M"});
  QemuImg({"create", "-q", "-f", "qcow2", "-F", "raw", "-b", base, top});
  auto r = InspectUserDisk(top, DiskFormat::kQcow2);
  REQUIRE_FALSE(r.ok());
  CHECK(absl::IsPermissionDenied(r.status()));
  CHECK(std::string(r.status().message()).find("backing file") !=
        std::string::npos);
  // A backing file that does not even exist is still refused, not followed.
  std::string dangling = tmp.path() + "/dangling.qcow2";
  QemuImg({"create", "-q", "-f", "qcow2", "-F", "raw", "-b", "/nonexistent/x",
           "-u", dangling, "8M"});
  CHECK_FALSE(InspectUserDisk(dangling, DiskFormat::kQcow2).ok());
}

TEST_CASE("a qcow2 with an external data file is refused") {
  ScopedTempDir tmp;
  std::string img = tmp.path() + "/ext.qcow2";
  QemuImg({"create", "-q", "-f", "qcow2", "-o",
           "data_file=" + tmp.path() + "/ext.data", img, "8M"});
  auto r = InspectUserDisk(img, DiskFormat::kQcow2);
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.status().message()).find("external data file") !=
        std::string::npos);
}

TEST_CASE("a format that differs from the declared one is refused") {
  ScopedTempDir tmp;
  std::string q = tmp.path() + "/really.qcow2";
  QemuImg({"create", "-q", "-f", "qcow2", q, "8M"});
  auto r = InspectUserDisk(q, DiskFormat::kRaw);
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.status().message()).find("declared raw") !=
        std::string::npos);
  std::string raw = tmp.path() + "/really.raw";
  QemuImg({"create", "-q", "-f", "raw", raw, "8M"});
  CHECK_FALSE(InspectUserDisk(raw, DiskFormat::kQcow2).ok());
  CHECK_FALSE(ParseDiskFormat("vmdk").ok());
}

TEST_CASE("overlays name their base and its format explicitly") {
  ScopedTempDir tmp;
  DiskPool pool(tmp.path());
  REQUIRE(MakeDirs(tmp.path() + "/vm1").ok());
  QemuImg({"create", "-q", "-f", "qcow2", tmp.path() + "/base.qcow2", "32M"});
  auto ov =
      pool.CreateOverlay("base.qcow2", DiskFormat::kQcow2, "vm1/root.qcow2");
  REQUIRE_MESSAGE(ov.ok(), ov.status().ToString());
  auto info = RunChecked({"qemu-img", "info", "-U", "--output=json", *ov});
  REQUIRE(info.ok());
  auto j = nlohmann::json::parse(info->out);
  CHECK(j["format"] == "qcow2");
  CHECK(j["backing-filename-format"] == "qcow2");
  CHECK(j["backing-filename"].get<std::string>().find("/base.qcow2") !=
        std::string::npos);
  CHECK(j["virtual-size"] == 32 << 20);
  // Existing overlays are not clobbered; paths stay in the pool.
  CHECK_FALSE(
      pool.CreateOverlay("base.qcow2", DiskFormat::kQcow2, "vm1/root.qcow2")
          .ok());
  CHECK_FALSE(
      pool.CreateOverlay("../base.qcow2", DiskFormat::kQcow2, "vm1/x.qcow2")
          .ok());
  CHECK_FALSE(
      pool.CreateOverlay("base.qcow2", DiskFormat::kQcow2, "/tmp/x.qcow2")
          .ok());
  // A base that itself has a backing file is refused.
  CHECK_FALSE(
      pool.CreateOverlay("vm1/root.qcow2", DiskFormat::kQcow2, "vm1/y.qcow2")
          .ok());
  CHECK_FALSE(PathExists(tmp.path() + "/vm1/y.qcow2"));
}

TEST_CASE("a data disk is a small qcow2 holding an ext4 filesystem") {
  ScopedTempDir tmp;
  DiskPool pool(tmp.path());
  auto p = pool.CreateDataDisk("data.qcow2", 256);
  REQUIRE_MESSAGE(p.ok(), p.status().ToString());
  auto info = InspectUserDisk(*p, DiskFormat::kQcow2);
  REQUIRE(info.ok());
  CHECK(info->virtual_size == 256ull << 20);
  CHECK(info->actual_size < (32ull << 20));  // sparse, not 256 MiB
  CHECK_FALSE(PathExists(*p + ".raw.tmp"));
  // Convert back and ask e2fsprogs what is inside.
  std::string raw = tmp.path() + "/check.raw";
  QemuImg({"convert", "-f", "qcow2", "-O", "raw", *p, raw});
  auto fs = RunChecked({"dumpe2fs", "-h", raw});
  REQUIRE_MESSAGE(fs.ok(), fs.status().ToString());
  CHECK(fs->out.find("nest-data") != std::string::npos);
  CHECK(fs->out.find("extent") != std::string::npos);  // ext4, not ext2
  CHECK(fs->out.find("has_journal") != std::string::npos);
  CHECK_FALSE(pool.CreateDataDisk("data.qcow2", 256).ok());  // exists
  CHECK_FALSE(pool.CreateDataDisk("tiny.qcow2", 1).ok());
}

}  // namespace
}  // namespace nest::images

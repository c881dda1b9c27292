#include "images/guest/initramfs.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "absl/strings/str_split.h"
#include "core/sha256.h"
#include "doctest/doctest.h"
#include "images/guest/exec.h"

namespace nest::images {
namespace {
namespace fs = std::filesystem;

// A temp dir removed on scope exit, even when a CHECK fails.
struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/nest-initramfs-test-XXXXXX";
    REQUIRE(mkdtemp(tmpl) != nullptr);
    path = tmpl;
  }
  ~TempDir() {
    std::error_code ec;
    fs::remove_all(path, ec);
  }
  std::string path;
};

void Write(const fs::path& p, const std::string& content) {
  fs::create_directories(p.parent_path());
  std::ofstream(p) << content;
}

// A kernel that looks like the Debian package after depmod, small enough
// for a unit test.
GuestKernel FakeKernel(const std::string& root) {
  GuestKernel k;
  k.package = "linux-image-fake";
  k.release = "6.1.0-fake";
  k.vmlinuz_path = root + "/boot/vmlinuz-6.1.0-fake";
  k.modules_dir = root + "/lib/modules/6.1.0-fake";
  Write(k.vmlinuz_path, "not really a kernel");
  for (const char* m : {"kernel/drivers/virtio/virtio.ko",
                        "kernel/drivers/virtio/virtio_ring.ko",
                        "kernel/drivers/virtio/virtio_mmio.ko",
                        "kernel/drivers/char/virtio_console.ko",
                        "kernel/net/bridge/bridge.ko", "kernel/net/802/stp.ko",
                        "kernel/net/llc/llc.ko", "kernel/drivers/unused.ko"}) {
    Write(fs::path(k.modules_dir) / m, std::string("module ") + m);
  }
  Write(
      fs::path(k.modules_dir) / "modules.dep",
      "kernel/drivers/virtio/virtio.ko:\n"
      "kernel/drivers/virtio/virtio_ring.ko:\n"
      "kernel/drivers/virtio/virtio_mmio.ko: kernel/drivers/virtio/virtio.ko "
      "kernel/drivers/virtio/virtio_ring.ko\n"
      "kernel/drivers/char/virtio_console.ko: kernel/drivers/virtio/virtio.ko "
      "kernel/drivers/virtio/virtio_ring.ko\n"
      "kernel/net/bridge/bridge.ko: kernel/net/802/stp.ko "
      "kernel/net/llc/llc.ko\n"
      "kernel/net/802/stp.ko: kernel/net/llc/llc.ko\n"
      "kernel/net/llc/llc.ko:\n"
      "kernel/drivers/unused.ko:\n");
  Write(fs::path(k.modules_dir) / "modules.builtin",
        "kernel/fs/ext4/ext4.ko\n");
  return k;
}

InitramfsSpec FakeSpec(const std::string& root) {
  InitramfsSpec s;
  s.kernel = FakeKernel(root);
  s.modules = {"virtio_mmio", "virtio_console", "bridge", "ext4"};
  s.extra_binaries = DefaultGuestBinaries();
  s.compression = InitrdCompression::kNone;
  return s;
}

std::vector<std::string> CpioList(const std::string& initrd) {
  auto r = guest_internal::ExecOk({"sh", "-c", "cpio -it --quiet < " + initrd});
  REQUIRE(r.ok());
  return absl::StrSplit(*r, '\n', absl::SkipEmpty());
}

bool Contains(const std::vector<std::string>& v, const std::string& s) {
  return std::find(v.begin(), v.end(), s) != v.end();
}

TEST_CASE("modules resolve with dependencies first") {
  TempDir t;
  GuestKernel k = FakeKernel(t.path);
  auto order = ResolveModules(k.modules_dir, {"bridge", "virtio_mmio", "ext4"});
  REQUIRE(order.ok());
  auto pos = [&](const std::string& m) {
    return std::find(order->begin(), order->end(), m) - order->begin();
  };
  CHECK(order->size() == 6);
  CHECK(pos("kernel/net/llc/llc.ko") < pos("kernel/net/802/stp.ko"));
  CHECK(pos("kernel/net/802/stp.ko") < pos("kernel/net/bridge/bridge.ko"));
  CHECK(pos("kernel/drivers/virtio/virtio.ko") <
        pos("kernel/drivers/virtio/virtio_mmio.ko"));
  CHECK_FALSE(Contains(*order, "kernel/drivers/unused.ko"));
  auto missing = ResolveModules(k.modules_dir, {"nosuch"});
  CHECK(absl::IsNotFound(missing.status()));
}

// Every default module must exist in the real guest kernel; checked against
// each kernel in the product's cache (fetched by the e2e tier), if any.
TEST_CASE("the real guest kernel has every default module") {
  std::error_code ec;
  int kernels = 0;
  for (const auto& pkg :
       fs::directory_iterator(KernelFetchOptions{}.cache_dir, ec)) {
    for (const auto& rel :
         fs::directory_iterator(pkg.path() / "lib/modules", ec)) {
      if (!fs::exists(rel.path() / "modules.dep")) continue;
      ++kernels;
      auto order = ResolveModules(rel.path().string(), DefaultGuestModules());
      CHECK_MESSAGE(order.ok(), order.status().ToString());
      if (order.ok()) {
        bool nat = false;
        for (const auto& m : *order) nat |= m.find("/nf_nat.ko") != m.npos;
        CHECK_MESSAGE(nat, "nft_nat must pull nf_nat in");
      }
    }
  }
  if (kernels == 0) MESSAGE("no guest kernel cached; nothing to check");
}

TEST_CASE("ldd resolution: dynamic binaries bring libraries, static none") {
  auto crun = SharedLibraries("/usr/bin/crun");
  REQUIRE(crun.ok());
  bool libc = false;
  for (auto& l : *crun) libc |= l.find("libc.so") != std::string::npos;
  CHECK(libc);
  auto bb = SharedLibraries("/bin/busybox");
  REQUIRE(bb.ok());
  CHECK(bb->empty());
}

TEST_CASE("initramfs is reproducible and rebuilt only on change") {
  TempDir t;
  InitramfsSpec spec = FakeSpec(t.path + "/kernel");
  auto a = BuildGuestBootSet(spec, t.path + "/out-a");
  REQUIRE(a.ok());
  CHECK(a->built);
  auto b = BuildGuestBootSet(spec, t.path + "/out-b");
  REQUIRE(b.ok());
  CHECK(a->digest == b->digest);
  CHECK(*Sha256FileHex(a->initrd_path) == *Sha256FileHex(b->initrd_path));
  CHECK(*Sha256FileHex(a->kernel_path) ==
        *Sha256FileHex(spec.kernel.vmlinuz_path));

  auto again = BuildGuestBootSet(spec, t.path + "/out-a");
  REQUIRE(again.ok());
  CHECK_FALSE(again->built);
  CHECK(again->digest == a->digest);

  InitramfsSpec changed = spec;
  changed.init_script = "#!/bin/sh\necho other\n";
  auto c = BuildGuestBootSet(changed, t.path + "/out-a");
  REQUIRE(c.ok());
  CHECK(c->built);
  CHECK(c->digest != a->digest);
  // Only the finished sets are visible: no temp dirs left behind.
  int dirs = 0;
  for (auto& e : fs::directory_iterator(t.path + "/out-a")) {
    CHECK(e.path().filename().string()[0] != '.');
    ++dirs;
  }
  CHECK(dirs == 2);
}

TEST_CASE("initramfs carries busybox, crun with libraries, modules, init") {
  TempDir t;
  InitramfsSpec spec = FakeSpec(t.path + "/kernel");
  spec.agent_path = "/bin/true";
  auto set = BuildGuestBootSet(spec, t.path + "/out");
  REQUIRE(set.ok());
  auto files = CpioList(set->initrd_path);
  CHECK(Contains(files, "init"));
  CHECK(Contains(files, "bin/busybox"));
  CHECK(Contains(files, "bin/sh"));
  CHECK(Contains(files, "sbin/switch_root"));
  CHECK(Contains(files, "usr/bin/crun"));
  CHECK(Contains(files, "usr/sbin/ip"));
  CHECK(Contains(files, "usr/sbin/nft"));
  CHECK(Contains(files, "lib/x86_64-linux-gnu/libnftables.so.1"));
  CHECK(Contains(files, "usr/bin/nest-agent"));
  CHECK(Contains(files, "dev/console"));
  CHECK(Contains(files, "lib64/ld-linux-x86-64.so.2"));
  CHECK(Contains(files, "lib/x86_64-linux-gnu/libseccomp.so.2"));
  CHECK(Contains(files, "lib/modules/6.1.0-fake/kernel/net/llc/llc.ko"));
  CHECK(Contains(files, "lib/modules/6.1.0-fake/modules.dep"));
  CHECK_FALSE(
      Contains(files, "lib/modules/6.1.0-fake/kernel/drivers/unused.ko"));
  // Sorted, so parents come first.
  CHECK(std::is_sorted(files.begin(), files.end()));
  // The load order inside the image has dependencies first.
  std::string dir = t.path + "/x";
  fs::create_directories(dir);
  REQUIRE(guest_internal::ExecOk({"sh", "-c",
                                  "cpio -idm --quiet etc/nest/modules.load "
                                  "init < " +
                                      set->initrd_path},
                                 dir)
              .ok());
  std::ifstream in(dir + "/etc/nest/modules.load");
  std::string first;
  std::getline(in, first);
  CHECK((first == "kernel/drivers/virtio/virtio.ko" ||
         first == "kernel/drivers/virtio/virtio_ring.ko" ||
         first == "kernel/net/llc/llc.ko"));
  std::ifstream init(dir + "/init");
  std::string init_text((std::istreambuf_iterator<char>(init)), {});
  CHECK(init_text == DefaultInitScript());
  CHECK(init_text.find("switch_root") != std::string::npos);
}

TEST_CASE("zstd and gzip outputs are reproducible too") {
  TempDir t;
  for (InitrdCompression c :
       {InitrdCompression::kZstd, InitrdCompression::kGzip}) {
    InitramfsSpec spec = FakeSpec(t.path + "/kernel");
    spec.compression = c;
    spec.extra_binaries.clear();
    auto a = BuildGuestBootSet(spec, t.path + "/a");
    auto b = BuildGuestBootSet(spec, t.path + "/b");
    REQUIRE(a.ok());
    REQUIRE(b.ok());
    CHECK(*Sha256FileHex(a->initrd_path) == *Sha256FileHex(b->initrd_path));
  }
}

}  // namespace
}  // namespace nest::images

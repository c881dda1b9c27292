// Volumes of Nest's dir pool through libvirt (remote hosts' files): the URI
// rule in tier 1, and upload, stat, tail download and delete against the
// real libvirtd in tier 3 (test:///default implements neither upload nor
// download).
#include <fstream>
#include <string>

#include "doctest/doctest.h"
#include "vmm/libvirt_volumes.h"

#ifdef NEST_VOLUMES_E2E_TIER
#include <filesystem>

#include "tests/vmm/e2e_env.h"
#include "vmm/libvirt_pool.h"
#endif

namespace nest::vmm {
namespace {

#ifndef NEST_VOLUMES_E2E_TIER

TEST_CASE("a URI with a host part is remote") {
  CHECK(IsLocalUri("qemu:///system"));
  CHECK(IsLocalUri("qemu+unix:///system"));
  CHECK(IsLocalUri("test:///default"));
  CHECK(IsLocalUri("qemu:///session"));
  CHECK_FALSE(IsLocalUri("qemu+tcp://10.0.0.2/system"));
  CHECK_FALSE(IsLocalUri("qemu+ssh://root@h2/system"));
  CHECK_FALSE(IsLocalUri("qemu+tls://h2.example/system"));
}

#else

constexpr char kUri[] = "qemu:///system";

TEST_CASE("volumes upload, read back and delete through libvirt") {
  testenv::TestDir dir;
  const std::string pool_path = dir.path() + "/pool";
  const std::string local = dir.path() + "/local.bin";
  std::string content;
  for (int i = 0; i < 20000; ++i) content += "line " + std::to_string(i) + "\n";
  { std::ofstream(local, std::ios::binary) << content; }

  auto pool = DirPoolVolumes::Open(kUri, pool_path, 0755);
  REQUIRE(pool.ok());
  // The pool built its directory.
  CHECK(std::filesystem::is_directory(pool_path));
  auto none = (*pool)->Stat("v.bin");
  REQUIRE(none.ok());
  CHECK_FALSE(none->has_value());

  REQUIRE((*pool)->Upload("v.bin", local, {0640, 0, 0}).ok());
  CHECK((*pool)->PathOf("v.bin") == pool_path + "/v.bin");
  auto size = (*pool)->Stat("v.bin");
  REQUIRE(size.ok());
  REQUIRE(size->has_value());
  CHECK((*size)->capacity == content.size());
  std::ifstream in(pool_path + "/v.bin", std::ios::binary);
  std::string there((std::istreambuf_iterator<char>(in)), {});
  CHECK(there == content);
  CHECK((std::filesystem::status(pool_path + "/v.bin").permissions() &
         std::filesystem::perms::all) == std::filesystem::perms(0640));

  auto tail = (*pool)->ReadTail("v.bin", 100);
  REQUIRE(tail.ok());
  CHECK(*tail == content.substr(content.size() - 100));
  auto whole = (*pool)->ReadTail("v.bin", 1 << 30);
  REQUIRE(whole.ok());
  CHECK(*whole == content);

  // Uploading again replaces; a file the host wrote itself is found too.
  { std::ofstream(local, std::ios::binary) << "short"; }
  REQUIRE((*pool)->Upload("v.bin", local, {0644, 0, 0}).ok());
  CHECK(*(*pool)->ReadTail("v.bin", 100) == "short");
  { std::ofstream(pool_path + "/host.log") << "written by the host\n"; }
  CHECK(*(*pool)->ReadTail("host.log", 100) == "written by the host\n");

  REQUIRE((*pool)->Delete("v.bin").ok());
  REQUIRE((*pool)->Delete("host.log").ok());
  CHECK((*pool)->Delete("v.bin").ok());  // gone already: fine
  CHECK_FALSE(std::filesystem::exists(pool_path + "/v.bin"));
  CHECK(absl::IsNotFound((*pool)->ReadTail("v.bin", 10).status()));
  CHECK(absl::IsNotFound((*pool)->Upload("w", dir.path() + "/missing", {})));
  REQUIRE(RemoveDirPool(kUri, pool_path).ok());
}

#endif

}  // namespace
}  // namespace nest::vmm

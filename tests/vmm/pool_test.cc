// Storage pools: the pure XML in tier 1, and the pool lifecycle against
// libvirt's in-process test:///default driver in tier 2 (pool_libvirt_test).
#include <string>

#include "doctest/doctest.h"
#include "vmm/libvirt_pool.h"

namespace nest::vmm {
namespace {

#ifndef NEST_POOL_LIBVIRT_TIER

TEST_CASE("pool names are per path and stable") {
  CHECK(DirPoolName("/var/lib/nest/vms") == DirPoolName("/var/lib/nest/vms"));
  CHECK(DirPoolName("/var/lib/nest/vms") != DirPoolName("/srv/nest/vms"));
  CHECK(DirPoolName("/x").rfind("nest-", 0) == 0);
  CHECK(DirPoolName("/x").size() == 5 + 12);
}

TEST_CASE("pool XML escapes hostile paths and parses back") {
  std::string hostile = "/var/lib/a<b>&c'd\"]]>e";
  auto xml = BuildDirPoolXml("nest-abc", hostile);
  REQUIRE(xml.ok());
  CHECK(xml->find("<b>") == std::string::npos);
  CHECK(xml->find("type=\"dir\"") != std::string::npos);
  auto back = ParsePoolTargetPath(*xml);
  REQUIRE(back.ok());
  CHECK(*back == hostile);
}

TEST_CASE("pool XML refuses relative paths; parse refuses junk") {
  auto rel = BuildDirPoolXml("nest-abc", "vms");
  CHECK(absl::IsInvalidArgument(rel.status()));
  CHECK(rel.status().message().find("absolute") != absl::string_view::npos);
  CHECK(absl::IsInvalidArgument(ParsePoolTargetPath("<pool").status()));
  CHECK(absl::IsInvalidArgument(
      ParsePoolTargetPath("<pool type='dir'><name>x</name></pool>").status()));
}

#else
}  // namespace
}  // namespace nest::vmm

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

namespace nest::vmm {
namespace {

constexpr char kUri[] = "test:///default";

// A raw connection keeps the test driver's shared state alive and looks at
// what the functions did, as `virsh` would.
struct Raw {
  Raw() : c(virConnectOpen(kUri)) { REQUIRE(c != nullptr); }
  ~Raw() { virConnectClose(c); }
  virStoragePoolPtr Lookup(const std::string& path) {
    return virStoragePoolLookupByName(c, DirPoolName(path).c_str());
  }
  virConnectPtr c;
};

TEST_CASE("EnsureDirPool defines, starts and autostarts; idempotent") {
  Raw raw;
  const std::string path = "/var/lib/nest-pool-test/vms";
  REQUIRE(EnsureDirPool(kUri, path).ok());
  REQUIRE(EnsureDirPool(kUri, path).ok());
  virStoragePoolPtr p = raw.Lookup(path);
  REQUIRE(p != nullptr);
  CHECK(virStoragePoolIsActive(p) == 1);
  int autostart = 0;
  CHECK(virStoragePoolGetAutostart(p, &autostart) == 0);
  CHECK(autostart == 1);
  virStoragePoolFree(p);
  CHECK(RefreshDirPool(kUri, path).ok());

  REQUIRE(RemoveDirPool(kUri, path).ok());
  CHECK(raw.Lookup(path) == nullptr);
  virResetLastError();
  CHECK(RemoveDirPool(kUri, path).ok());  // already gone: fine
  CHECK(RefreshDirPool(kUri, path).ok());
}

TEST_CASE("a pool of our name with another target is left alone") {
  Raw raw;
  const std::string path = "/var/lib/nest-pool-test/mine";
  auto xml = BuildDirPoolXml(DirPoolName(path), "/somewhere/else");
  REQUIRE(xml.ok());
  virStoragePoolPtr foreign = virStoragePoolDefineXML(raw.c, xml->c_str(), 0);
  REQUIRE(foreign != nullptr);

  absl::Status ensure = EnsureDirPool(kUri, path);
  CHECK(absl::IsFailedPrecondition(ensure));
  CHECK(ensure.message().find("/somewhere/else") != absl::string_view::npos);
  CHECK(absl::IsFailedPrecondition(RemoveDirPool(kUri, path)));
  // Still defined, still inactive: nothing was done to it.
  virStoragePoolPtr still = raw.Lookup(path);
  REQUIRE(still != nullptr);
  CHECK(virStoragePoolIsActive(still) == 0);
  virStoragePoolFree(still);

  virStoragePoolUndefine(foreign);
  virStoragePoolFree(foreign);
}

#endif

}  // namespace
}  // namespace nest::vmm

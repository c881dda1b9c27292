#include "control/tenant_identity.h"

#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "doctest/doctest.h"

namespace nest::control {
namespace {
namespace fs = std::filesystem;

struct TempDir {
  TempDir() {
    char tmpl[] = "/tmp/nest-tenant-ids-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~TempDir() { fs::remove_all(path); }
  std::string path;
};

std::string Slurp(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("a tenant's preferred id is a fixed hash inside the range") {
  TenantIdRange r;
  // Pinned: the same name must give the same id in every build and on
  // every host (no std::hash).
  CHECK(PreferredTenantId(TenantId("acme"), r) == 256847);
  CHECK(PreferredTenantId(TenantId("globex"), r) == 245614);
  for (int i = 0; i < 2000; ++i) {
    uint32_t id = PreferredTenantId(TenantId(absl::StrCat("t", i)), r);
    CHECK(id >= r.base);
    CHECK(id < r.base + r.size);
  }
}

TEST_CASE("ranges that could hold root or system accounts are refused") {
  CHECK(ValidateTenantIdRange({}).ok());
  CHECK_FALSE(ValidateTenantIdRange({0, 10}).ok());
  CHECK_FALSE(ValidateTenantIdRange({999, 10}).ok());
  CHECK_FALSE(ValidateTenantIdRange({200000, 0}).ok());
  CHECK_FALSE(ValidateTenantIdRange({0x7fffffff, 2}).ok());
  CHECK(ValidateTenantIdRange({0x7fffffff, 1}).ok());
  absl::Status st = ValidateTenantIdRange({0, 10});
  CHECK(st.message().find("got base 0 size 10") != std::string::npos);
  CHECK(absl::IsInvalidArgument(
      AssignTenantId(TenantId("a"), {}, {0, 65536}).status()));
  CHECK(absl::IsInvalidArgument(
      AssignTenantId(TenantId(""), {}, TenantIdRange{}).status()));
}

TEST_CASE("assignment is deterministic, non-root and never shared") {
  TenantIdRange r{300000, 3000};
  TenantIdMap a, b;
  std::set<uint32_t> ids;
  for (int i = 0; i < 3000; ++i) {
    TenantId t(absl::StrCat("tenant-", i));
    auto id = AssignTenantId(t, a, r);
    REQUIRE(id.ok());
    CHECK(*id >= r.base);
    CHECK(*id < r.base + r.size);
    CHECK(ids.insert(*id).second);
    a[t] = *id;
    // The same history gives the same answer.
    auto again = AssignTenantId(t, b, r);
    REQUIRE(again.ok());
    CHECK(*again == *id);
    b[t] = *again;
  }
  // Given ids are returned as they are.
  CHECK(*AssignTenantId(TenantId("tenant-7"), a, r) == a[TenantId("tenant-7")]);
  // A full range says so.
  absl::Status full = AssignTenantId(TenantId("one-more"), a, r).status();
  CHECK(absl::IsResourceExhausted(full));
  CHECK(full.message().find("3000 ids from 300000") != std::string::npos);
}

TEST_CASE("a collision moves the later tenant to the next free id") {
  // t3 and t4 hash to the same slot of a 7-id range.
  TenantIdRange r{5000, 7};
  REQUIRE(PreferredTenantId(TenantId("t3"), r) ==
          PreferredTenantId(TenantId("t4"), r));
  TenantIdMap m;
  m[TenantId("t3")] = *AssignTenantId(TenantId("t3"), m, r);
  uint32_t t4 = *AssignTenantId(TenantId("t4"), m, r);
  CHECK(t4 != m[TenantId("t3")]);
  CHECK(t4 == r.base + (m[TenantId("t3")] - r.base + 1) % r.size);
  CHECK(TenantDacLabel(t4) == vmm::DacLabel{t4, t4});
}

TEST_CASE("assigned ids persist, survive a range change and never move") {
  TempDir dir;
  std::string path = dir.path + "/tenant-ids";
  uint32_t acme = 0, globex = 0;
  {
    TenantIdentities ids(path, {});
    CHECK_FALSE(fs::exists(path));  // nothing written before first use
    acme = *ids.IdFor(TenantId("acme"));
    globex = *ids.IdFor(TenantId("globex"));
    CHECK(acme == 256847);
    CHECK(*ids.IdFor(TenantId("acme")) == acme);
    auto label = ids.LabelFor(TenantId("globex"));
    REQUIRE(label.ok());
    CHECK(*label == vmm::DacLabel{globex, globex});
    CHECK(ids.IsTenantId(acme));
    CHECK_FALSE(ids.IsTenantId(0));
    CHECK_FALSE(ids.IsTenantId(64055));  // Debian's libvirt-qemu
    CHECK(absl::IsInvalidArgument(ids.IdFor(TenantId("Bad Name")).status()));
  }
  CHECK(Slurp(path) == absl::StrCat("acme ", acme, "\nglobex ", globex, "\n"));
  CHECK((fs::status(path).permissions() & fs::perms::all) ==
        (fs::perms::owner_read | fs::perms::owner_write));
  {
    // Another range: old tenants keep their ids, new ones get new-range ids.
    TenantIdentities ids(path, {900000, 100});
    CHECK(*ids.IdFor(TenantId("acme")) == acme);
    CHECK(ids.IsTenantId(acme));
    uint32_t initech = *ids.IdFor(TenantId("initech"));
    CHECK(initech >= 900000);
    CHECK(initech < 900100);
  }
}

TEST_CASE("a damaged id file is refused with the line named") {
  TempDir dir;
  std::string path = dir.path + "/tenant-ids";
  for (auto [content, line] :
       {std::pair{"acme 200001\nglobex 200001\n", "line 2"},
        std::pair{"acme 200001\nacme 200002\n", "line 2"},
        std::pair{"acme 0\n", "line 1"}, std::pair{"acme\n", "line 1"},
        std::pair{"acme 200001\n\nNo 200002\n", "line 3"}}) {
    std::ofstream(path) << content;
    TenantIdentities ids(path, {});
    absl::Status st = ids.IdFor(TenantId("x")).status();
    CHECK(absl::IsDataLoss(st));
    CHECK(st.message().find(line) != std::string::npos);
  }
}

}  // namespace
}  // namespace nest::control

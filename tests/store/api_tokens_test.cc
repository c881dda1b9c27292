// API tokens in the store: digests only, unique ids and digests, revocation
// that sticks and survives a reopen.
#include <filesystem>

#include "core/clock.h"
#include "doctest/doctest.h"
#include "store/store.h"

namespace nest::store {
namespace {

struct Dir {
  std::string path;
  Dir() {
    char tmpl[] = "/tmp/nest-tokens-XXXXXX";
    path = mkdtemp(tmpl);
  }
  ~Dir() { std::filesystem::remove_all(path); }
};

ApiTokenRow Token(const std::string& id, const std::string& digest) {
  ApiTokenRow t;
  t.id = id;
  t.tenant = TenantId("acme");
  t.role = "tenant-reader";
  t.digest = digest;
  t.description = "ci";
  return t;
}

TEST_CASE("tokens: create, find by digest, list, revoke, reopen") {
  Dir dir;
  FakeClock clock;
  {
    auto store = *Store::Open({dir.path + "/s.db"}, clock);
    REQUIRE(store
                ->Write([](WriteTx& tx) -> absl::Status {
                  return tx.CreateApiToken(Token("tok-1", "d1")).status();
                })
                .ok());
    clock.Advance(absl::Seconds(1));
    REQUIRE(store
                ->Write([](WriteTx& tx) -> absl::Status {
                  return tx.CreateApiToken(Token("tok-2", "d2")).status();
                })
                .ok());
    // Same id or same digest: refused, and nothing is written.
    auto dup = store->Write([](WriteTx& tx) -> absl::Status {
      return tx.CreateApiToken(Token("tok-1", "d3")).status();
    });
    CHECK(absl::IsAlreadyExists(dup));
    dup = store->Write([](WriteTx& tx) -> absl::Status {
      return tx.CreateApiToken(Token("tok-3", "d2")).status();
    });
    CHECK(absl::IsAlreadyExists(dup));
    auto bad = store->Write([](WriteTx& tx) -> absl::Status {
      return tx.CreateApiToken(Token("tok-4", "")).status();
    });
    CHECK(absl::IsInvalidArgument(bad));
    REQUIRE(store
                ->Write([](WriteTx& tx) -> absl::Status {
                  NEST_RETURN_IF_ERROR(tx.RevokeApiToken("tok-1").status());
                  // Twice is fine.
                  return tx.RevokeApiToken("tok-1").status();
                })
                .ok());
    auto missing = store->Write([](WriteTx& tx) -> absl::Status {
      return tx.RevokeApiToken("tok-9").status();
    });
    CHECK(absl::IsNotFound(missing));
  }
  auto store = *Store::Open({dir.path + "/s.db"}, clock);
  REQUIRE(store
              ->Read([&](ReadTx& tx) -> absl::Status {
                auto all = tx.ListApiTokens();
                REQUIRE(all.ok());
                REQUIRE(all->size() == 2);
                CHECK((*all)[0].id == "tok-1");
                CHECK((*all)[0].revoked_at != absl::InfinitePast());
                CHECK((*all)[1].id == "tok-2");
                CHECK((*all)[1].revoked_at == absl::InfinitePast());
                CHECK((*all)[1].tenant == TenantId("acme"));
                CHECK((*all)[1].role == "tenant-reader");
                auto by = tx.GetApiTokenByDigest("d2");
                REQUIRE(by.ok());
                CHECK(by->id == "tok-2");
                CHECK(absl::IsNotFound(tx.GetApiTokenByDigest("d9").status()));
                CHECK(absl::IsNotFound(tx.GetApiToken("tok-9").status()));
                return absl::OkStatus();
              })
              .ok());
}

}  // namespace
}  // namespace nest::store

// The benchmark's instance generator and CSV format (bench/placement), so
// that outside instance files are read the way the README says.
#include "bench/placement/instances.h"
#include "doctest/doctest.h"

namespace nest::placement::bench {
namespace {

TEST_CASE("generated instances round-trip through CSV") {
  for (InstanceClass c : {InstanceClass::kUniform, InstanceClass::kCorrelated,
                          InstanceClass::kAntiCorrelated}) {
    Instance inst = Generate(c, 50, 3);
    CHECK(inst.items.size() == 50);
    for (const Resources& r : inst.items) {
      CHECK(r.fits(inst.capacity));
      CHECK_FALSE(r.any_negative());
    }
    absl::StatusOr<Instance> back = ParseInstanceCsv("x", ToCsv(inst));
    REQUIRE(back.ok());
    CHECK(back->capacity == inst.capacity);
    CHECK(back->items == inst.items);
    // Deterministic per seed, different across seeds.
    CHECK(Generate(c, 50, 3).items == inst.items);
    CHECK(Generate(c, 50, 4).items != inst.items);
  }
}

TEST_CASE("CSV with fewer dimensions, comments and errors") {
  absl::StatusOr<Instance> two =
      ParseInstanceCsv("f", "# two dims\ncapacity,10,20\n\n1,2\n10,20\n");
  REQUIRE(two.ok());
  CHECK(two->capacity == Resources::Of(10, 20, 0));
  CHECK(two->items.size() == 2);
  for (const char* bad :
       {"1,2\n", "capacity,10\n5,5\n", "capacity,10\n11\n", "capacity,0\n",
        "capacity,10\n-1\n", "capacity,1,1,1,1\n", "capacity,10\nx\n", ""}) {
    absl::StatusOr<Instance> r = ParseInstanceCsv("f.csv", bad);
    CHECK_MESSAGE(!r.ok(), bad);
    if (!r.ok()) CHECK(r.status().message().find("f.csv") != std::string::npos);
  }
}

}  // namespace
}  // namespace nest::placement::bench

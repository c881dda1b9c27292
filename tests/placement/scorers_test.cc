#include "placement/scorers.h"

#include "doctest/doctest.h"
#include "tests/placement/fixtures.h"

namespace nest::placement {
namespace {

TEST_CASE("binpack prefers the candidate left fullest where demand is") {
  ClusterState st;
  st.groups = {testing::MakeGroup("g", "t", 1000, 1000)};
  Snapshot s = testing::MustBuild(st);
  BinpackScorer binpack;
  Resources cap = Resources::Of(1000, 1000, 1000);
  Resources demand = Resources::Of(200, 200, 0);
  double full = binpack.Score(s, {cap, Resources::Of(700, 700, 0), demand});
  double empty = binpack.Score(s, {cap, Resources::Of(0, 0, 0), demand});
  double exact = binpack.Score(s, {cap, Resources::Of(800, 800, 0), demand});
  CHECK(full > empty);
  CHECK(exact == doctest::Approx(1.0));
  CHECK(empty == doctest::Approx(0.2));
  // Leftover in a dimension the demand does not use matters less.
  double cpu_heavy = binpack.Score(
      s, {cap, Resources::Of(0, 700, 0), Resources::Of(0, 300, 0)});
  CHECK(cpu_heavy == doctest::Approx(1.0));
}

TEST_CASE("spread prefers the least allocated candidate") {
  ClusterState st;
  Snapshot s = testing::MustBuild(st);
  SpreadScorer spread;
  Resources cap = Resources::Of(1000, 1000, 1000);
  Resources demand = Resources::Of(100, 100, 100);
  double busy = spread.Score(s, {cap, Resources::Of(800, 800, 800), demand});
  double idle = spread.Score(s, {cap, Resources::Of(0, 0, 0), demand});
  CHECK(idle > busy);
  CHECK(idle == doctest::Approx(0.9));
}

TEST_CASE("stranding penalises leftovers no known VM shape can use") {
  ClusterState st;
  Group g = testing::MakeGroup("g", "t", 1000, 1000);
  g.shape = Resources::Of(1000, 1000, 0);
  st.groups = {g};
  Snapshot s = testing::MustBuild(st);
  StrandingScorer stranding;
  Resources cap = Resources::Of(4000, 4000, 0);
  // Leftover 2000 cpu / 2000 memory: one more VM fits, no penalty.
  CHECK(stranding.Score(s, {cap, Resources::Of(1000, 1000, 0),
                            Resources::Of(1000, 1000, 0)}) == 1.0);
  // Leftover 2000 cpu but 500 memory: nothing fits; 50% cpu stranded.
  CHECK(stranding.Score(s, {cap, Resources::Of(1000, 2500, 0),
                            Resources::Of(1000, 1000, 0)}) ==
        doctest::Approx(0.5));
  // Nothing left: nothing stranded.
  CHECK(stranding.Score(s, {cap, Resources::Of(3000, 3000, 0),
                            Resources::Of(1000, 1000, 0)}) == 1.0);
}

}  // namespace
}  // namespace nest::placement

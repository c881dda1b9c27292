#include "placement/labels.h"

#include "doctest/doctest.h"

namespace nest::placement {
namespace {

LabelConstraint Must(const std::string& text) {
  absl::StatusOr<LabelConstraint> c = ParseLabelConstraint("constraint", text);
  REQUIRE_MESSAGE(c.ok(), c.status().ToString());
  return *c;
}

TEST_CASE("label constraints parse and match") {
  Labels host = {{"zone", "b"}, {"ssd", "true"}};
  CHECK(Must("zone in (a,b)").Matches(host));
  CHECK_FALSE(Must("zone in (a, c)").Matches(host));
  CHECK(Must("zone notin (a)").Matches(host));
  CHECK_FALSE(Must("zone notin (b,c)").Matches(host));
  CHECK(Must("ssd=true").Matches(host));
  CHECK_FALSE(Must("ssd!=true").Matches(host));
  CHECK(Must("ssd").Matches(host));
  CHECK_FALSE(Must("gpu").Matches(host));
  CHECK(Must("!gpu").Matches(host));
  CHECK_FALSE(Must("zone=a").Matches(host));
  CHECK(Must("zone in (a,b)").ToString() == "zone in (a,b)");
  CHECK(Must(" ssd = true ").ToString() == "ssd=true");
}

TEST_CASE("malformed label constraints are rejected with the field name") {
  for (const char* bad : {"", "zone in a,b", "zone within (a)", "zone in (a,)",
                          "=x", "a b", "zone in (a b)"}) {
    absl::StatusOr<LabelConstraint> c = ParseLabelConstraint("spec.where", bad);
    CHECK_MESSAGE(!c.ok(), bad);
    if (!c.ok()) {
      CHECK(c.status().message().find("spec.where") != std::string::npos);
    }
  }
}

}  // namespace
}  // namespace nest::placement

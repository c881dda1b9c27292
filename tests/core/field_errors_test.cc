#include "core/field_errors.h"

#include "core/resources.h"
#include "core/validate.h"
#include "doctest/doctest.h"

namespace nest {
namespace {

TEST_CASE("no violations is OK") {
  FieldErrors errors;
  errors.Check("name", absl::OkStatus());
  CHECK(errors.empty());
  CHECK(errors.ToStatus().ok());
}

TEST_CASE("violations round-trip through the status payload") {
  FieldErrors errors;
  errors.Check("name", ValidateName("name", "Bad"));
  errors.Check("spec.resources.memory",
               ParseMiB("spec.resources.memory", "0Mi").status());
  errors.Add("spec.replicas", "must be between 0 and 1000, got -1");
  absl::Status s = errors.ToStatus();
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  CHECK(s.message() ==
        "name must be a DNS-1123 label (1-63 characters of a-z, 0-9 and '-', "
        "starting and ending with a letter or digit), got \"Bad\" (and 2 "
        "more)");
  auto v = GetFieldViolations(s);
  REQUIRE(v.size() == 3);
  CHECK(v[0].field == "name");
  CHECK(v[1] == FieldViolation{"spec.resources.memory",
                               "must be a positive size such as \"512Mi\", "
                               "\"4Gi\" or \"1Ti\", got \"0Mi\""});
  CHECK(v[2].description == "must be between 0 and 1000, got -1");
}

TEST_CASE("tabs and newlines in values cannot forge violations") {
  FieldErrors errors;
  errors.Add("a\tb", "line1\nfake\tviolation");
  auto v = GetFieldViolations(errors.ToStatus());
  REQUIRE(v.size() == 1);
  CHECK(v[0].field == "a b");
  CHECK(v[0].description == "line1 fake violation");
}

TEST_CASE("a plain status carries no violations") {
  CHECK(GetFieldViolations(absl::InvalidArgumentError("x")).empty());
}

}  // namespace
}  // namespace nest

#include "core/validate.h"

#include <string>

#include "doctest/doctest.h"

namespace nest {
namespace {

constexpr char kRule[] =
    "name must be a DNS-1123 label (1-63 characters of a-z, 0-9 and '-', "
    "starting and ending with a letter or digit), got ";

std::string Err(absl::Status s) {
  REQUIRE_FALSE(s.ok());
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  return std::string(s.message());
}

TEST_CASE("valid names") {
  CHECK(ValidateName("name", "web").ok());
  CHECK(ValidateName("name", "a").ok());
  CHECK(ValidateName("name", "web-1").ok());
  CHECK(ValidateName("name", "0abc").ok());
  CHECK(ValidateName("name", std::string(63, 'a')).ok());
}

TEST_CASE("invalid names name the field and the rule") {
  CHECK(Err(ValidateName("name", "")) ==
        std::string(kRule) + "an empty string");
  CHECK(Err(ValidateName("name", std::string(64, 'a'))) ==
        std::string(kRule) + "64 characters");
  CHECK(Err(ValidateName("name", "a<b")) == std::string(kRule) + "\"a<b\"");
  CHECK(Err(ValidateName("name", "../etc")) ==
        std::string(kRule) + "\"../etc\"");
  CHECK(Err(ValidateName("name", "Web")) == std::string(kRule) + "\"Web\"");
  CHECK(Err(ValidateName("name", "-web")) == std::string(kRule) + "\"-web\"");
  CHECK(Err(ValidateName("name", "web-")) == std::string(kRule) + "\"web-\"");
  // Unicode is shown escaped, so the message stays one readable line.
  CHECK(Err(ValidateName("name", "caf\xc3\xa9")) ==
        std::string(kRule) + "\"caf\\303\\251\"");
  CHECK(Err(ValidateName("name", std::string("a\0b", 3))) ==
        std::string(kRule) + "\"a\\000b\"");
  CHECK(Err(ValidateName("workload.name", "a b")) ==
        "workload.name must be a DNS-1123 label (1-63 characters of a-z, 0-9 "
        "and '-', starting and ending with a letter or digit), got \"a b\"");
}

}  // namespace
}  // namespace nest

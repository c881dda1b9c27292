#include "core/log.h"

#include "doctest/doctest.h"

namespace nest {
namespace {

TEST_CASE("log format and level parsing") {
  CHECK(*ParseLogFormat("--log-format", "json") == LogFormat::kJson);
  CHECK(*ParseLogFormat("--log-format", "text") == LogFormat::kText);
  auto bad = ParseLogFormat("--log-format", "xml");
  REQUIRE_FALSE(bad.ok());
  CHECK(bad.status().message() ==
        "--log-format must be \"text\" or \"json\", got \"xml\"");
  CHECK(SetupLogging("test", LogFormat::kJson, "info").ok());
  CHECK(SetupLogging("test", LogFormat::kText, "debug").ok());
  CHECK_FALSE(SetupLogging("test", LogFormat::kText, "loud").ok());
}

}  // namespace
}  // namespace nest

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

TEST_CASE("key=value words become typed JSON fields") {
  CHECK(JsonLogFields("vm web-1 ready boot_s=2.35 attempts=1") ==
        R"(,"boot_s":2.35,"attempts":1)");
  CHECK(JsonLogFields("host h1 down, reason=\"unreachable\", grace_s=30;") ==
        R"(,"reason":"\"unreachable\"","grace_s":30)");
  // Not numbers in JSON: kept as strings.
  CHECK(JsonLogFields("a=inf b=0x10 c=.5 d=nan e=-3 f=-") ==
        R"(,"a":"inf","b":"0x10","c":".5","d":"nan","e":-3,"f":"-")");
  // Reserved, repeated, upper-case and empty keys stay in the message only.
  CHECK(JsonLogFields("msg=x level=y k=1 k=2 Big=3 =4 empty=") == R"(,"k":1)");
  CHECK(JsonLogFields("no fields here") == "");
  CHECK(JsonLogFields("path=/tmp/a\tb") == R"(,"path":"/tmp/a")");
}

}  // namespace
}  // namespace nest

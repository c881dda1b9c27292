#include "core/resources.h"

#include "doctest/doctest.h"

namespace nest {
namespace {

std::string Err(const absl::StatusOr<int64_t>& r) {
  REQUIRE_FALSE(r.ok());
  CHECK(r.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(r.status().message());
}

TEST_CASE("ParseMiB accepts binary suffixes and whole bytes") {
  CHECK(*ParseMiB("memory", "512Mi") == 512);
  CHECK(*ParseMiB("memory", "4Gi") == 4096);
  CHECK(*ParseMiB("memory", "1Ti") == 1024 * 1024);
  CHECK(*ParseMiB("memory", "2048Ki") == 2);
  CHECK(*ParseMiB("memory", "1.5Gi") == 1536);
  CHECK(*ParseMiB("memory", "1048576") == 1);
  CHECK(*ParseMiB("memory", "8589934591Gi") == 8589934591LL * 1024);
}

TEST_CASE("ParseMiB rejects zero, negative, overflow and junk") {
  CHECK(Err(ParseMiB("memory", "0Mi")) ==
        "memory must be a positive size such as \"512Mi\", \"4Gi\" or "
        "\"1Ti\", got \"0Mi\"");
  CHECK(Err(ParseMiB("memory", "-5Gi")) ==
        "memory must be a positive size such as \"512Mi\", \"4Gi\" or "
        "\"1Ti\", got \"-5Gi\"");
  CHECK(Err(ParseMiB("memory", "99999999999Gi")) ==
        "memory must be at most 8589934591Gi (2^63 bytes), got "
        "\"99999999999Gi\"");
  CHECK(Err(ParseMiB("memory", "99999999999999999999999Mi")) ==
        "memory must be at most 8589934591Gi (2^63 bytes), got "
        "\"99999999999999999999999Mi\"");
  CHECK(Err(ParseMiB("memory", "512MB")) ==
        "memory must be a positive size such as \"512Mi\", \"4Gi\" or "
        "\"1Ti\", got \"512MB\"");
  CHECK(Err(ParseMiB("disk", "1000")) ==
        "disk must be a whole number of MiB, got \"1000\"");
  CHECK(Err(ParseMiB("disk", "")) ==
        "disk must be a positive size such as \"512Mi\", \"4Gi\" or "
        "\"1Ti\", got \"\"");
  CHECK(Err(ParseMiB("disk", " 1Gi")).find("got \" 1Gi\"") !=
        std::string::npos);
  CHECK(Err(ParseMiB("disk", "1Gi\n")) ==
        "disk must be a positive size such as \"512Mi\", \"4Gi\" or "
        "\"1Ti\", got \"1Gi\\n\"");
}

TEST_CASE("ParseMilliCpu accepts cores and milli-cores") {
  CHECK(*ParseMilliCpu("cpu", "500m") == 500);
  CHECK(*ParseMilliCpu("cpu", "2") == 2000);
  CHECK(*ParseMilliCpu("cpu", "0.25") == 250);
  CHECK(*ParseMilliCpu("cpu", "1.5") == 1500);
}

TEST_CASE("ParseMilliCpu rejects zero, negative, overflow and junk") {
  CHECK(Err(ParseMilliCpu("cpu", "0")) ==
        "cpu must be a positive CPU quantity such as \"500m\", \"0.5\" or "
        "\"2\", got \"0\"");
  CHECK(Err(ParseMilliCpu("cpu", "-1")) ==
        "cpu must be a positive CPU quantity such as \"500m\", \"0.5\" or "
        "\"2\", got \"-1\"");
  CHECK(Err(ParseMilliCpu("cpu", "99999999999999999999")) ==
        "cpu must be at most 1000000 CPUs, got \"99999999999999999999\"");
  CHECK(Err(ParseMilliCpu("cpu", "2cores")) ==
        "cpu must be a positive CPU quantity such as \"500m\", \"0.5\" or "
        "\"2\", got \"2cores\"");
  CHECK(Err(ParseMilliCpu("cpu", "0.0001")) ==
        "cpu must be a whole number of milli-CPUs (e.g. \"1500m\"), got "
        "\"0.0001\"");
  CHECK(Err(ParseMilliCpu("cpu", "1.5m")) ==
        "cpu must be a whole number of milli-CPUs (e.g. \"1500m\"), got "
        "\"1.5m\"");
}

TEST_CASE("Resources arithmetic and fits") {
  Resources a = Resources::Of(500, 256, 0);
  Resources cap = Resources::Of(1000, 256, 10);
  CHECK(a.fits(cap));
  CHECK_FALSE(cap.fits(a));
  Resources sum = a + a;
  CHECK(sum == Resources::Of(1000, 512, 0));
  CHECK_FALSE(sum.fits(cap));
  CHECK((cap - a) == Resources::Of(500, 0, 10));
  CHECK((a - cap).any_negative());
  CHECK(Resources{}.is_zero());
  CHECK(Resources::Of(1500, 4096, 512).ToString() ==
        "cpu=1500m memory=4Gi disk=512Mi");
  CHECK(FormatMilliCpu(2000) == "2");
  CHECK(FormatMiB(1024 * 1024) == "1Ti");
  CHECK(DimName(Dim::kMemoryMiB) == "memory");
}

}  // namespace
}  // namespace nest

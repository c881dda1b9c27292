#include "net/prefix_set.h"

#include "doctest/doctest.h"

namespace nest::net {
namespace {

Ipv4Prefix P(const char* text) { return ParseIpv4Prefix("p", text).value(); }

TEST_CASE("LowestFree takes the lowest aligned gap") {
  PrefixSet s(P("10.0.0.0/24"));
  CHECK(s.LowestFree(26) == P("10.0.0.0/26"));
  s.Insert(P("10.0.0.1/32"), "a");
  CHECK(s.LowestFree(32) == P("10.0.0.0/32"));
  CHECK(s.LowestFree(26) == P("10.0.0.64/26"));
  s.Insert(P("10.0.0.64/26"), "b");
  CHECK(s.LowestFree(26) == P("10.0.0.128/26"));
  CHECK(s.LowestFree(25) == P("10.0.0.128/25"));
  CHECK(s.LowestFree(24) == std::nullopt);
  CHECK(s.LowestFree(23) == std::nullopt);  // larger than the range
  s.Insert(P("10.0.0.200/32"), "c");
  CHECK(s.LowestFree(25) == std::nullopt);
  CHECK(s.LowestFree(26) == P("10.0.0.128/26"));
  CHECK(s.LowestFree(27) == P("10.0.0.32/27"));
}

TEST_CASE("FindOverlap finds entries before, inside and around") {
  PrefixSet s(P("10.0.0.0/16"));
  s.Insert(P("10.0.1.0/24"), "mid");
  s.Insert(P("10.0.4.0/22"), "big");
  CHECK(s.FindOverlap(P("10.0.0.0/24")) == nullptr);
  CHECK(s.FindOverlap(P("10.0.1.77/32"))->label == "mid");
  CHECK(s.FindOverlap(P("10.0.0.0/23"))->label == "mid");
  CHECK(s.FindOverlap(P("10.0.0.0/16"))->label == "mid");  // lowest first
  CHECK(s.FindOverlap(P("10.0.6.0/24"))->label == "big");
  CHECK(s.FindOverlap(P("10.0.2.0/23")) == nullptr);
}

TEST_CASE("Erase frees exactly the entry") {
  PrefixSet s(P("10.0.0.0/30"));
  s.Insert(P("10.0.0.0/31"), "a");
  CHECK_FALSE(s.Erase(P("10.0.0.0/32")));
  CHECK(s.size() == 1);
  CHECK(s.Erase(P("10.0.0.0/31")));
  CHECK(s.size() == 0);
  CHECK(s.LowestFree(30) == P("10.0.0.0/30"));
}

TEST_CASE("the top of the address space does not wrap") {
  PrefixSet s(P("255.255.255.0/24"));
  s.Insert(P("255.255.255.0/25"), "low");
  CHECK(s.LowestFree(25) == P("255.255.255.128/25"));
  s.Insert(P("255.255.255.128/25"), "high");
  CHECK(s.LowestFree(32) == std::nullopt);
  PrefixSet all(P("0.0.0.0/0"));
  CHECK(all.LowestFree(0) == P("0.0.0.0/0"));
  all.Insert(P("255.255.255.255/32"), "last");
  CHECK(all.LowestFree(1) == P("0.0.0.0/1"));
  CHECK(all.LowestFree(0) == std::nullopt);
}

}  // namespace
}  // namespace nest::net

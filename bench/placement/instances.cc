#include "bench/placement/instances.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/rng.h"

namespace nest::placement::bench {
namespace {

constexpr int64_t kCapacity = 1000;

// Uniform integer in [lo, hi].
int64_t U(Rng& rng, int64_t lo, int64_t hi) {
  return lo + static_cast<int64_t>(rng.Uniform(hi - lo + 1));
}

int64_t Clamp(int64_t x) { return std::clamp<int64_t>(x, 1, kCapacity); }

}  // namespace

const char* ClassName(InstanceClass c) {
  switch (c) {
    case InstanceClass::kUniform:
      return "uniform";
    case InstanceClass::kCorrelated:
      return "correlated";
    case InstanceClass::kAntiCorrelated:
      return "anticorrelated";
  }
  return "?";
}

Instance Generate(InstanceClass klass, int items, uint64_t seed) {
  // The class and size are mixed into the seed so that classes differ.
  SeededRng rng(seed * 1000003 + static_cast<uint64_t>(klass) * 7919 + items);
  Instance inst;
  inst.klass = ClassName(klass);
  inst.name = absl::StrCat(inst.klass, "-", items, "-s", seed);
  inst.capacity = Resources::Of(kCapacity, kCapacity, kCapacity);
  for (int i = 0; i < items; ++i) {
    Resources r;
    switch (klass) {
      case InstanceClass::kUniform:
        r = Resources::Of(U(rng, 50, 500), U(rng, 50, 500), U(rng, 50, 500));
        break;
      case InstanceClass::kCorrelated: {
        int64_t base = U(rng, 50, 450);
        r = Resources::Of(Clamp(base + U(rng, -50, 50)),
                          Clamp(base + U(rng, -50, 50)),
                          Clamp(base + U(rng, -50, 50)));
        break;
      }
      case InstanceClass::kAntiCorrelated: {
        int64_t cpu = U(rng, 50, 450);
        r = Resources::Of(cpu, Clamp(500 - cpu + U(rng, -25, 25)),
                          U(rng, 20, 200));
        break;
      }
    }
    inst.items.push_back(r);
  }
  return inst;
}

absl::StatusOr<Instance> ParseInstanceCsv(const std::string& name,
                                          const std::string& text) {
  Instance inst;
  inst.name = name;
  inst.klass = "file";
  bool have_capacity = false;
  int line_no = 0;
  int dims = 0;
  for (absl::string_view line : absl::StrSplit(text, '\n')) {
    ++line_no;
    line = absl::StripAsciiWhitespace(line);
    if (line.empty() || line[0] == '#') continue;
    std::vector<absl::string_view> fields = absl::StrSplit(line, ',');
    bool is_capacity = absl::AsciiStrToLower(
                           absl::StripAsciiWhitespace(fields[0])) == "capacity";
    if (is_capacity) fields.erase(fields.begin());
    if (is_capacity == have_capacity) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ":", line_no,
          have_capacity
              ? ": expected an item line after the capacity line"
              : ": the first line must be \"capacity,c1[,c2[,c3]]\""));
    }
    if (fields.empty() || static_cast<int>(fields.size()) > kDims ||
        (have_capacity && static_cast<int>(fields.size()) != dims)) {
      return absl::InvalidArgumentError(absl::StrCat(
          name, ":", line_no, ": expected ", have_capacity ? dims : kDims,
          have_capacity ? "" : " or fewer", " comma-separated integers, got \"",
          line, "\""));
    }
    Resources r;
    for (size_t d = 0; d < fields.size(); ++d) {
      int64_t v;
      if (!absl::SimpleAtoi(absl::StripAsciiWhitespace(fields[d]), &v) ||
          v < 0 || (is_capacity && v == 0)) {
        return absl::InvalidArgumentError(
            absl::StrCat(name, ":", line_no, ": field ", d + 1,
                         is_capacity ? " must be a positive integer"
                                     : " must be a non-negative integer",
                         ", got \"", fields[d], "\""));
      }
      r.v[d] = v;
    }
    if (is_capacity) {
      inst.capacity = r;
      dims = static_cast<int>(fields.size());
      have_capacity = true;
      continue;
    }
    if (!r.fits(inst.capacity)) {
      return absl::InvalidArgumentError(
          absl::StrCat(name, ":", line_no,
                       ": item must fit the capacity, got \"", line, "\""));
    }
    inst.items.push_back(r);
  }
  if (!have_capacity) {
    return absl::InvalidArgumentError(
        absl::StrCat(name, ": no \"capacity,...\" line"));
  }
  return inst;
}

std::string ToCsv(const Instance& inst) {
  std::string out = absl::StrCat("# ", inst.name, "\ncapacity");
  for (int d = 0; d < kDims; ++d)
    absl::StrAppend(&out, ",", inst.capacity.v[d]);
  out += "\n";
  for (const Resources& r : inst.items) {
    absl::StrAppend(&out, r.v[0]);
    for (int d = 1; d < kDims; ++d) absl::StrAppend(&out, ",", r.v[d]);
    out += "\n";
  }
  return out;
}

}  // namespace nest::placement::bench

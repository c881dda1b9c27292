// A resource vector: milli-CPU, memory MiB, disk MiB. Algorithms iterate over
// kDims, so a new dimension is added here and nowhere else.
#pragma once

#include <array>
#include <cstdint>
#include <string>
#include "absl/strings/string_view.h"

#include "core/status.h"

namespace nest {

enum class Dim : int { kCpuMilli = 0, kMemoryMiB = 1, kDiskMiB = 2 };
inline constexpr int kDims = 3;

// Name of a dimension as users see it ("cpu", "memory", "disk").
absl::string_view DimName(Dim d);

struct Resources {
  std::array<int64_t, kDims> v{};

  static Resources Of(int64_t milli_cpu, int64_t memory_mib,
                      int64_t disk_mib = 0) {
    return Resources{{milli_cpu, memory_mib, disk_mib}};
  }

  int64_t& operator[](Dim d) { return v[static_cast<int>(d)]; }
  int64_t operator[](Dim d) const { return v[static_cast<int>(d)]; }
  int64_t milli_cpu() const { return (*this)[Dim::kCpuMilli]; }
  int64_t memory_mib() const { return (*this)[Dim::kMemoryMiB]; }
  int64_t disk_mib() const { return (*this)[Dim::kDiskMiB]; }

  Resources& operator+=(const Resources& o);
  Resources& operator-=(const Resources& o);
  friend Resources operator+(Resources a, const Resources& b) { return a += b; }
  friend Resources operator-(Resources a, const Resources& b) { return a -= b; }
  friend bool operator==(const Resources&, const Resources&) = default;

  // True when every dimension of `*this` is <= the same dimension of
  // `capacity`.
  bool fits(const Resources& capacity) const;
  bool is_zero() const;
  bool any_negative() const;

  // "cpu=500m memory=512Mi disk=0Mi".
  std::string ToString() const;
};

// Parses a CPU quantity: "2" (cores), "0.5", "500m" (milli-cores).
// `field` names the input in error messages. Zero and negative are rejected.
absl::StatusOr<int64_t> ParseMilliCpu(absl::string_view field,
                                      absl::string_view text);

// Parses a size into MiB: "512Mi", "4Gi", "1Ti", "1048576Ki", or a plain
// number of bytes that is a whole number of MiB. Rejects zero, negatives,
// junk suffixes and anything that overflows int64 MiB.
absl::StatusOr<int64_t> ParseMiB(absl::string_view field, absl::string_view text);

// Formats milli-CPU the way users write it ("500m", "2").
std::string FormatMilliCpu(int64_t milli);
// Formats MiB the way users write it ("512Mi", "4Gi").
std::string FormatMiB(int64_t mib);

}  // namespace nest

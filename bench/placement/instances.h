// Vector bin-packing instances for the placement benchmark: generated
// classes (formulas in README.md) and the CSV instance format.
#pragma once

#include <string>
#include <vector>

#include "core/resources.h"
#include "core/status.h"

namespace nest::placement::bench {

struct Instance {
  std::string name;
  std::string klass;  // uniform | correlated | anticorrelated | file
  Resources capacity;
  std::vector<Resources> items;
};

enum class InstanceClass { kUniform, kCorrelated, kAntiCorrelated };
const char* ClassName(InstanceClass c);

// Deterministic for (klass, items, seed).
Instance Generate(InstanceClass klass, int items, uint64_t seed);

// Parses the CSV format of README.md. Errors name the line.
absl::StatusOr<Instance> ParseInstanceCsv(const std::string& name,
                                          const std::string& text);
std::string ToCsv(const Instance& instance);

}  // namespace nest::placement::bench

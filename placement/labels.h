// Host labels and the constraints requests put on them.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest::placement {

using Labels = std::map<std::string, std::string>;

// `zone in (a,b)`, `zone notin (c)`, `ssd=true`, `ssd!=true`, `gpu`
// (exists), `!gpu` (absent).
struct LabelConstraint {
  enum class Op { kIn, kNotIn, kExists, kAbsent };
  std::string key;
  Op op = Op::kIn;
  std::vector<std::string> values;  // kIn / kNotIn only

  // True when `labels` satisfy the constraint.
  [[nodiscard]] bool Matches(const Labels& labels) const;
  // The syntax Parse accepts, normalised.
  std::string ToString() const;
  friend bool operator==(const LabelConstraint&,
                         const LabelConstraint&) = default;
};

// Parses one constraint in the syntax above. Errors name `field`.
[[nodiscard]] absl::StatusOr<LabelConstraint> ParseLabelConstraint(
    absl::string_view field, absl::string_view text);

}  // namespace nest::placement

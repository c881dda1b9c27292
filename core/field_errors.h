// Structured validation errors. A request that fails validation returns one
// INVALID_ARGUMENT status carrying every bad field, so the API can answer
// with google.rpc.BadRequest field violations and the CLI can list them.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest {

struct FieldViolation {
  std::string field;        // "spec.resources.memory"
  std::string description;  // "must be a positive size ..., got \"0\""
  friend bool operator==(const FieldViolation&, const FieldViolation&) = default;
};

// Collects violations while validating a request, then yields one status.
// Not thread-safe.
class FieldErrors {
 public:
  // Records a violation of `field`.
  void Add(absl::string_view field, absl::string_view description);
  // Records `status` against `field` when it is an error. A message that
  // already starts with the field name is not repeated in the description.
  void Check(absl::string_view field, const absl::Status& status);

  bool empty() const { return violations_.empty(); }
  const std::vector<FieldViolation>& violations() const { return violations_; }

  // OK when empty; otherwise INVALID_ARGUMENT whose message is
  // "FIELD: DESCRIPTION" of the first violation (plus "(and N more)") and
  // whose payload carries every violation.
  absl::Status ToStatus() const;

 private:
  std::vector<FieldViolation> violations_;
};

// The violations carried by `status` (empty when it carries none).
std::vector<FieldViolation> GetFieldViolations(const absl::Status& status);

}  // namespace nest

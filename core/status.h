// Errors are values: absl::Status / absl::StatusOr<T> everywhere, no
// exceptions across module boundaries. These macros keep call sites short.
#pragma once

#include <utility>

#include "absl/status/status.h"
#include "absl/status/statusor.h"

#define NEST_CONCAT_INNER_(a, b) a##b
#define NEST_CONCAT_(a, b) NEST_CONCAT_INNER_(a, b)

// Returns from the enclosing function when `expr` yields a non-OK status.
#define NEST_RETURN_IF_ERROR(expr)                 \
  do {                                             \
    ::absl::Status nest_status_ = (expr);          \
    if (!nest_status_.ok()) return nest_status_;   \
  } while (0)

// `NEST_ASSIGN_OR_RETURN(auto x, Foo());` binds the value of a StatusOr or
// returns its error.
#define NEST_ASSIGN_OR_RETURN(lhs, expr) \
  NEST_ASSIGN_OR_RETURN_IMPL_(NEST_CONCAT_(nest_statusor_, __LINE__), lhs, expr)
#define NEST_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                                \
  if (!tmp.ok()) return std::move(tmp).status();    \
  lhs = std::move(tmp).value()

namespace nest {

// Prefixes a status message with context, keeping the code.
absl::Status Annotate(const absl::Status& status, absl::string_view context);

}  // namespace nest

#include "placement/labels.h"

#include <algorithm>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"

namespace nest::placement {
namespace {

bool ValidKey(absl::string_view s) {
  if (s.empty()) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return absl::ascii_isalnum(c) || c == '-' || c == '_' || c == '.' ||
           c == '/';
  });
}

absl::Status Invalid(absl::string_view field, absl::string_view text) {
  return absl::InvalidArgumentError(absl::StrCat(
      field,
      " must be a label constraint such as \"zone in (a,b)\", "
      "\"zone notin (c)\", \"ssd=true\", \"ssd!=true\", \"gpu\" or \"!gpu\", "
      "got \"",
      text, "\""));
}

}  // namespace

bool LabelConstraint::Matches(const Labels& labels) const {
  auto it = labels.find(key);
  switch (op) {
    case Op::kExists:
      return it != labels.end();
    case Op::kAbsent:
      return it == labels.end();
    case Op::kIn:
      return it != labels.end() && std::find(values.begin(), values.end(),
                                             it->second) != values.end();
    case Op::kNotIn:
      return it == labels.end() || std::find(values.begin(), values.end(),
                                             it->second) == values.end();
  }
  return false;
}

std::string LabelConstraint::ToString() const {
  switch (op) {
    case Op::kExists:
      return key;
    case Op::kAbsent:
      return absl::StrCat("!", key);
    case Op::kIn:
      if (values.size() == 1) return absl::StrCat(key, "=", values[0]);
      return absl::StrCat(key, " in (", absl::StrJoin(values, ","), ")");
    case Op::kNotIn:
      if (values.size() == 1) return absl::StrCat(key, "!=", values[0]);
      return absl::StrCat(key, " notin (", absl::StrJoin(values, ","), ")");
  }
  return key;
}

absl::StatusOr<LabelConstraint> ParseLabelConstraint(absl::string_view field,
                                                     absl::string_view text) {
  absl::string_view t = absl::StripAsciiWhitespace(text);
  LabelConstraint c;
  size_t ne = t.find("!=");
  size_t eq = t.find('=');
  if (ne != absl::string_view::npos || eq != absl::string_view::npos) {
    bool negate = ne != absl::string_view::npos;
    size_t at = negate ? ne : eq;
    absl::string_view key = absl::StripAsciiWhitespace(t.substr(0, at));
    absl::string_view value =
        absl::StripAsciiWhitespace(t.substr(at + (negate ? 2 : 1)));
    if (!ValidKey(key) || !ValidKey(value)) return Invalid(field, text);
    c.key = std::string(key);
    c.op = negate ? LabelConstraint::Op::kNotIn : LabelConstraint::Op::kIn;
    c.values.push_back(std::string(value));
    return c;
  }
  size_t open = t.find('(');
  if (open != absl::string_view::npos) {
    if (t.back() != ')') return Invalid(field, text);
    std::vector<absl::string_view> words =
        absl::StrSplit(t.substr(0, open), ' ', absl::SkipWhitespace());
    if (words.size() != 2) return Invalid(field, text);
    if (words[1] == "in") {
      c.op = LabelConstraint::Op::kIn;
    } else if (words[1] == "notin") {
      c.op = LabelConstraint::Op::kNotIn;
    } else {
      return Invalid(field, text);
    }
    if (!ValidKey(words[0])) return Invalid(field, text);
    c.key = std::string(words[0]);
    absl::string_view inner = t.substr(open + 1, t.size() - open - 2);
    for (absl::string_view v : absl::StrSplit(inner, ',')) {
      v = absl::StripAsciiWhitespace(v);
      if (!ValidKey(v)) return Invalid(field, text);
      c.values.push_back(std::string(v));
    }
    return c;
  }
  bool absent = !t.empty() && t[0] == '!';
  absl::string_view key = absent ? t.substr(1) : t;
  if (!ValidKey(key)) return Invalid(field, text);
  c.key = std::string(key);
  c.op = absent ? LabelConstraint::Op::kAbsent : LabelConstraint::Op::kExists;
  return c;
}

}  // namespace nest::placement

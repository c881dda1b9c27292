#include "cli/spec.h"

#include <algorithm>
#include <map>
#include <sstream>
#include <utility>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "cli/proto_doc.h"
#include "cli/spec_files.h"
#include "core/container_files.h"
#include "core/resources.h"
#include "core/validate.h"
#include "yaml-cpp/eventhandler.h"
#include "yaml-cpp/parser.h"
#include "yaml-cpp/yaml.h"

namespace nest::cli {
namespace {

constexpr int kMaxReplicas = 10000;
constexpr int kMaxVms = 10000;
constexpr int kMaxVcpus = 256;

// Drops the leading field name core's parsers put in their messages.
std::string Describe(const absl::Status& status, absl::string_view field) {
  absl::string_view m = status.message();
  absl::ConsumePrefix(&m, field);
  return std::string(absl::StripLeadingAsciiWhitespace(m));
}

void CheckName(absl::string_view field, absl::string_view value,
               std::vector<FieldViolation>* out) {
  absl::Status s = ValidateName(field, value);
  if (!s.ok()) out->push_back({std::string(field), Describe(s, field)});
}

void CheckRange(absl::string_view field, int64_t value, int64_t lo, int64_t hi,
                std::vector<FieldViolation>* out) {
  if (value < lo || value > hi) {
    out->push_back(
        {std::string(field),
         absl::StrCat("must be between ", lo, " and ", hi, ", got ", value)});
  }
}

void CheckCpu(absl::string_view field, const std::string& value,
              std::vector<FieldViolation>* out) {
  if (value.empty()) return;
  auto parsed = ParseMilliCpu(field, value);
  if (!parsed.ok()) {
    out->push_back({std::string(field), Describe(parsed.status(), field)});
  }
}

void CheckSize(absl::string_view field, const std::string& value,
               std::vector<FieldViolation>* out) {
  if (value.empty()) return;
  auto parsed = ParseMiB(field, value);
  if (!parsed.ok()) {
    out->push_back({std::string(field), Describe(parsed.status(), field)});
  }
}

bool IsEnvName(absl::string_view name) {
  if (name.empty() || absl::ascii_isdigit(name[0])) return false;
  for (char c : name) {
    if (!absl::ascii_isalnum(c) && c != '_') return false;
  }
  return true;
}

// The line of the node at a dotted path ("spec.ports[1].host_port"), or of
// the nearest ancestor that exists.
int LineAt(const YAML::Node& doc, absl::string_view path) {
  YAML::Node node;
  node.reset(doc);
  int line = node.Mark().line + 1;
  for (absl::string_view part : absl::StrSplit(path, '.')) {
    std::string key(part);
    int index = -1;
    if (size_t b = part.find('['); b != absl::string_view::npos) {
      key = std::string(part.substr(0, b));
      if (!absl::SimpleAtoi(part.substr(b + 1, part.size() - b - 2), &index)) {
        index = -1;
      }
    }
    if (!node.IsMap() || !node[key]) break;
    // Node::operator= assigns through to the document; reset() rebinds.
    node.reset(node[key]);
    if (node.Mark().line >= 0) line = node.Mark().line + 1;
    if (index >= 0) {
      if (!node.IsSequence() || index >= static_cast<int>(node.size())) break;
      node.reset(node[index]);
      if (node.Mark().line >= 0) line = node.Mark().line + 1;
    }
  }
  return line;
}

// Which document of `text` holds 0-based `line`: "---" starts a new one
// once the current one has content.
int DocumentAtLine(absl::string_view text, int line) {
  int doc = 1;
  bool content = false;
  int n = 0;
  for (absl::string_view l : absl::StrSplit(text, '\n')) {
    if (n++ >= line) break;
    absl::string_view t = absl::StripAsciiWhitespace(l);
    if (absl::StartsWith(t, "---")) {
      if (content) ++doc;
      content = false;
    } else if (!t.empty() && t[0] != '#') {
      content = true;
    }
  }
  return doc;
}

class SpecParser {
 public:
  SpecParser(absl::string_view source, absl::string_view base_dir)
      : source_(source), base_dir_(base_dir) {}

  void Document(const YAML::Node& doc, int index) {
    if (doc.IsNull()) return;
    if (doc.IsSequence()) {
      for (size_t i = 0; i < doc.size(); ++i) {
        Object(doc[i], absl::StrCat("document ", index, " item ", i + 1));
      }
      return;
    }
    Object(doc, absl::StrCat("document ", index));
  }

  std::vector<nest::v1::ApplyObject>& objects() { return objects_; }
  std::vector<FieldViolation>& violations() { return violations_; }

 private:
  void Add(std::string where, const YAML::Node& doc, const std::string& field,
           const std::string& description, int line = 0) {
    if (line == 0) line = LineAt(doc, field);
    violations_.push_back(
        {field, absl::StrCat(description, " (", where, ", line ", line, ")")});
  }

  void Object(const YAML::Node& doc, std::string where) {
    if (!doc.IsMap()) {
      Add(where, doc, "kind",
          "each document must be a mapping with kind, name and spec");
      return;
    }
    // Checked first: every later message may quote these strings.
    std::vector<NodeViolation> bad_text;
    CheckUtf8(doc, "", &bad_text);
    for (const NodeViolation& v : bad_text) {
      Add(where, doc, v.field, v.description, v.line);
    }
    if (!bad_text.empty()) return;
    std::string kind, name;
    if (doc["kind"] && doc["kind"].IsScalar()) kind = doc["kind"].Scalar();
    if (doc["name"] && doc["name"].IsScalar()) name = doc["name"].Scalar();
    if (kind.empty()) {
      Add(where, doc, "kind", "is required (VmGroup or Workload)");
      return;
    }
    if (kind != kKindVmGroup && kind != kKindWorkload) {
      Add(where, doc, "kind",
          absl::StrCat("unknown kind \"", absl::CEscape(kind),
                       "\" (expected VmGroup or Workload)"));
      return;
    }
    absl::StrAppend(&where, ", ", kind, " ", name.empty() ? "?" : name);
    for (auto it = doc.begin(); it != doc.end(); ++it) {
      std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
      if (key == "kind" || key == "name" || key == "spec" || key == "status") {
        continue;
      }
      Add(where, doc, key,
          "unknown field (expected kind, name, spec; status is ignored)",
          it->first.Mark().line + 1);
    }
    if (!doc["spec"] || doc["spec"].IsNull()) {
      Add(where, doc, "spec", "is required");
      return;
    }
    std::vector<NodeViolation> read;
    nest::v1::ApplyObject object;
    std::vector<FieldViolation> semantic;
    if (kind == kKindWorkload) {
      auto* w = object.mutable_workload();
      w->set_name(name);
      std::vector<FileFields> files =
          TakeFileFields(doc["spec"], "spec", base_dir_, &read);
      YamlToMessage(doc["spec"], "spec", w->mutable_spec(), &read);
      ApplyFileFields(files, w->mutable_spec());
      semantic = ValidateWorkload(*w);
    } else {
      auto* g = object.mutable_group();
      g->set_name(name);
      YamlToMessage(doc["spec"], "spec", g->mutable_spec(), &read);
      semantic = ValidateVmGroup(*g);
    }
    for (const NodeViolation& v : read) {
      Add(where, doc, v.field, v.description, v.line);
    }
    for (const FieldViolation& v : semantic) {
      // A field that could not be read is reported once, as unreadable.
      bool unreadable = std::any_of(read.begin(), read.end(), [&](auto& r) {
        return r.field == v.field || absl::StartsWith(v.field, r.field + ".");
      });
      if (!unreadable) Add(where, doc, v.field, v.description);
    }
    if (!read.empty() || !semantic.empty()) return;
    std::string key = absl::StrCat(kind, "/", name);
    if (auto [it, fresh] = seen_.emplace(key, where); !fresh) {
      Add(where, doc, "name",
          absl::StrCat("duplicate ", kind, " ", name, " (first in ", it->second,
                       ")"));
      return;
    }
    objects_.push_back(std::move(object));
  }

  std::string source_;
  std::string base_dir_;
  std::vector<nest::v1::ApplyObject> objects_;
  std::vector<FieldViolation> violations_;
  std::map<std::string, std::string> seen_;
};

}  // namespace

std::vector<FieldViolation> ValidateWorkload(
    const nest::v1::ApplyWorkload& workload) {
  std::vector<FieldViolation> out;
  CheckName("name", workload.name(), &out);
  const nest::v1::WorkloadSpec& s = workload.spec();
  if (s.image().empty()) {
    out.push_back({"spec.image", "is required (an imported image name)"});
  }
  CheckRange("spec.replicas", s.replicas(), 0, kMaxReplicas, &out);
  CheckCpu("spec.resources.cpu", s.resources().cpu(), &out);
  CheckSize("spec.resources.memory", s.resources().memory(), &out);
  CheckSize("spec.resources.disk", s.resources().disk(), &out);
  for (const auto* vars : {&s.env(), &s.secret_env()}) {
    const char* field = vars == &s.env() ? "spec.env." : "spec.secret_env.";
    for (const auto& [key, value] : *vars) {
      if (!IsEnvName(key)) {
        out.push_back({absl::StrCat(field, key),
                       "must be a variable name of letters, digits and '_' "
                       "not starting with a digit"});
      }
    }
  }
  for (int i = 0; i < s.ports_size(); ++i) {
    const nest::v1::Port& p = s.ports(i);
    std::string at = absl::StrCat("spec.ports[", i, "]");
    if (!p.name().empty()) CheckName(at + ".name", p.name(), &out);
    CheckRange(at + ".container_port", p.container_port(), 1, 65535, &out);
    CheckRange(at + ".host_port", p.host_port(), 0, 65535, &out);
    std::string proto = absl::AsciiStrToLower(p.protocol());
    if (!proto.empty() && proto != "tcp" && proto != "udp") {
      out.push_back(
          {at + ".protocol",
           absl::StrCat("must be tcp or udp, got \"", p.protocol(), "\"")});
    }
  }
  if (!s.group().empty()) CheckName("spec.group", s.group(), &out);
  CheckRange("spec.stop_grace_s", s.stop_grace_s(), 0, 3600, &out);
  CheckRange("spec.max_unavailable", s.max_unavailable(), 0, kMaxReplicas,
             &out);
  std::vector<ContainerFileView> files;
  for (const auto& f : s.files()) {
    files.push_back({f.path(), static_cast<int64_t>(f.content().size()),
                     static_cast<int64_t>(f.mode())});
  }
  FieldErrors file_errors;
  CheckContainerFiles(files, "spec.files", file_errors);
  out.insert(out.end(), file_errors.violations().begin(),
             file_errors.violations().end());
  return out;
}

std::vector<FieldViolation> ValidateVmGroup(
    const nest::v1::ApplyVmGroup& group) {
  std::vector<FieldViolation> out;
  CheckName("name", group.name(), &out);
  const nest::v1::VmGroupSpec& s = group.spec();
  if (!s.has_shape()) {
    out.push_back({"spec.shape", "is required (vcpus and memory)"});
  } else {
    CheckRange("spec.shape.vcpus", s.shape().vcpus(), 1, kMaxVcpus, &out);
    if (s.shape().memory().empty()) {
      out.push_back({"spec.shape.memory", "is required, e.g. \"256Mi\""});
    }
    CheckSize("spec.shape.memory", s.shape().memory(), &out);
    CheckSize("spec.shape.disk", s.shape().disk(), &out);
  }
  CheckRange("spec.min_vms", s.min_vms(), 0, kMaxVms, &out);
  CheckRange("spec.max_vms", s.max_vms(), 0, kMaxVms, &out);
  if (s.max_vms() != 0 && s.max_vms() < s.min_vms()) {
    out.push_back(
        {"spec.max_vms", absl::StrCat("must be at least min_vms (", s.min_vms(),
                                      "), got ", s.max_vms())});
  }
  if (s.desired_vms() != 0 &&
      (s.desired_vms() < s.min_vms() ||
       (s.max_vms() != 0 && s.desired_vms() > s.max_vms()))) {
    out.push_back({"spec.desired_vms",
                   absl::StrCat("must be between min_vms (", s.min_vms(),
                                ") and max_vms (", s.max_vms(), "), got ",
                                s.desired_vms())});
  }
  if (s.policy() == nest::v1::PLACEMENT_POLICY_SPREAD &&
      s.spread_label().empty()) {
    out.push_back({"spec.spread_label",
                   "is required when policy is spread (the host label to "
                   "spread across)"});
  }
  CheckRange("spec.scale_up_cooldown_s", s.scale_up_cooldown_s(), 0, 86400,
             &out);
  CheckRange("spec.scale_down_cooldown_s", s.scale_down_cooldown_s(), 0, 86400,
             &out);
  // 0 is off (for the tolerance: the default, 10).
  CheckRange("spec.target_cpu_percent", s.target_cpu_percent(), 0, 100, &out);
  CheckRange("spec.target_memory_percent", s.target_memory_percent(), 0, 100,
             &out);
  CheckRange("spec.utilization_tolerance_percent",
             s.utilization_tolerance_percent(), 0, 100, &out);
  return out;
}

std::string KindOf(const nest::v1::ApplyObject& object) {
  return std::string(object.has_group() ? kKindVmGroup : kKindWorkload);
}

std::string NameOf(const nest::v1::ApplyObject& object) {
  return object.has_group() ? object.group().name() : object.workload().name();
}

namespace {

// Discards parse events; only the number of documents matters.
class CountingHandler : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark&, YAML::anchor_t) override {}
  void OnAlias(const YAML::Mark&, YAML::anchor_t) override {}
  void OnScalar(const YAML::Mark&, const std::string&, YAML::anchor_t,
                const std::string&) override {}
  void OnSequenceStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                       YAML::EmitterStyle::value) override {}
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark&, const std::string&, YAML::anchor_t,
                  YAML::EmitterStyle::value) override {}
  void OnMapEnd() override {}
};

}  // namespace

bool YamlStreamEnds(absl::string_view text) {
  std::stringstream in{std::string(text)};
  CountingHandler handler;
  try {
    YAML::Parser parser(in);
    for (size_t docs = 0; parser.HandleNextDocument(handler); ++docs) {
      if (docs > text.size() + 1) return false;
    }
  } catch (const YAML::Exception&) {
    // A syntax error ends the stream; ParseSpec reports it.
  }
  return true;
}

absl::StatusOr<std::vector<nest::v1::ApplyObject>> ParseSpec(
    absl::string_view text, absl::string_view source,
    absl::string_view base_dir) {
  // yaml-cpp 0.7's LoadAll never returns on some malformed streams (one
  // starting with ",": yaml-cpp issue 1040), allocating until killed.
  if (!YamlStreamEnds(text)) {
    return absl::InvalidArgumentError(
        absl::StrCat(source,
                     ": invalid YAML: the document stream does not end (is the "
                     "file YAML?)"));
  }
  std::vector<YAML::Node> docs;
  try {
    docs = YAML::LoadAll(std::string(text));
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": document ", DocumentAtLine(text, e.mark.line),
                     ", line ", e.mark.line + 1, ", column ", e.mark.column + 1,
                     ": invalid YAML: ", e.msg));
  }
  SpecParser parser(source, base_dir);
  try {
    for (size_t i = 0; i < docs.size(); ++i) {
      parser.Document(docs[i], static_cast<int>(i) + 1);
    }
  } catch (const YAML::Exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(source, ": line ", e.mark.line + 1, ": ", e.msg));
  }
  if (!parser.violations().empty()) {
    size_t n = parser.violations().size();
    return InvalidWithViolations(
        absl::StrCat(source, ": ", n, " invalid field", n == 1 ? "" : "s"),
        parser.violations());
  }
  if (parser.objects().empty()) {
    return absl::InvalidArgumentError(absl::StrCat(
        source,
        ": no objects found (expected documents of kind VmGroup or "
        "Workload)"));
  }
  return std::move(parser.objects());
}

}  // namespace nest::cli

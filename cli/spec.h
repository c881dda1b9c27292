// Declarative specs: YAML documents `{kind: VmGroup|Workload, name, spec}`
// turned into nest.v1 ApplyObjects, with local validation that names every
// bad field. This is the same document shape `nestctl get -o yaml|json`
// prints, so its output can be applied again; a `status:` key is ignored.
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cli/errors.h"
#include "nest/v1/workload.pb.h"

namespace nest::cli {

inline constexpr absl::string_view kKindVmGroup = "VmGroup";
inline constexpr absl::string_view kKindWorkload = "Workload";

// Parses one or more YAML documents (JSON is YAML too). A document is one
// object, or a list of objects (what `get -o json` prints for a list).
// `source` names the input in messages ("demo.yaml", "stdin").
//
// On any problem returns INVALID_ARGUMENT whose message names the source
// and whose payload (see ViolationsOf) holds one violation per bad field:
// field = dotted path within the document ("spec.resources.memory"),
// description = what was expected and where ("..., got \"x\" (document 2,
// Workload hello, line 14)"). A YAML syntax error is one line naming the
// document, line and column.
// False when yaml-cpp would never finish reading `text` as a document
// stream (more documents than a text of its size can hold); ParseSpec
// refuses such a text instead of hanging.
bool YamlStreamEnds(absl::string_view text);

// ParseSpec, above. A Workload's `spec.files` entries may name a local file (`from_file`)
// instead of giving `content`; it is read relative to `base_dir` (the
// directory of the spec file; the current directory when empty).
absl::StatusOr<std::vector<nest::v1::ApplyObject>> ParseSpec(
    absl::string_view text, absl::string_view source,
    absl::string_view base_dir = "");

// Local checks of a single object; paths are relative to the document
// ("name", "spec.replicas"). Empty when valid. The server validates again.
std::vector<FieldViolation> ValidateWorkload(
    const nest::v1::ApplyWorkload& workload);
std::vector<FieldViolation> ValidateVmGroup(
    const nest::v1::ApplyVmGroup& group);

// "Workload" or "VmGroup" for an object.
std::string KindOf(const nest::v1::ApplyObject& object);
std::string NameOf(const nest::v1::ApplyObject& object);

}  // namespace nest::cli

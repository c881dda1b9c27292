// The parts of a YAML spec the schema-driven reader (cli/proto_doc.h)
// cannot take alone: a Workload's `spec.files` entries, whose `from_file`
// names a local file and whose `mode` is written in octal, and the check
// that every string in a document is UTF-8.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "cli/proto_doc.h"
#include "nest/v1/workload.pb.h"
#include "yaml-cpp/yaml.h"

namespace nest::cli {

// What TakeFileFields read of `spec.files[index]`.
struct FileFields {
  size_t index = 0;
  std::optional<std::string> content;  // from from_file
  std::optional<uint32_t> mode;
};

// Removes `from_file` and `mode` from each entry of `spec.files` (a YAML
// workload spec, changed in place) and returns what they said. `from_file`
// is read relative to `base_dir` (the current directory when empty) and
// excludes `content`; `mode` is octal when it starts with 0 ("0400",
// "0o400") and decimal otherwise. Problems are appended to `violations`
// with paths under `path` ("spec.files[1].from_file").
std::vector<FileFields> TakeFileFields(YAML::Node spec, const std::string& path,
                                       const std::string& base_dir,
                                       std::vector<NodeViolation>* violations);

// Puts what TakeFileFields read into the workload spec read from the rest.
void ApplyFileFields(const std::vector<FileFields>& fields,
                     nest::v1::WorkloadSpec* spec);

// Appends a violation for every key or scalar under `node` that is not
// valid UTF-8, named by its dotted path under `path` ("spec.command[0]").
void CheckUtf8(const YAML::Node& node, const std::string& path,
               std::vector<NodeViolation>* violations);

}  // namespace nest::cli

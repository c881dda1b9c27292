// ParseSpec on hostile YAML (and JSON). Accepted objects pass the local
// validators, and printing them the way `nestctl get -o yaml|json` does
// gives text that parses back to the same objects, so a spec can always be
// applied again. Rejections are INVALID_ARGUMENT naming the source.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <sstream>
#include <string>
#include <vector>

#include "absl/strings/match.h"
#include "absl/strings/string_view.h"
#include "cli/documents.h"
#include "cli/spec.h"
#include "fuzz/check.h"
#include "google/protobuf/stubs/logging.h"
#include "google/protobuf/util/message_differencer.h"

namespace {

using nest::v1::ApplyObject;

void CheckReparses(const std::vector<ApplyObject>& objects,
                   nest::cli::Format format) {
  std::vector<nest::cli::Json> docs;
  for (const ApplyObject& o : objects) docs.push_back(nest::cli::ToDocument(o));
  std::string text = nest::cli::RenderDocuments(docs, format, false);
  absl::StatusOr<std::vector<ApplyObject>> again =
      nest::cli::ParseSpec(text, "printed");
  if (!again.ok()) {
    std::fprintf(stderr, "printed:\n%s\nerror: %s\n", text.c_str(),
                 again.status().ToString().c_str());
  }
  FUZZ_CHECK(again.ok());
  FUZZ_CHECK(again->size() == objects.size());
  for (size_t i = 0; i < objects.size(); ++i) {
    FUZZ_CHECK(google::protobuf::util::MessageDifferencer::Equals(objects[i],
                                                                  (*again)[i]));
  }
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // Violations quoting invalid UTF-8 make protobuf log a line each time they
  // are serialized into the status payload, which only slows the run.
  google::protobuf::SetLogHandler(nullptr);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<std::vector<ApplyObject>> objects =
      nest::cli::ParseSpec(text, "fuzz.yaml");
  if (!objects.ok()) {
    FUZZ_CHECK(objects.status().code() == absl::StatusCode::kInvalidArgument);
    FUZZ_CHECK(absl::StartsWith(objects.status().message(), "fuzz.yaml: "));
    return 0;
  }
  FUZZ_CHECK(!objects->empty());
  for (const ApplyObject& o : *objects) {
    FUZZ_CHECK(o.has_group() != o.has_workload());
    if (o.has_workload()) {
      FUZZ_CHECK(nest::cli::ValidateWorkload(o.workload()).empty());
    } else {
      FUZZ_CHECK(nest::cli::ValidateVmGroup(o.group()).empty());
    }
  }
  // Known open bug (docs/security.md): ParseSpec accepts strings that are
  // not UTF-8, which proto3 cannot carry and which make the json printer
  // throw. Until ParseSpec refuses them, the print round trip is checked
  // only for objects that survive the wire.
  for (const ApplyObject& o : *objects) {
    ApplyObject wire;
    if (!wire.ParseFromString(o.SerializeAsString())) return 0;
  }
  CheckReparses(*objects, nest::cli::Format::kYaml);
  CheckReparses(*objects, nest::cli::Format::kJson);
  return 0;
}

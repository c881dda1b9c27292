// Generic translation between nest.v1 messages and the document trees that
// nestctl reads and prints. Field names are the proto's lower_snake_case
// names; enums are written without their type prefix, in lower case
// ("always", "on_failure"); fields at their default value are omitted.
#pragma once

#include <string>
#include <vector>

#include "google/protobuf/descriptor.h"
#include "google/protobuf/message.h"
#include "nlohmann/json.hpp"
#include "yaml-cpp/yaml.h"

namespace nest::cli {

// A document tree: insertion-ordered so output follows proto field order.
using Json = nlohmann::ordered_json;

// "always" for RESTART_POLICY_ALWAYS.
std::string EnumShortName(const google::protobuf::EnumValueDescriptor* value);

// Every non-default field of `msg` as a tree. Timestamps become RFC 3339
// strings, map keys are sorted.
Json MessageToJson(const google::protobuf::Message& msg);

// A violation found while reading a YAML tree into a message: `field` is the
// dotted path ("spec.ports[0].container_port"), `line` is 1-based.
struct NodeViolation {
  std::string field;
  std::string description;
  int line = 0;
};

// Reads the YAML mapping `node` into `msg`, schema-driven: scalars are read
// as the field's type whatever YAML would guess, null means "not set".
// Unknown fields, wrong shapes and out-of-range numbers are appended to
// `violations` with paths under `path`; reading continues past them.
void YamlToMessage(const YAML::Node& node, const std::string& path,
                   google::protobuf::Message* msg,
                   std::vector<NodeViolation>* violations);

// Emits `doc` as a YAML block document (no leading "---"). Strings that YAML
// would read as another type ("1", "true", "") are quoted.
std::string JsonToYaml(const Json& doc);

}  // namespace nest::cli

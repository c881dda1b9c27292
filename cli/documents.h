// How nest.v1 objects look to users: documents (json/yaml) in the shape
// `apply` accepts, and aligned tables (table/wide).
#pragma once

#include <string>
#include <vector>

#include "absl/status/statusor.h"
#include "absl/strings/string_view.h"
#include "cli/proto_doc.h"
#include "nest/v1/container.pb.h"
#include "nest/v1/event.pb.h"
#include "nest/v1/host.pb.h"
#include "nest/v1/image.pb.h"
#include "nest/v1/usage.pb.h"
#include "nest/v1/vm.pb.h"
#include "nest/v1/vm_group.pb.h"
#include "nest/v1/workload.pb.h"

namespace nest::cli {

enum class Format { kTable, kWide, kJson, kYaml };

// "table", "wide", "json", "yaml".
absl::StatusOr<Format> ParseFormat(absl::string_view text);

// Documents. Workloads and VM groups are `{kind, name, spec, status}`, the
// shape `apply` reads (it ignores `status`, which also carries the
// generation). Other kinds are `{kind, name, labels?, ...fields}`.
Json ToDocument(const nest::v1::Workload& w);
Json ToDocument(const nest::v1::VmGroup& g);
Json ToDocument(const nest::v1::Host& h);
Json ToDocument(const nest::v1::Vm& v);
Json ToDocument(const nest::v1::Container& c);
Json ToDocument(const nest::v1::Image& i);
Json ToDocument(const nest::v1::Event& e);
// `{kind, name, spec}` of one object of a spec file.
Json ToDocument(const nest::v1::ApplyObject& o);

// Prints documents: json gives one object for `single`, else an array;
// yaml gives documents separated by "---". Table formats are not handled
// here.
std::string RenderDocuments(const std::vector<Json>& docs, Format format,
                            bool single);

// Tables; `wide` adds columns.
std::string RenderTable(const std::vector<nest::v1::Workload>& items,
                        bool wide);
std::string RenderTable(const std::vector<nest::v1::VmGroup>& items, bool wide);
std::string RenderTable(const std::vector<nest::v1::Host>& items, bool wide);
std::string RenderTable(const std::vector<nest::v1::Vm>& items, bool wide);
std::string RenderTable(const std::vector<nest::v1::Container>& items,
                        bool wide);
std::string RenderTable(const std::vector<nest::v1::Image>& items, bool wide);
std::string RenderTable(const std::vector<nest::v1::Event>& items, bool wide);
std::string RenderTable(const std::vector<nest::v1::HostUsage>& items,
                        bool wide);
std::string RenderTable(const std::vector<nest::v1::VmUsage>& items, bool wide);
std::string RenderTable(const std::vector<nest::v1::ContainerUsage>& items,
                        bool wide);

// One event as a single line for streams (`events --follow`).
std::string EventLine(const nest::v1::Event& e);

// "2026-11-26T12:00:00Z"; "" for an unset timestamp.
std::string FormatTime(const google::protobuf::Timestamp& t);
// "1.5Ki", "12.0Mi", "3 B": sizes in bytes for humans.
std::string FormatBytes(int64_t bytes);

}  // namespace nest::cli

// Translation between nest.v1 protos and the control layer's inputs and
// views. The only place that knows both; nothing generated goes below api/.
//
// Inputs are translated without judging them: unknown enum numbers become
// names control/ rejects with the right field path, so every violation of a
// request is reported by one validation pass (control/commands).
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "control/commands.h"
#include "google/protobuf/message.h"
#include "nest/v1/container.pb.h"
#include "nest/v1/event.pb.h"
#include "nest/v1/host.pb.h"
#include "nest/v1/image.pb.h"
#include "nest/v1/placement.pb.h"
#include "nest/v1/usage.pb.h"
#include "nest/v1/vm.pb.h"
#include "nest/v1/vm_group.pb.h"
#include "nest/v1/workload.pb.h"

namespace nest::api {

// Deterministic bytes of `m` (map fields sorted), for hashing and storing.
std::string SerializeDeterministic(const google::protobuf::Message& m);

// The idempotency identity of a mutating request: its request_id, a hash
// of the method and the whole request, and expected_generation.
control::WriteMeta MetaOf(absl::string_view method,
                          const google::protobuf::Message& request,
                          const v1::WriteOptions& options);

control::ListOptions ListOf(const v1::PageRequest& page);

// ---- proto -> control ----
control::HostInput FromProto(const v1::CreateHostRequest& r);
control::GroupSpecInput FromProto(const v1::VmGroupSpec& s);
control::WorkloadSpecInput FromProto(const v1::WorkloadSpec& s);
// Objects that set neither a group nor a workload become workloads with
// no name, which validation reports.
std::vector<control::ApplyItem> FromProto(
    const google::protobuf::RepeatedPtrField<v1::ApplyObject>& objects);

// ---- control -> proto ----
v1::Host ToProto(const control::HostView& v);
v1::VmGroup ToProto(const control::GroupView& v);
v1::Vm ToProto(const control::VmView& v);
v1::Workload ToProto(const control::WorkloadView& v);
// Secret values read as "<secret>", as in a Workload.
v1::WorkloadRevision ToProto(const control::RevisionView& v);
v1::Container ToProto(const control::ContainerView& v);
v1::Image ToProto(const control::ImageView& v);
v1::Event ToProto(const store::Event& e);
v1::ApplyChange ToProto(const control::ApplyChange& c);
v1::ExplainResponse ToProto(const control::ExplainView& v);
v1::PlannedAction ToProto(const control::PlannedActionView& a);
v1::ContainerStats ToProto(const control::ContainerStatsView& s);
v1::GetUsageResponse ToProto(const control::UsageView& v);

// The spec of a stored object as the API shows it (canonical quantities),
// so that reading an object and applying it again changes nothing.
v1::VmGroupSpec SpecOf(const store::VmGroup& g);
v1::WorkloadSpec SpecOf(const store::Workload& w);

}  // namespace nest::api

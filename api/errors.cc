#include "api/errors.h"

#include "core/field_errors.h"
#include "nest/v1/common.pb.h"

namespace nest::api {
namespace {

// The standard type URL, so that any gRPC client's error-details helper
// recognises our violations.
constexpr char kBadRequestUrl[] = "type.googleapis.com/google.rpc.BadRequest";

}  // namespace

grpc::Status ToGrpcStatus(const absl::Status& status) {
  if (status.ok()) return grpc::Status::OK;
  auto code = static_cast<grpc::StatusCode>(status.code());
  if (status.code() == absl::StatusCode::kUnknown) {
    code = grpc::StatusCode::INTERNAL;
  }
  std::string message(status.message());
  std::vector<FieldViolation> violations = GetFieldViolations(status);
  if (violations.empty()) return grpc::Status(code, message);

  v1::BadRequest bad;
  for (const FieldViolation& v : violations) {
    auto* fv = bad.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
  }
  v1::RpcStatus details;
  details.set_code(static_cast<int>(code));
  details.set_message(message);
  auto* any = details.add_details();
  any->set_type_url(kBadRequestUrl);
  any->set_value(bad.SerializeAsString());
  return grpc::Status(code, message, details.SerializeAsString());
}

absl::Status FromGrpcStatus(const grpc::Status& status) {
  if (status.ok()) return absl::OkStatus();
  absl::Status out(static_cast<absl::StatusCode>(status.error_code()),
                   status.error_message());
  if (status.error_details().empty()) return out;
  v1::RpcStatus details;
  if (!details.ParseFromString(status.error_details())) return out;
  FieldErrors errors;
  for (const auto& any : details.details()) {
    if (any.type_url() != kBadRequestUrl) continue;
    v1::BadRequest bad;
    if (!bad.ParseFromString(any.value())) continue;
    for (const auto& fv : bad.field_violations()) {
      errors.Add(fv.field(), fv.description());
    }
  }
  if (errors.empty()) return out;
  absl::Status with = errors.ToStatus();
  // Keep the server's code and message; only borrow the payload.
  with.ForEachPayload([&out](absl::string_view url, const absl::Cord& p) {
    out.SetPayload(url, p);
  });
  return out;
}

}  // namespace nest::api

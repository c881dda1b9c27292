#include "cli/errors.h"

#include "absl/strings/cord.h"
#include "absl/strings/str_cat.h"
#include "nest/v1/common.pb.h"

namespace nest::cli {

absl::Status InvalidWithViolations(
    absl::string_view message, const std::vector<FieldViolation>& violations) {
  absl::Status status = absl::InvalidArgumentError(message);
  if (violations.empty()) return status;
  nest::v1::BadRequest bad;
  for (const FieldViolation& v : violations) {
    auto* fv = bad.add_field_violations();
    fv->set_field(v.field);
    fv->set_description(v.description);
  }
  status.SetPayload(kBadRequestTypeUrl, absl::Cord(bad.SerializeAsString()));
  return status;
}

std::vector<FieldViolation> ViolationsOf(const absl::Status& status) {
  std::vector<FieldViolation> out;
  auto payload = status.GetPayload(kBadRequestTypeUrl);
  if (!payload) return GetFieldViolations(status);
  nest::v1::BadRequest bad;
  if (!bad.ParseFromString(std::string(*payload))) return out;
  for (const auto& fv : bad.field_violations()) {
    out.push_back({fv.field(), fv.description()});
  }
  return out;
}

absl::Status FromGrpc(const grpc::Status& status, absl::string_view what) {
  if (status.ok()) return absl::OkStatus();
  auto code = static_cast<absl::StatusCode>(status.error_code());
  std::string message = status.error_message();
  if (message.empty()) message = "no message from the server";
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    message = absl::StrCat("server unavailable: ", message);
  } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    message =
        absl::StrCat("timed out: ", message, " (raise it with --timeout)");
  }
  absl::Status out(code,
                   what.empty() ? message : absl::StrCat(what, ": ", message));
  std::vector<FieldViolation> violations;
  nest::v1::RpcStatus details;
  if (!status.error_details().empty() &&
      details.ParseFromString(status.error_details())) {
    for (const auto& any : details.details()) {
      nest::v1::BadRequest bad;
      // Any::UnpackTo would insist on the name nest.v1.BadRequest; the
      // wire type is google.rpc.BadRequest, so parse the bytes directly.
      if (any.type_url() != kBadRequestTypeUrl ||
          !bad.ParseFromString(any.value())) {
        continue;
      }
      for (const auto& fv : bad.field_violations()) {
        violations.push_back({fv.field(), fv.description()});
      }
    }
  }
  if (!violations.empty()) {
    nest::v1::BadRequest bad;
    for (const FieldViolation& v : violations) {
      auto* fv = bad.add_field_violations();
      fv->set_field(v.field);
      fv->set_description(v.description);
    }
    out.SetPayload(kBadRequestTypeUrl, absl::Cord(bad.SerializeAsString()));
  }
  return out;
}

int ExitCodeFor(const absl::Status& status) {
  switch (status.code()) {
    case absl::StatusCode::kOk:
      return kExitOk;
    case absl::StatusCode::kInvalidArgument:
      return kExitUsage;
    case absl::StatusCode::kNotFound:
      return kExitNotFound;
    case absl::StatusCode::kAlreadyExists:
    case absl::StatusCode::kFailedPrecondition:
    case absl::StatusCode::kAborted:
      return kExitConflict;
    case absl::StatusCode::kUnavailable:
    case absl::StatusCode::kDeadlineExceeded:
      return kExitUnavailable;
    default:
      return kExitServer;
  }
}

void PrintError(const absl::Status& status, std::ostream& err) {
  if (status.ok()) return;
  err << "error: " << status.message() << "\n";
  for (const FieldViolation& v : ViolationsOf(status)) {
    err << "  " << v.field << ": " << v.description << "\n";
  }
}

}  // namespace nest::cli

#include "api/errors.h"

#include "core/field_errors.h"
#include "doctest/doctest.h"
#include "nest/v1/common.pb.h"

namespace nest::api {
namespace {

TEST_CASE("codes and messages map one to one") {
  CHECK(ToGrpcStatus(absl::OkStatus()).ok());
  grpc::Status s =
      ToGrpcStatus(absl::NotFoundError("workload \"x\" not found"));
  CHECK(s.error_code() == grpc::StatusCode::NOT_FOUND);
  CHECK(s.error_message() == "workload \"x\" not found");
  CHECK(ToGrpcStatus(absl::FailedPreconditionError("stale")).error_code() ==
        grpc::StatusCode::FAILED_PRECONDITION);
  CHECK(ToGrpcStatus(absl::ResourceExhaustedError("full")).error_code() ==
        grpc::StatusCode::RESOURCE_EXHAUSTED);
}

TEST_CASE("UNKNOWN never reaches the wire") {
  CHECK(ToGrpcStatus(absl::UnknownError("oops")).error_code() ==
        grpc::StatusCode::INTERNAL);
}

TEST_CASE("field violations become a standard BadRequest detail") {
  FieldErrors errors;
  errors.Add("spec.replicas", "must be between 0 and 1000, got -1");
  errors.Add("name", "must be a DNS-1123 label");
  grpc::Status s = ToGrpcStatus(errors.ToStatus());
  CHECK(s.error_code() == grpc::StatusCode::INVALID_ARGUMENT);
  v1::RpcStatus details;
  REQUIRE(details.ParseFromString(s.error_details()));
  CHECK(details.code() == 3);
  REQUIRE(details.details_size() == 1);
  CHECK(details.details(0).type_url() ==
        "type.googleapis.com/google.rpc.BadRequest");
  v1::BadRequest bad;
  REQUIRE(bad.ParseFromString(details.details(0).value()));
  REQUIRE(bad.field_violations_size() == 2);
  CHECK(bad.field_violations(0).field() == "spec.replicas");
  CHECK(bad.field_violations(1).description() == "must be a DNS-1123 label");

  absl::Status back = FromGrpcStatus(s);
  CHECK(back.code() == absl::StatusCode::kInvalidArgument);
  CHECK(back.message() == s.error_message());
  CHECK(GetFieldViolations(back) == errors.violations());
}

TEST_CASE("garbage details are ignored, not trusted") {
  grpc::Status s(grpc::StatusCode::INVALID_ARGUMENT, "bad", "\xff\x01junk");
  absl::Status back = FromGrpcStatus(s);
  CHECK(back.code() == absl::StatusCode::kInvalidArgument);
  CHECK(GetFieldViolations(back).empty());
}

}  // namespace
}  // namespace nest::api

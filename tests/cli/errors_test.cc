#include "cli/errors.h"

#include <sstream>

#include "doctest/doctest.h"
#include "nest/v1/common.pb.h"

namespace nest::cli {
namespace {

TEST_CASE("exit codes scripts can rely on") {
  CHECK(ExitCodeFor(absl::OkStatus()) == 0);
  CHECK(ExitCodeFor(absl::InternalError("x")) == 1);
  CHECK(ExitCodeFor(absl::ResourceExhaustedError("x")) == 1);
  CHECK(ExitCodeFor(absl::InvalidArgumentError("x")) == 2);
  CHECK(ExitCodeFor(absl::NotFoundError("x")) == 3);
  CHECK(ExitCodeFor(absl::AlreadyExistsError("x")) == 4);
  CHECK(ExitCodeFor(absl::FailedPreconditionError("x")) == 4);
  CHECK(ExitCodeFor(absl::UnavailableError("x")) == 5);
  CHECK(ExitCodeFor(absl::DeadlineExceededError("x")) == 5);
}

TEST_CASE("BadRequest details in grpc-status-details-bin become lines") {
  nest::v1::BadRequest bad;
  auto* fv = bad.add_field_violations();
  fv->set_field("spec.replicas");
  fv->set_description("must be at least 0");
  fv = bad.add_field_violations();
  fv->set_field("spec.image");
  fv->set_description("is required");
  nest::v1::RpcStatus rpc;
  rpc.set_code(3);
  rpc.set_message("2 invalid fields");
  auto* unrelated = rpc.add_details();
  unrelated->set_type_url("type.googleapis.com/google.rpc.RetryInfo");
  auto* any = rpc.add_details();
  any->set_type_url(std::string(kBadRequestTypeUrl));
  any->set_value(bad.SerializeAsString());

  grpc::Status g(grpc::StatusCode::INVALID_ARGUMENT, "2 invalid fields",
                 rpc.SerializeAsString());
  absl::Status s = FromGrpc(g, "create workload");
  CHECK(s.code() == absl::StatusCode::kInvalidArgument);
  auto v = ViolationsOf(s);
  REQUIRE(v.size() == 2);
  CHECK(v[1] == FieldViolation{"spec.image", "is required"});
  std::ostringstream err;
  PrintError(s, err);
  CHECK(err.str() ==
        "error: create workload: 2 invalid fields\n"
        "  spec.replicas: must be at least 0\n"
        "  spec.image: is required\n");
}

TEST_CASE("errors without details, and garbage details, print one line") {
  std::ostringstream err;
  PrintError(FromGrpc(grpc::Status(grpc::StatusCode::NOT_FOUND,
                                   "workload \"x\" not found", "\xff\xff"),
                      "get workload"),
             err);
  CHECK(err.str() == "error: get workload: workload \"x\" not found\n");
  absl::Status timeout =
      FromGrpc(grpc::Status(grpc::StatusCode::DEADLINE_EXCEEDED,
                            "Deadline "
                            "Exceeded"),
               "");
  CHECK(ExitCodeFor(timeout) == 5);
  CHECK(timeout.message() ==
        "timed out: Deadline Exceeded (raise it with "
        "--timeout)");
}

TEST_CASE("violations collected by core's FieldErrors print the same way") {
  FieldErrors errors;
  errors.Add("spec.image", "is required");
  std::ostringstream err;
  PrintError(errors.ToStatus(), err);
  CHECK(err.str() ==
        "error: spec.image is required\n  spec.image: is required\n");
  CHECK(ExitCodeFor(errors.ToStatus()) == 2);
}

}  // namespace
}  // namespace nest::cli

#include "cli/client.h"

#include <grpc/support/log.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>

#include "absl/strings/cord.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "core/status.h"

namespace nest::cli {
namespace {

// Certificates and keys are a few KiB; the bound keeps a wrong path such as
// /dev/zero from eating memory.
constexpr std::streamsize kMaxPemBytes = 1 << 20;

// The file's text if it reads and looks like PEM. The real parse happens in
// the TLS handshake; this only turns the common mistakes (wrong path,
// wrong file) into an error that names the flag.
absl::StatusOr<std::string> ReadPem(absl::string_view flag,
                                    const std::string& path,
                                    absl::string_view want) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " ", path, ": cannot read it: ", std::strerror(errno)));
  }
  std::string text(kMaxPemBytes + 1, '\0');
  in.read(text.data(), kMaxPemBytes + 1);
  text.resize(in.gcount());
  if (in.bad() || static_cast<std::streamsize>(text.size()) > kMaxPemBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": cannot read it as a PEM file"));
  }
  if (!absl::StrContains(text, "-----BEGIN ") ||
      !absl::StrContains(text, want)) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": not PEM (expected a \"-----BEGIN ",
                     want, "\" block)"));
  }
  return text;
}

}  // namespace

absl::StatusOr<std::shared_ptr<grpc::ChannelCredentials>> ChannelCredentialsFor(
    const ClientOptions& options) {
  if (options.tls_cert.empty() != options.tls_key.empty()) {
    return absl::InvalidArgumentError(
        options.tls_cert.empty()
            ? "--tls-key needs --tls-cert (the client certificate)"
            : "--tls-cert needs --tls-key (the client certificate's key)");
  }
  if (options.tls_ca.empty()) {
    if (!options.tls_cert.empty() || !options.tls_server_name.empty()) {
      return absl::InvalidArgumentError(absl::StrCat(
          options.tls_cert.empty() ? "--tls-server-name" : "--tls-cert",
          " needs --tls-ca (the CA that signed nestd's certificate)"));
    }
    return grpc::InsecureChannelCredentials();
  }
  grpc::SslCredentialsOptions ssl;
  NEST_ASSIGN_OR_RETURN(ssl.pem_root_certs, ReadPem("--tls-ca", options.tls_ca,
                                                    "CERTIFICATE-----"));
  if (!options.tls_cert.empty()) {
    NEST_ASSIGN_OR_RETURN(
        ssl.pem_cert_chain,
        ReadPem("--tls-cert", options.tls_cert, "CERTIFICATE-----"));
    // PKCS#8 ("PRIVATE KEY"), EC or RSA: all end the same way.
    NEST_ASSIGN_OR_RETURN(
        ssl.pem_private_key,
        ReadPem("--tls-key", options.tls_key, "PRIVATE KEY-----"));
  }
  return grpc::SslCredentials(ssl);
}

absl::Status ExplainTransportError(const absl::Status& status,
                                   const ClientOptions& options) {
  if (status.code() != absl::StatusCode::kUnavailable) return status;
  absl::string_view m = status.message();
  // Only a failed connection, not an UNAVAILABLE the server answered with;
  // and when nothing listens, TLS settings are not the problem.
  if (!absl::StrContains(m, "failed to connect to all addresses") ||
      absl::StrContains(m, "Connection refused")) {
    return status;
  }
  absl::string_view hint;
  if (options.tls_ca.empty()) {
    hint =
        " (if nestd serves TLS, give --tls-ca, and --tls-cert/--tls-key if it "
        "requires client certificates)";
  } else if (absl::StrContains(m, "wrong version number")) {
    // OpenSSL's word for a peer that answered the hello in plaintext.
    hint = " (nestd does not serve TLS on this address: drop --tls-ca)";
  } else if (absl::StrContains(m, "not in peer certificate")) {
    hint =
        " (nestd's certificate does not name this host: connect by a name "
        "it carries or give --tls-server-name)";
  } else {
    hint =
        " (TLS handshake failed? check --tls-ca, and --tls-cert/--tls-key if "
        "nestd requires client certificates)";
  }
  absl::Status out(status.code(), absl::StrCat(m, hint));
  status.ForEachPayload([&out](absl::string_view url, const absl::Cord& p) {
    out.SetPayload(url, p);
  });
  return out;
}

absl::StatusOr<std::unique_ptr<Client>> Client::Create(ClientOptions options) {
  NEST_ASSIGN_OR_RETURN(auto credentials, ChannelCredentialsFor(options));
  // A failed call is reported as one line (PrintError); gRPC's own error log
  // would add lines of internals, such as each failed TLS handshake, on
  // stderr. GRPC_VERBOSITY still turns it back on for debugging.
  if (std::getenv("GRPC_VERBOSITY") == nullptr) {
    gpr_set_log_function([](gpr_log_func_args*) {});
  }
  return std::unique_ptr<Client>(
      new Client(std::move(options), std::move(credentials)));
}

Client::Client(ClientOptions options,
               std::shared_ptr<grpc::ChannelCredentials> credentials)
    : options_(std::move(options)) {
  grpc::ChannelArguments args;
  if (!options_.tls_server_name.empty()) {
    args.SetSslTargetNameOverride(options_.tls_server_name);
  }
  channel_ = grpc::CreateCustomChannel(options_.server, credentials, args);
  hosts_ = nest::v1::HostService::NewStub(channel_);
  groups_ = nest::v1::VmGroupService::NewStub(channel_);
  vms_ = nest::v1::VmService::NewStub(channel_);
  workloads_ = nest::v1::WorkloadService::NewStub(channel_);
  containers_ = nest::v1::ContainerService::NewStub(channel_);
  images_ = nest::v1::ImageService::NewStub(channel_);
  events_ = nest::v1::EventService::NewStub(channel_);
  placement_ = nest::v1::PlacementService::NewStub(channel_);
  usage_ = nest::v1::UsageService::NewStub(channel_);
  tokens_ = nest::v1::TokenService::NewStub(channel_);
  quotas_ = nest::v1::QuotaService::NewStub(channel_);
}

std::unique_ptr<grpc::ClientContext> Client::Context(bool streaming) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!streaming) {
    ctx->set_deadline(absl::ToChronoTime(absl::Now() + options_.timeout));
  }
  if (!options_.token.empty()) {
    ctx->AddMetadata("authorization", absl::StrCat("Bearer ", options_.token));
  }
  return ctx;
}

}  // namespace nest::cli

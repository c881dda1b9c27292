// nestctl's transport options: which combinations are refused before any
// connection, and the hint a transport failure gets.
#include "cli/client.h"

#include <string>

#include "absl/strings/match.h"
#include "doctest/doctest.h"

namespace nest::cli {
namespace {

std::string Refusal(const ClientOptions& o) {
  auto creds = ChannelCredentialsFor(o);
  REQUIRE_FALSE(creds.ok());
  CHECK(creds.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(creds.status().message());
}

TEST_CASE("TLS options come in working combinations") {
  ClientOptions o;
  CHECK(ChannelCredentialsFor(o).ok());  // plaintext

  o.tls_cert = "me.pem";
  CHECK(absl::StartsWith(Refusal(o), "--tls-cert needs --tls-key"));
  o.tls_key = "me.key";
  CHECK(absl::StartsWith(Refusal(o), "--tls-cert needs --tls-ca"));
  o.tls_cert = "";
  CHECK(absl::StartsWith(Refusal(o), "--tls-key needs --tls-cert"));

  ClientOptions named;
  named.tls_server_name = "nest.example.com";
  CHECK(absl::StartsWith(Refusal(named), "--tls-server-name needs --tls-ca"));

  ClientOptions missing;
  missing.tls_ca = "/nonexistent/ca.pem";
  CHECK(absl::StrContains(Refusal(missing),
                          "--tls-ca /nonexistent/ca.pem: cannot read it"));
  // A directory opens but is not PEM.
  missing.tls_ca = "/";
  CHECK(absl::StartsWith(Refusal(missing), "--tls-ca /: "));
}

TEST_CASE("an unavailable server gets a TLS hint unless nothing listens") {
  ClientOptions plain;
  ClientOptions tls;
  tls.tls_ca = "ca.pem";
  absl::Status closed = absl::UnavailableError(
      "server unavailable: failed to connect to all addresses; closed");
  std::string m(ExplainTransportError(closed, plain).message());
  CHECK(absl::StrContains(m, "if nestd serves TLS, give --tls-ca"));
  m = std::string(ExplainTransportError(closed, tls).message());
  CHECK(absl::StrContains(m, "TLS handshake failed? check --tls-ca"));
  CHECK(absl::StartsWith(
      m, "server unavailable: failed to connect to all addresses; closed ("));

  // OpenSSL's words for a plaintext server and for a name mismatch.
  m = std::string(
      ExplainTransportError(
          absl::UnavailableError("failed to connect to all addresses; Ssl "
                                 "handshake failed: wrong version number"),
          tls)
          .message());
  CHECK(absl::StrContains(m, "does not serve TLS on this address"));
  m = std::string(
      ExplainTransportError(
          absl::UnavailableError("failed to connect to all addresses; Peer "
                                 "name x is not in peer certificate"),
          tls)
          .message());
  CHECK(absl::StrContains(m, "--tls-server-name"));

  absl::Status refused = absl::UnavailableError(
      "server unavailable: failed to connect to all addresses; last "
      "error: Connection refused");
  CHECK(ExplainTransportError(refused, tls) == refused);
  // The server's own UNAVAILABLE (e.g. a host down) is not about TLS.
  absl::Status answered =
      absl::UnavailableError("server unavailable: host h1 is not connected");
  CHECK(ExplainTransportError(answered, tls) == answered);
  absl::Status other = absl::NotFoundError("vm \"x\" not found");
  CHECK(ExplainTransportError(other, tls) == other);
}

}  // namespace
}  // namespace nest::cli

// The gRPC port's transport: plaintext, TLS, or mutual TLS, chosen from
// nestd's --tls-cert/--tls-key/--client-ca/--insecure flags.
//
// The rule: plaintext only on loopback (nestd --dev), unless the operator
// says --insecure; with --client-ca every client must present a certificate
// that CA signed, or the handshake fails before any RPC is seen.
#pragma once

#include <grpcpp/security/server_credentials.h>

#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest::api {

// PEM file paths; empty means "not given".
struct TlsFiles {
  // --tls-cert: the server's certificate, then any intermediates.
  std::string cert;
  // --tls-key: its private key.
  std::string key;
  // --client-ca: the CA(s) every client certificate must chain to.
  std::string client_ca;
};

enum class Transport { kPlaintext, kTls, kMutualTls };

// "plaintext", "TLS" or "mutual TLS", for start-up logs.
absl::string_view TransportName(Transport t);

// Which transport the flags ask for, or INVALID_ARGUMENT naming the flag:
// --tls-cert and --tls-key come together, --client-ca needs them, and a
// `listen` address ("host:port") off loopback needs TLS unless `insecure`.
// Reads no files.
[[nodiscard]] absl::StatusOr<Transport> CheckTransport(
    const std::string& listen, const TlsFiles& files, bool insecure);

// Reads and checks the PEM files (a certificate, a private key matching
// it, a CA certificate) and builds the server credentials; null for
// plaintext. Errors name the flag and the file.
[[nodiscard]] absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>>
LoadServerCredentials(const TlsFiles& files);

}  // namespace nest::api

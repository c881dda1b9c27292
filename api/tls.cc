#include "api/tls.h"

#include <openssl/bio.h>
#include <openssl/err.h>
#include <openssl/evp.h>
#include <openssl/pem.h>
#include <openssl/x509.h>

#include <cerrno>
#include <cstring>
#include <fstream>
#include <iterator>

#include "absl/strings/str_cat.h"
#include "api/address.h"

namespace nest::api {
namespace {

using BioPtr = std::unique_ptr<BIO, decltype(&BIO_free)>;
using X509Ptr = std::unique_ptr<X509, decltype(&X509_free)>;
using KeyPtr = std::unique_ptr<EVP_PKEY, decltype(&EVP_PKEY_free)>;

// Certificates and keys are a few KiB; a bound keeps a wrong path such as
// /dev/zero from eating memory.
constexpr std::streamsize kMaxPemBytes = 1 << 20;

absl::StatusOr<std::string> ReadPem(absl::string_view flag,
                                    const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " ", path, ": cannot read it: ", std::strerror(errno)));
  }
  std::string text;
  text.resize(kMaxPemBytes + 1);
  in.read(text.data(), kMaxPemBytes + 1);
  if (in.bad()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": cannot read it"));
  }
  text.resize(in.gcount());
  if (static_cast<std::streamsize>(text.size()) > kMaxPemBytes) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path, ": larger than 1 MiB, not a PEM file"));
  }
  return text;
}

BioPtr MemBio(const std::string& pem) {
  return BioPtr(BIO_new_mem_buf(pem.data(), static_cast<int>(pem.size())),
                &BIO_free);
}

// Never prompts: nestd runs unattended, so an encrypted key is an error.
int NoPassword(char*, int, int, void*) { return -1; }

// Every certificate in `pem`, in order; empty when none parses.
std::vector<X509Ptr> ParseCertificates(const std::string& pem) {
  std::vector<X509Ptr> out;
  BioPtr bio = MemBio(pem);
  while (X509* x = PEM_read_bio_X509(bio.get(), nullptr, NoPassword, nullptr)) {
    out.emplace_back(x, &X509_free);
  }
  // The loop ends on "no start line": expected, not worth keeping.
  ERR_clear_error();
  return out;
}

std::string NotAfter(const X509* cert) {
  BioPtr bio(BIO_new(BIO_s_mem()), &BIO_free);
  ASN1_TIME_print(bio.get(), X509_get0_notAfter(cert));
  char* data = nullptr;
  long n = BIO_get_mem_data(bio.get(), &data);
  return std::string(data, n > 0 ? n : 0);
}

absl::StatusOr<std::vector<X509Ptr>> LoadCertificates(absl::string_view flag,
                                                      const std::string& path,
                                                      std::string* pem) {
  NEST_ASSIGN_OR_RETURN(*pem, ReadPem(flag, path));
  std::vector<X509Ptr> certs = ParseCertificates(*pem);
  if (certs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat(flag, " ", path,
                     ": no PEM certificate in it (expected \"-----BEGIN "
                     "CERTIFICATE-----\")"));
  }
  for (const X509Ptr& c : certs) {
    if (X509_cmp_current_time(X509_get0_notAfter(c.get())) < 0) {
      return absl::InvalidArgumentError(
          absl::StrCat(flag, " ", path, ": a certificate in it expired on ",
                       NotAfter(c.get())));
    }
  }
  return certs;
}

}  // namespace

absl::string_view TransportName(Transport t) {
  switch (t) {
    case Transport::kPlaintext:
      return "plaintext";
    case Transport::kTls:
      return "TLS";
    case Transport::kMutualTls:
      return "mutual TLS";
  }
  return "?";
}

absl::StatusOr<Transport> CheckTransport(const std::string& listen,
                                         const TlsFiles& files, bool insecure) {
  if (files.cert.empty() != files.key.empty()) {
    return absl::InvalidArgumentError(
        files.cert.empty()
            ? "--tls-key needs --tls-cert (the certificate for that key)"
            : "--tls-cert needs --tls-key (the certificate's private key)");
  }
  bool tls = !files.cert.empty();
  if (!files.client_ca.empty() && !tls) {
    return absl::InvalidArgumentError(
        "--client-ca needs TLS: give --tls-cert and --tls-key as well");
  }
  if (tls) {
    return files.client_ca.empty() ? Transport::kTls : Transport::kMutualTls;
  }
  // A unix socket is reachable only through the file system.
  if (listen.rfind("unix:", 0) == 0) return Transport::kPlaintext;
  NEST_ASSIGN_OR_RETURN(HostPort address, SplitHostPort("--listen", listen));
  if (!IsLoopbackHost(address.host) && !insecure) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--listen ", listen,
        " is not a loopback address and would serve the API in plaintext: "
        "give --tls-cert and --tls-key (and --client-ca to require client "
        "certificates), listen on 127.0.0.1, or pass --insecure"));
  }
  return Transport::kPlaintext;
}

absl::StatusOr<std::shared_ptr<grpc::ServerCredentials>> LoadServerCredentials(
    const TlsFiles& files) {
  if (files.cert.empty() && files.key.empty() && files.client_ca.empty()) {
    return std::shared_ptr<grpc::ServerCredentials>();
  }
  if (files.cert.empty() || files.key.empty()) {
    return absl::InvalidArgumentError(
        "TLS needs both --tls-cert and --tls-key");
  }
  std::string cert_pem, key_pem, ca_pem;
  NEST_ASSIGN_OR_RETURN(std::vector<X509Ptr> chain,
                        LoadCertificates("--tls-cert", files.cert, &cert_pem));
  NEST_ASSIGN_OR_RETURN(key_pem, ReadPem("--tls-key", files.key));
  BioPtr key_bio = MemBio(key_pem);
  KeyPtr key(
      PEM_read_bio_PrivateKey(key_bio.get(), nullptr, NoPassword, nullptr),
      &EVP_PKEY_free);
  ERR_clear_error();
  if (!key) {
    return absl::InvalidArgumentError(absl::StrCat(
        "--tls-key ", files.key,
        ": no unencrypted PEM private key in it (expected \"-----BEGIN "
        "PRIVATE KEY-----\")"));
  }
  // The first certificate is the server's own; the rest is its chain.
  if (X509_check_private_key(chain.front().get(), key.get()) != 1) {
    ERR_clear_error();
    return absl::InvalidArgumentError(
        absl::StrCat("--tls-key ", files.key,
                     " is not the private key of the certificate in "
                     "--tls-cert ",
                     files.cert));
  }
  grpc::SslServerCredentialsOptions opts(
      GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
  if (!files.client_ca.empty()) {
    NEST_ASSIGN_OR_RETURN(
        std::vector<X509Ptr> cas,
        LoadCertificates("--client-ca", files.client_ca, &ca_pem));
    opts.client_certificate_request =
        GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY;
    opts.pem_root_certs = ca_pem;
  }
  opts.pem_key_cert_pairs.push_back({key_pem, cert_pem});
  return grpc::SslServerCredentials(opts);
}

}  // namespace nest::api

// TLS on the gRPC port: certificates generated at test time into a temp
// dir; servers on 127.0.0.1:0; one health RPC decides pass or fail.
#include "api/tls.h"

#include <grpcpp/grpcpp.h>
#include <grpcpp/security/credentials.h>
#include <stdlib.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>

#include "absl/strings/match.h"
#include "api/address.h"
#include "api/server.h"
#include "doctest/doctest.h"
#include "tests/api/health_check.h"

namespace nest::api {
namespace {

namespace fs = std::filesystem;

std::string Slurp(const fs::path& p) {
  std::ifstream in(p, std::ios::binary);
  return std::string(std::istreambuf_iterator<char>(in), {});
}

// The output of tests/tools/make_test_certs.sh, made once per process.
class Certs {
 public:
  static const Certs& Get() {
    static const Certs* certs = new Certs;
    return *certs;
  }
  fs::path operator/(const std::string& name) const { return dir_ / name; }
  std::string Pem(const std::string& name) const { return Slurp(dir_ / name); }

 private:
  Certs() {
    std::string tmpl = (fs::temp_directory_path() / "tls_test.XXXXXX").string();
    REQUIRE(mkdtemp(tmpl.data()) != nullptr);
    dir_ = tmpl;
    std::string cmd = std::string("bash ") + NEST_MAKE_TEST_CERTS + " " +
                      dir_.string() + " >/dev/null";
    REQUIRE_MESSAGE(std::system(cmd.c_str()) == 0, cmd);
    std::atexit([] {
      std::error_code ec;
      fs::remove_all(Get().dir_, ec);
    });
  }
  fs::path dir_;
};

struct Running {
  std::unique_ptr<Server> server;
  std::string target;
};

Running Start(const TlsFiles& files) {
  auto creds = LoadServerCredentials(files);
  REQUIRE_MESSAGE(creds.ok(), creds.status().ToString());
  ServerOptions opts;
  opts.listen_address = "127.0.0.1:0";
  opts.credentials = *creds;
  auto server = StartServer(opts, {});
  REQUIRE_MESSAGE(server.ok(), server.status().ToString());
  std::string target = "127.0.0.1:" + std::to_string((*server)->port());
  return {std::move(*server), target};
}

TlsFiles ServerFiles(bool mutual) {
  const Certs& c = Certs::Get();
  TlsFiles f{(c / "server.pem").string(), (c / "server.key").string(), ""};
  if (mutual) f.client_ca = (c / "ca.pem").string();
  return f;
}

// A TLS client trusting `ca`, presenting `client` (NAME.pem/NAME.key) when
// given.
std::shared_ptr<grpc::Channel> TlsChannel(const std::string& target,
                                          const std::string& ca,
                                          const std::string& client = "") {
  const Certs& c = Certs::Get();
  grpc::SslCredentialsOptions o;
  o.pem_root_certs = c.Pem(ca);
  if (!client.empty()) {
    o.pem_cert_chain = c.Pem(client + ".pem");
    o.pem_private_key = c.Pem(client + ".key");
  }
  return grpc::CreateChannel(target, grpc::SslCredentials(o));
}

// The RPC's status; its message is what a user would read.
grpc::Status Call(const std::shared_ptr<grpc::Channel>& channel) {
  std::string reply;
  grpc::Status s = HealthCheck(channel, &reply);
  if (s.ok()) CHECK(reply == std::string("\x08\x01", 2));  // SERVING
  return s;
}

TEST_CASE("TLS: a client trusting the server's CA gets through") {
  Running r = Start(ServerFiles(false));
  grpc::Status s = Call(TlsChannel(r.target, "ca.pem"));
  CHECK_MESSAGE(s.ok(), s.error_message());
  // The certificate names localhost too.
  std::string by_name = "localhost:" + std::to_string(r.server->port());
  s = Call(TlsChannel(by_name, "ca.pem"));
  CHECK_MESSAGE(s.ok(), s.error_message());
}

TEST_CASE("TLS: plaintext and wrong-CA clients fail the handshake") {
  Running r = Start(ServerFiles(false));
  grpc::Status plain =
      Call(grpc::CreateChannel(r.target, grpc::InsecureChannelCredentials()));
  CHECK(plain.error_code() == grpc::StatusCode::UNAVAILABLE);
  MESSAGE("plaintext client: ", plain.error_message());

  grpc::Status wrong = Call(TlsChannel(r.target, "other-ca.pem"));
  CHECK(wrong.error_code() == grpc::StatusCode::UNAVAILABLE);
  MESSAGE("wrong CA: ", wrong.error_message());
}

TEST_CASE("TLS: a server certificate from another CA is refused") {
  const Certs& c = Certs::Get();
  Running r = Start({(c / "other-server.pem").string(),
                     (c / "other-server.key").string(), ""});
  grpc::Status s = Call(TlsChannel(r.target, "ca.pem"));
  CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
}

TEST_CASE("mutual TLS: only a client certificate from --client-ca passes") {
  Running r = Start(ServerFiles(true));
  SUBCASE("no client certificate") {
    grpc::Status s = Call(TlsChannel(r.target, "ca.pem"));
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
    MESSAGE("mTLS, no client cert: ", s.error_message());
  }
  SUBCASE("a client certificate from another CA") {
    grpc::Status s = Call(TlsChannel(r.target, "ca.pem", "other-client"));
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
    MESSAGE("mTLS, wrong-CA client cert: ", s.error_message());
  }
  SUBCASE("a plaintext client") {
    grpc::Status s =
        Call(grpc::CreateChannel(r.target, grpc::InsecureChannelCredentials()));
    CHECK(s.error_code() == grpc::StatusCode::UNAVAILABLE);
  }
  SUBCASE("the right client certificate") {
    grpc::Status s = Call(TlsChannel(r.target, "ca.pem", "client"));
    CHECK_MESSAGE(s.ok(), s.error_message());
  }
}

TEST_CASE("without TLS files the server stays plaintext") {
  auto creds = LoadServerCredentials({});
  REQUIRE(creds.ok());
  CHECK(*creds == nullptr);
}

// What LoadServerCredentials says about bad files: the flag and the path.
std::string LoadError(const TlsFiles& files) {
  auto creds = LoadServerCredentials(files);
  REQUIRE_FALSE(creds.ok());
  CHECK(creds.status().code() == absl::StatusCode::kInvalidArgument);
  return std::string(creds.status().message());
}

TEST_CASE("unreadable, garbage and mismatched PEM files are named") {
  const Certs& c = Certs::Get();
  std::string cert = (c / "server.pem").string();
  std::string key = (c / "server.key").string();
  std::string missing = (c / "missing.pem").string();
  std::string garbage = (c / "garbage.pem").string();
  std::ofstream(garbage) << "not a certificate\n";

  std::string e = LoadError({missing, key, ""});
  CHECK(absl::StrContains(e, "--tls-cert " + missing));
  CHECK(absl::StrContains(e, "cannot read"));

  e = LoadError({garbage, key, ""});
  CHECK(absl::StrContains(e, "--tls-cert " + garbage));
  CHECK(absl::StrContains(e, "no PEM certificate"));

  e = LoadError({cert, garbage, ""});
  CHECK(absl::StrContains(e, "--tls-key " + garbage));
  CHECK(absl::StrContains(e, "no unencrypted PEM private key"));

  // A key that is someone else's.
  std::string client_key = (c / "client.key").string();
  e = LoadError({cert, client_key, ""});
  CHECK(absl::StrContains(e, "--tls-key " + client_key));
  CHECK(absl::StrContains(e, "not the private key"));

  e = LoadError({cert, key, garbage});
  CHECK(absl::StrContains(e, "--client-ca " + garbage));

  e = LoadError({cert, key, missing});
  CHECK(absl::StrContains(e, "--client-ca " + missing));
}

// CheckTransport's verdict, or its error message.
std::string Verdict(const std::string& listen, const TlsFiles& files,
                    bool insecure = false) {
  auto t = CheckTransport(listen, files, insecure);
  if (!t.ok()) {
    CHECK(t.status().code() == absl::StatusCode::kInvalidArgument);
    return "error: " + std::string(t.status().message());
  }
  return std::string(TransportName(*t));
}

TEST_CASE("the flag rules: plaintext only on loopback unless --insecure") {
  TlsFiles none;
  TlsFiles tls{"c.pem", "k.pem", ""};
  TlsFiles mtls{"c.pem", "k.pem", "ca.pem"};
  CHECK(Verdict("127.0.0.1:7443", none) == "plaintext");
  CHECK(Verdict("127.0.0.1:0", none) == "plaintext");
  CHECK(Verdict("[::1]:7443", none) == "plaintext");
  CHECK(Verdict("localhost:7443", none) == "plaintext");
  CHECK(Verdict("unix:/run/nest.sock", none) == "plaintext");

  for (const char* open : {"0.0.0.0:7443", "[::]:7443", "10.1.2.3:7443",
                           "nest.example.com:7443", "127.evil.example:7443"}) {
    CAPTURE(open);
    std::string v = Verdict(open, none);
    CHECK(absl::StartsWith(v, "error: --listen "));
    CHECK(absl::StrContains(v, "--tls-cert"));
    CHECK(absl::StrContains(v, "--insecure"));
    CHECK(Verdict(open, none, /*insecure=*/true) == "plaintext");
    CHECK(Verdict(open, tls) == "TLS");
    CHECK(Verdict(open, mtls) == "mutual TLS");
  }
  CHECK(absl::StartsWith(Verdict("no-port", none), "error: --listen must be"));
}

TEST_CASE("the flag rules: TLS files come in the right combinations") {
  std::string v = Verdict("127.0.0.1:7443", {"c.pem", "", ""});
  CHECK(absl::StartsWith(v, "error: --tls-cert needs --tls-key"));
  v = Verdict("127.0.0.1:7443", {"", "k.pem", ""});
  CHECK(absl::StartsWith(v, "error: --tls-key needs --tls-cert"));
  v = Verdict("127.0.0.1:7443", {"", "", "ca.pem"}, /*insecure=*/true);
  CHECK(absl::StartsWith(v, "error: --client-ca needs TLS"));
}

TEST_CASE("loopback is parsed, not prefix-matched") {
  CHECK(IsLoopbackHost("127.0.0.1"));
  CHECK(IsLoopbackHost("127.255.0.9"));
  CHECK(IsLoopbackHost("::1"));
  CHECK_FALSE(IsLoopbackHost("127.example.com"));
  CHECK_FALSE(IsLoopbackHost("::"));
  CHECK_FALSE(IsLoopbackHost("::ffff:10.0.0.1"));
  CHECK_FALSE(IsLoopbackHost(""));
}

}  // namespace
}  // namespace nest::api

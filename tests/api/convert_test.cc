// Translation of workload files between nest.v1 and control/: secret
// contents are replaced on every read, and what a read shows goes back in
// unchanged so control/ can keep the stored content.
#include "api/convert.h"

#include "doctest/doctest.h"

namespace nest::api {
namespace {

control::WorkloadView View() {
  control::WorkloadView v;
  v.workload.name = WorkloadId("app");
  v.workload.tenant = TenantId("default");
  v.workload.files = {{"/etc/app.conf", "plain-content", 0444, false},
                      {"/run/secrets/db", "hunter2-secret", 0400, true}};
  v.workload.env = {{"DB", "env-secret", true}};
  return v;
}

TEST_CASE("reads show a secret file's content as <secret>, a plain one as is") {
  v1::Workload w = ToProto(View());
  REQUIRE(w.spec().files_size() == 2);
  const v1::WorkloadFile& plain = w.spec().files(0);
  CHECK(plain.path() == "/etc/app.conf");
  CHECK(plain.content() == "plain-content");
  CHECK(plain.mode() == 0444);
  CHECK_FALSE(plain.secret());
  const v1::WorkloadFile& secret = w.spec().files(1);
  CHECK(secret.path() == "/run/secrets/db");
  CHECK(secret.content() == "<secret>");
  CHECK(secret.mode() == 0400);
  CHECK(secret.secret());
  std::string bytes;
  REQUIRE(w.SerializeToString(&bytes));
  CHECK(bytes.find("hunter2-secret") == std::string::npos);
  CHECK(bytes.find("env-secret") == std::string::npos);
}

TEST_CASE("a read sent back carries the placeholder and every other field") {
  v1::Workload w = ToProto(View());
  control::WorkloadSpecInput in = FromProto(w.spec());
  REQUIRE(in.files.size() == 2);
  CHECK(in.files[0].path == "/etc/app.conf");
  CHECK(in.files[0].content == "plain-content");
  CHECK(in.files[0].mode == 0444);
  CHECK_FALSE(in.files[0].secret);
  CHECK(in.files[1].content == control::kSecretShown);
  CHECK(in.files[1].mode == 0400);
  CHECK(in.files[1].secret);
  // Binary content passes untouched; an unset mode stays 0 (control/
  // gives it the default).
  v1::WorkloadSpec s;
  auto* f = s.add_files();
  f->set_path("/bin.dat");
  f->set_content(std::string("\0\xff", 2));
  in = FromProto(s);
  REQUIRE(in.files.size() == 1);
  CHECK(in.files[0].content == std::string("\0\xff", 2));
  CHECK(in.files[0].mode == 0);
}

TEST_CASE("a host's pool goes in with CreateHost and comes back on reads") {
  v1::CreateHostRequest req;
  req.set_name("b");
  req.set_uri("qemu+tcp://10.251.0.2/system");
  req.set_pool("10.92.0.0/16");
  req.mutable_labels()->insert({"zone", "b"});
  control::HostInput in = FromProto(req);
  CHECK(in.name == "b");
  CHECK(in.pool == "10.92.0.0/16");
  CHECK(in.labels.at("zone") == "b");

  control::HostView v;
  v.host.name = HostId(in.name);
  v.host.libvirt_uri = in.uri;
  v.host.pool = in.pool;
  v1::Host h = ToProto(v);
  CHECK(h.pool() == "10.92.0.0/16");
  CHECK(h.uri() == "qemu+tcp://10.251.0.2/system");
  // No pool (net.pool) stays empty.
  v.host.pool.clear();
  CHECK(ToProto(v).pool().empty());
  CHECK(FromProto(v1::CreateHostRequest()).pool.empty());
}

}  // namespace
}  // namespace nest::api

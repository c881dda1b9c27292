// Workload files in YAML specs (content, from_file, octal modes, secret)
// and the UTF-8 check on every string of a spec.
#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "cli/proto_doc.h"
#include "cli/spec.h"
#include "doctest/doctest.h"

namespace nest::cli {
namespace {

std::string Workload(const std::string& files) {
  return absl::StrCat(
      "kind: Workload\nname: app\nspec:\n  image: hello\n  files:\n", files);
}

// The violations of `yaml`, which must fail, as field -> description.
std::map<std::string, std::string> Violations(const std::string& yaml,
                                              const std::string& dir = "") {
  auto parsed = ParseSpec(yaml, "test.yaml", dir);
  REQUIRE_FALSE(parsed.ok());
  CHECK(parsed.status().code() == absl::StatusCode::kInvalidArgument);
  std::map<std::string, std::string> out;
  for (const auto& v : ViolationsOf(parsed.status())) {
    out[v.field] = v.description;
  }
  return out;
}

nest::v1::WorkloadSpec Parse(const std::string& yaml,
                             const std::string& dir = "") {
  auto parsed = ParseSpec(yaml, "test.yaml", dir);
  REQUIRE_MESSAGE(parsed.ok(), parsed.status().ToString());
  REQUIRE(parsed->size() == 1);
  return (*parsed)[0].workload().spec();
}

struct TempDir {
  std::string path;
  TempDir() {
    char tmpl[] = "/tmp/nest-spec-XXXXXX";
    path = ::mkdtemp(tmpl);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path, ec);
  }
};

TEST_CASE("files: content, octal or integer mode, secret") {
  auto s = Parse(Workload(R"(    - path: /etc/app.conf
      content: |
        a=1
    - path: /run/secrets/db
      content: hunter2
      mode: "0400"
      secret: true
    - path: /etc/unquoted
      content: x
      mode: 0640
    - path: /etc/decimal
      content: x
      mode: 256
    - path: /etc/yaml12
      content: x
      mode: 0o755
)"));
  REQUIRE(s.files_size() == 5);
  CHECK(s.files(0).path() == "/etc/app.conf");
  CHECK(s.files(0).content() == "a=1\n");
  CHECK(s.files(0).mode() == 0);  // the server's default, 0444
  CHECK_FALSE(s.files(0).secret());
  CHECK(s.files(1).content() == "hunter2");
  CHECK(s.files(1).mode() == 0400);
  CHECK(s.files(1).secret());
  CHECK(s.files(2).mode() == 0640);
  CHECK(s.files(3).mode() == 0400);
  CHECK(s.files(4).mode() == 0755);
}

TEST_CASE("files: a bad mode names the field") {
  for (const char* mode : {"\"0999\"", "rw", "01000", "512", "[1]", "-1"}) {
    auto v = Violations(Workload(absl::StrCat(
        "    - path: /etc/x\n      content: x\n      mode: ", mode, "\n")));
    REQUIRE_MESSAGE(v.count("spec.files[0].mode") == 1, mode);
    CHECK(v["spec.files[0].mode"].find("between 0 and 0777") !=
          std::string::npos);
  }
}

TEST_CASE("files: from_file reads a local file relative to the spec") {
  TempDir dir;
  std::filesystem::create_directories(dir.path + "/conf");
  std::string binary("\0\xff\x01pw", 5);
  std::ofstream(dir.path + "/conf/db.pw", std::ios::binary) << binary;
  auto s = Parse(Workload(R"(    - path: /run/secrets/db
      from_file: conf/db.pw
      secret: true
)"),
                 dir.path);
  REQUIRE(s.files_size() == 1);
  CHECK(s.files(0).content() == binary);
  CHECK(s.files(0).secret());

  // Absolute names are taken as they are.
  s = Parse(Workload(absl::StrCat("    - path: /x\n      from_file: ", dir.path,
                                  "/conf/db.pw\n")));
  CHECK(s.files(0).content() == binary);

  auto v = Violations(Workload(R"(    - path: /x
      from_file: missing.txt
)"),
                      dir.path);
  REQUIRE(v.count("spec.files[0].from_file") == 1);
  CHECK(v["spec.files[0].from_file"].find(dir.path + "/missing.txt") !=
        std::string::npos);
  CHECK(v["spec.files[0].from_file"].find("cannot be read") !=
        std::string::npos);

  v = Violations(Workload(R"(    - path: /x
      content: inline
      from_file: conf/db.pw
)"),
                 dir.path);
  CHECK(v["spec.files[0].from_file"].find("not both") != std::string::npos);

  // Too big a file is caught locally, without reading all of it.
  std::ofstream(dir.path + "/big", std::ios::binary)
      << std::string((2 << 20), 'x');
  v = Violations(Workload("    - path: /x\n      from_file: big\n"), dir.path);
  CHECK(v.count("spec.files[0].content") == 1);
}

TEST_CASE("files: paths and counts are checked before sending") {
  auto v = Violations(Workload(R"(    - path: etc/x
      content: a
    - path: /proc/x
      content: b
    - path: /a/../b
      content: c
    - path: /ok
      content: d
    - path: /ok
      content: e
)"));
  CHECK(v.count("spec.files[0].path") == 1);
  CHECK(v.count("spec.files[1].path") == 1);
  CHECK(v.count("spec.files[2].path") == 1);
  CHECK(v.count("spec.files[3].path") == 0);
  CHECK(v.count("spec.files[4].path") == 1);
  v = Violations(Workload("    - path: /x\n      contents: typo\n"));
  CHECK(v.count("spec.files[0].contents") == 1);
}

TEST_CASE("strings that are not UTF-8 are refused, naming the field") {
  std::string yaml =
      "kind: Workload\nname: app\nspec:\n  image: \"hel\xfflo\"\n"
      "  command: [ok, \"b\xc3\"]\n  env:\n    A: \"\xed\xa0\x80\"\n"
      "  files:\n    - path: /x\n      content: \"\xc0\xaf\"\n";
  auto v = Violations(yaml);
  CHECK(v.count("spec.image") == 1);
  CHECK(v.count("spec.command[1]") == 1);
  CHECK(v.count("spec.env.A") == 1);
  CHECK(v.count("spec.files[0].content") == 1);
  CHECK(v["spec.image"].find("must be valid UTF-8") != std::string::npos);
  CHECK(v["spec.image"].find("line 4") != std::string::npos);
  // Names and keys too.
  v = Violations("kind: Workload\nname: \"a\xff\"\nspec:\n  image: x\n");
  CHECK(v.count("name") == 1);
  v = Violations(
      "kind: Workload\nname: a\nspec:\n  image: x\n  env:\n    \"K\xff\": v\n");
  CHECK(v.size() == 1);
  CHECK(v.begin()->first.rfind("spec.env.K", 0) == 0);
  // Valid UTF-8 beyond ASCII is fine.
  auto s = Parse(
      "kind: Workload\nname: app\nspec:\n  image: hello\n"
      "  args: [\"h\xc3\xa9llo \xe2\x82\xac\"]\n");
  CHECK(s.args(0) == "h\xc3\xa9llo \xe2\x82\xac");
}

TEST_CASE("a printed spec shows text content as text, binary as base64") {
  nest::v1::WorkloadSpec s;
  s.add_files()->set_content("a=1\n");
  s.add_files()->set_content(std::string("\xff\x00", 2));
  Json j = MessageToJson(s);
  CHECK(j["files"][0]["content"] == "a=1\n");
  CHECK(j["files"][1]["content"] == "/wA=");
}

}  // namespace
}  // namespace nest::cli

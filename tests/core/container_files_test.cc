#include "core/container_files.h"

#include <string>

#include "doctest/doctest.h"

namespace nest {
namespace {

// The violations of `files`, as "field: description" lines.
std::vector<FieldViolation> Check(const std::vector<ContainerFileView>& files) {
  FieldErrors errors;
  CheckContainerFiles(files, "spec.files", errors);
  return errors.violations();
}

// The only violation of one file at `path`, which must be refused.
std::string PathError(absl::string_view path) {
  auto v = Check({{path, 1, 0444}});
  REQUIRE(v.size() == 1);
  CHECK(v[0].field == "spec.files[0].path");
  return v[0].description;
}

TEST_CASE("acceptable files pass") {
  CHECK(Check({}).empty());
  CHECK(Check({{"/etc/app/config.yaml", 10, 0444},
               {"/run/secrets/db", 0, 0400},
               {"/procfs/x", 1, 0},
               {"/tmp/a", kMaxContainerFileBytes, 0777}})
            .empty());
}

TEST_CASE("a path must be absolute, normalised and outside /proc, /sys, /dev") {
  CHECK(PathError("etc/app").find("absolute") != std::string::npos);
  CHECK(PathError("").find("absolute") != std::string::npos);
  CHECK(PathError("/").find("not \"/\"") != std::string::npos);
  CHECK(PathError("/etc/").find("end with") != std::string::npos);
  CHECK(PathError("/etc//app").find("//") != std::string::npos);
  CHECK(PathError("/etc/../root/x").find("normalised") != std::string::npos);
  CHECK(PathError("/etc/./x").find("normalised") != std::string::npos);
  CHECK(PathError("/..").find("normalised") != std::string::npos);
  CHECK(PathError("/proc").find("under /proc") != std::string::npos);
  CHECK(PathError("/proc/sys/x").find("under /proc") != std::string::npos);
  CHECK(PathError("/sys/kernel/x").find("under /sys") != std::string::npos);
  CHECK(PathError("/dev/null").find("under /dev") != std::string::npos);
  CHECK(PathError("/etc/a\nb").find("control") != std::string::npos);
  CHECK(PathError(std::string("/etc/a\0b", 8)).find("control") !=
        std::string::npos);
  CHECK(PathError("/etc/\xff").find("UTF-8") != std::string::npos);
  CHECK(PathError("/" + std::string(1024, 'a')).find("1024") !=
        std::string::npos);
  // The message says what was expected and quotes what was given.
  CHECK(PathError("x") ==
        "must be an absolute path inside the container, such as "
        "\"/etc/app/config\", got \"x\"");
}

TEST_CASE("paths are unique") {
  auto v = Check({{"/a", 1, 0444}, {"/b", 1, 0444}, {"/a", 1, 0444}});
  REQUIRE(v.size() == 1);
  CHECK(v[0].field == "spec.files[2].path");
  CHECK(v[0].description.find("unique") != std::string::npos);
}

TEST_CASE("at most 32 files") {
  std::vector<std::string> paths;
  for (int i = 0; i <= kMaxContainerFiles; ++i) {
    paths.push_back("/f" + std::to_string(i));
  }
  std::vector<ContainerFileView> files;
  for (const auto& p : paths) files.push_back({p, 1, 0444});
  auto v = Check(files);
  REQUIRE(v.size() == 1);
  CHECK(v[0].field == "spec.files");
  CHECK(v[0].description == "at most 32 files, got 33");
  files.pop_back();
  CHECK(Check(files).empty());
}

TEST_CASE("each content at most 1 MiB, all together at most 4 MiB") {
  auto v = Check({{"/big", kMaxContainerFileBytes + 1, 0444}});
  REQUIRE(v.size() == 1);
  CHECK(v[0].field == "spec.files[0].content");
  CHECK(v[0].description == "must be at most 1048576 bytes, got 1048577");
  std::vector<ContainerFileView> files;
  for (const char* p : {"/a", "/b", "/c", "/d", "/e"}) {
    files.push_back({p, kMaxContainerFileBytes, 0444});
  }
  v = Check(files);
  REQUIRE(v.size() == 1);
  CHECK(v[0].field == "spec.files");
  CHECK(v[0].description ==
        "contents must total at most 4194304 bytes, got 5242880");
  files.pop_back();
  CHECK(Check(files).empty());
}

TEST_CASE("modes are within 0..0777") {
  auto v = Check({{"/a", 1, 01000}, {"/b", 1, -1}, {"/c", 1, 0777}});
  REQUIRE(v.size() == 2);
  CHECK(v[0].field == "spec.files[0].mode");
  CHECK(v[0].description ==
        "must be a permission mode between 0 and 0777 (octal), got 01000");
  CHECK(v[1].field == "spec.files[1].mode");
  CHECK(v[1].description.find("got -1") != std::string::npos);
}

TEST_CASE("FormatFileMode writes octal as people do") {
  CHECK(FormatFileMode(0444) == "0444");
  CHECK(FormatFileMode(0) == "0000");
  CHECK(FormatFileMode(07) == "0007");
  CHECK(FormatFileMode(04755) == "04755");
}

TEST_CASE("IsValidUtf8") {
  CHECK(IsValidUtf8(""));
  CHECK(IsValidUtf8("plain ascii"));
  CHECK(IsValidUtf8("h\xc3\xa9llo \xe2\x82\xac \xf0\x9f\x98\x80"));
  CHECK_FALSE(IsValidUtf8("\xff"));
  CHECK_FALSE(IsValidUtf8("\x80"));              // stray continuation
  CHECK_FALSE(IsValidUtf8("\xc3"));              // truncated
  CHECK_FALSE(IsValidUtf8("\xe2\x82"));          // truncated
  CHECK_FALSE(IsValidUtf8("\xc0\xaf"));          // overlong "/"
  CHECK_FALSE(IsValidUtf8("\xe0\x80\xaf"));      // overlong
  CHECK_FALSE(IsValidUtf8("\xed\xa0\x80"));      // surrogate
  CHECK_FALSE(IsValidUtf8("\xf4\x90\x80\x80"));  // above U+10FFFF
  CHECK_FALSE(IsValidUtf8("\xc3(x"));            // bad continuation
}

}  // namespace
}  // namespace nest

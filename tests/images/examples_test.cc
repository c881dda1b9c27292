// Builds examples/images (umoci, skopeo, busybox-static; as root) and checks
// that every source format imports and that the hello image really runs.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "images/fs.h"
#include "images/image_store.h"
#include "images/runtime_config.h"
#include "images/subprocess.h"
#include "tests/images/test_util.h"

namespace nest::images {
namespace {

using testing::ReadOr;
using testing::WithRef;

TEST_CASE("the example images build offline and import from every format") {
  ScopedTempDir tmp;
  std::string out = tmp.path() + "/examples";
  auto built =
      RunChecked({"sh", NEST_SOURCE_DIR "/examples/images/build.sh", out});
  REQUIRE_MESSAGE(built.ok(), built.status().ToString());

  auto store = ImageStore::Open(tmp.path() + "/state");
  REQUIRE(store.ok());
  ImageStore& s = **store;
  auto hello = s.Import(out + "/oci", "hello", WithRef("hello"));
  REQUIRE_MESSAGE(hello.ok(), hello.status().ToString());
  auto httpd = s.Import(out + "/oci", "httpd", WithRef("httpd"));
  REQUIRE_MESSAGE(httpd.ok(), httpd.status().ToString());
  auto archive = s.Import(out + "/hello-oci.tar", "hello-archive");
  REQUIRE_MESSAGE(archive.ok(), archive.status().ToString());
  CHECK(archive->image.manifest_digest == hello->image.manifest_digest);
  CHECK(archive->already_present);

  // docker-archive into a fresh store so it is really unpacked.
  auto store2 = ImageStore::Open(tmp.path() + "/state2");
  REQUIRE(store2.ok());
  auto docker = (*store2)->Import(out + "/hello-docker.tar", "hello");
  REQUIRE_MESSAGE(docker.ok(), docker.status().ToString());
  CHECK(docker->image.config_digest == hello->image.config_digest);

  // The hello rootfs runs: its busybox prints the line (chroot, as root).
  std::string rootfs = s.RootfsPath(hello->image);
  auto cfg_text = s.ImageConfig("hello");
  REQUIRE(cfg_text.ok());
  auto cfg = ParseImageConfig(*cfg_text);
  REQUIRE(cfg.ok());
  auto spec = BuildRuntimeConfig(*cfg, {});
  REQUIRE(spec.ok());
  auto args = nlohmann::json::parse(*spec)["process"]["args"]
                  .get<std::vector<std::string>>();
  CHECK(args == std::vector<std::string>{"/bin/echo", "hello from nest"});
  std::vector<std::string> argv = {"chroot", rootfs};
  argv.insert(argv.end(), args.begin(), args.end());
  auto ran = RunChecked(argv);
  REQUIRE_MESSAGE(ran.ok(), ran.status().ToString());
  CHECK(ran->out == "hello from nest\n");

  // httpd serves a page from /www on 8080 in the foreground.
  auto hcfg = ParseImageConfig(*s.ImageConfig("httpd"));
  REQUIRE(hcfg.ok());
  CHECK(hcfg->cmd == std::vector<std::string>{"/bin/httpd", "-f", "-v", "-p",
                                              "8080", "-h", "/www"});
  CHECK(hcfg->exposed_ports == std::vector<std::string>{"8080/tcp"});
  CHECK(ReadOr(s.RootfsPath(httpd->image) + "/www/index.html").find("nest") !=
        std::string::npos);

  // The CLI sees the same store.
  auto listed = RunChecked({NEST_IMAGE_TOOL, "list", "--store",
                            tmp.path() + "/state", "-o", "json"});
  REQUIRE(listed.ok());
  auto j = nlohmann::json::parse(listed->out, nullptr, false);
  REQUIRE(j.is_array());
  CHECK(j.size() == 3);

  // Rebuilding gives the same images (fixed timestamps).
  std::string out2 = tmp.path() + "/examples2";
  REQUIRE(RunChecked({"sh", NEST_SOURCE_DIR "/examples/images/build.sh", out2})
              .ok());
  auto again = s.Import(out2 + "/oci", "hello-rebuilt", WithRef("hello"));
  REQUIRE(again.ok());
  CHECK(again->image.manifest_digest == hello->image.manifest_digest);
}

}  // namespace
}  // namespace nest::images

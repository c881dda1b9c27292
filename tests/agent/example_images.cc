// The example images as the control plane pushes them to an agent. Mirrors
// control/store_images.cc StoreImageSource::Get (which tests cannot call
// without a store and a controller): import into images::ImageStore, then a
// sorted, owner-numeric, fixed-mtime tar of the unpacked rootfs.
#include <fstream>
#include <sstream>

#include "absl/strings/str_cat.h"
#include "images/image_store.h"
#include "images/subprocess.h"
#include "tests/agent/vm_env.h"

namespace nest::agent::vmtest {

absl::StatusOr<std::vector<PushableImage>> BuildExampleImages(
    const std::string& dir, const std::vector<std::string>& names) {
  std::string out = dir + "/examples";
  NEST_RETURN_IF_ERROR(
      images::RunChecked(
          {"sh", NEST_SOURCE_DIR "/examples/images/build.sh", out})
          .status());
  NEST_ASSIGN_OR_RETURN(std::unique_ptr<images::ImageStore> store,
                        images::ImageStore::Open(dir + "/store"));
  std::vector<PushableImage> result;
  for (const std::string& name : names) {
    images::ImportOptions io;
    io.ref = name;
    NEST_ASSIGN_OR_RETURN(images::ImportResult imported,
                          store->Import(out + "/oci", name, io));
    std::string tar = absl::StrCat(dir, "/", name, ".tar");
    NEST_RETURN_IF_ERROR(
        images::RunChecked({"tar", "--sort=name", "--numeric-owner",
                            "--mtime=@0", "-C",
                            store->RootfsPath(imported.image), "-cf", tar, "."})
            .status());
    NEST_ASSIGN_OR_RETURN(images::CommandResult sum,
                          images::RunChecked({"sha256sum", tar}));
    if (sum.out.size() < 64) {
      return absl::InternalError(
          absl::StrCat("sha256sum printed no digest for ", tar));
    }
    PushableImage image;
    image.name = name;
    image.digest = "sha256:" + sum.out.substr(0, 64);
    std::ifstream in(tar, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    image.tar = ss.str();
    NEST_ASSIGN_OR_RETURN(std::string config_json, store->ImageConfig(name));
    NEST_ASSIGN_OR_RETURN(image.config, images::ParseImageConfig(config_json));
    result.push_back(std::move(image));
  }
  return result;
}

}  // namespace nest::agent::vmtest

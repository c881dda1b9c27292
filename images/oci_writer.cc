#include "images/oci_writer.h"

#include <zlib.h>

#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "images/fs.h"
#include "images/oci_source.h"
#include "core/sha256.h"

namespace nest::images {

using json = nlohmann::json;

absl::StatusOr<std::string> GzipCompress(absl::string_view data, int level) {
  z_stream z{};
  // 16 + MAX_WBITS: gzip framing; zlib writes mtime 0 and no name, so the
  // output depends on the input only.
  if (deflateInit2(&z, level, Z_DEFLATED, 16 + MAX_WBITS, 8,
                   Z_DEFAULT_STRATEGY) != Z_OK) {
    return absl::InternalError("deflateInit2 failed");
  }
  std::string out(deflateBound(&z, data.size()), '\0');
  z.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(data.data()));
  z.avail_in = static_cast<uInt>(data.size());
  z.next_out = reinterpret_cast<Bytef*>(out.data());
  z.avail_out = static_cast<uInt>(out.size());
  int rc = deflate(&z, Z_FINISH);
  out.resize(z.total_out);
  deflateEnd(&z);
  if (rc != Z_STREAM_END) return absl::InternalError("gzip compression failed");
  return out;
}

namespace {

absl::Status WriteBlob(const std::string& dir, absl::string_view data,
                       std::string* digest) {
  *digest = Sha256Digest(data);
  NEST_RETURN_IF_ERROR(MakeDirs(dir + "/blobs/sha256"));
  return AtomicWriteFile(dir + "/blobs/sha256/" + DigestHex(*digest), data);
}

}  // namespace

absl::Status OciLayoutWriter::AddLayer(absl::string_view tar) {
  diff_ids_.push_back(Sha256Digest(tar));
  std::string digest;
  if (level_ > 0) {
    NEST_ASSIGN_OR_RETURN(std::string gz, GzipCompress(tar, level_));
    NEST_RETURN_IF_ERROR(WriteBlob(dir_, gz, &digest));
    sizes_.push_back(gz.size());
  } else {
    NEST_RETURN_IF_ERROR(WriteBlob(dir_, tar, &digest));
    sizes_.push_back(tar.size());
  }
  layers_.push_back(digest);
  return absl::OkStatus();
}

absl::StatusOr<std::string> OciLayoutWriter::Finish(absl::string_view ref,
                                                    const OciImageConfig& c) {
  json cfg_section = json::object();
  if (!c.entrypoint.empty()) cfg_section["Entrypoint"] = c.entrypoint;
  if (!c.cmd.empty()) cfg_section["Cmd"] = c.cmd;
  if (!c.env.empty()) cfg_section["Env"] = c.env;
  if (!c.working_dir.empty()) cfg_section["WorkingDir"] = c.working_dir;
  if (!c.user.empty()) cfg_section["User"] = c.user;
  json config{{"architecture", "amd64"},
              {"os", "linux"},
              {"config", cfg_section},
              {"rootfs", {{"type", "layers"}, {"diff_ids", diff_ids_}}}};
  std::string config_text = config.dump();
  std::string config_digest;
  NEST_RETURN_IF_ERROR(WriteBlob(dir_, config_text, &config_digest));
  json layers = json::array();
  for (size_t i = 0; i < layers_.size(); ++i) {
    layers.push_back({{"mediaType", std::string(level_ > 0 ? kOciLayerGzipType
                                                           : kOciLayerTarType)},
                      {"digest", layers_[i]},
                      {"size", sizes_[i]}});
  }
  json manifest{{"schemaVersion", 2},
                {"mediaType", std::string(kOciManifestType)},
                {"config",
                 {{"mediaType", std::string(kOciConfigType)},
                  {"digest", config_digest},
                  {"size", config_text.size()}}},
                {"layers", layers}};
  std::string manifest_text = manifest.dump();
  std::string manifest_digest;
  NEST_RETURN_IF_ERROR(WriteBlob(dir_, manifest_text, &manifest_digest));

  json index{{"schemaVersion", 2}, {"manifests", json::array()}};
  auto existing = ReadFileToString(dir_ + "/index.json");
  if (existing.ok()) {
    json old = json::parse(*existing, nullptr, false);
    if (!old.is_discarded() && old.contains("manifests") &&
        old["manifests"].is_array()) {
      for (const auto& m : old["manifests"]) {
        std::string name;
        if (m.contains("annotations") && m["annotations"].is_object()) {
          name =
              m["annotations"].value("org.opencontainers.image.ref.name", "");
        }
        if (name != ref) index["manifests"].push_back(m);
      }
    }
  }
  index["manifests"].push_back(
      {{"mediaType", std::string(kOciManifestType)},
       {"digest", manifest_digest},
       {"size", manifest_text.size()},
       {"annotations",
        {{"org.opencontainers.image.ref.name", std::string(ref)}}}});
  NEST_RETURN_IF_ERROR(AtomicWriteFile(dir_ + "/index.json", index.dump()));
  NEST_RETURN_IF_ERROR(AtomicWriteFile(dir_ + "/oci-layout",
                                       R"({"imageLayoutVersion":"1.0.0"})"));
  return manifest_digest;
}

}  // namespace nest::images

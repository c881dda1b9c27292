// Everything read from a source is untrusted: names inside archives and
// documents are validated before use, digests are checked before a document
// is parsed, and nlohmann exceptions are caught here so none escapes.
#include "images/oci_source.h"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <map>
#include <nlohmann/json.hpp>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "core/sha256.h"
#include "core/validate.h"
#include "images/byte_source.h"
#include "images/path.h"
#include "images/tar.h"

namespace nest::images {

using json = nlohmann::json;

absl::string_view SourceKindName(SourceKind k) {
  switch (k) {
    case SourceKind::kOciLayout:
      return "oci layout";
    case SourceKind::kOciArchive:
      return "oci-archive";
    case SourceKind::kDockerArchive:
      return "docker-archive";
  }
  return "?";
}

// Maps a relative name to the bytes of that file: in a directory, or as a
// range of an (uncompressed) tar archive indexed once.
class ImageSource::Files {
 public:
  static absl::StatusOr<std::shared_ptr<Files>> OpenDir(
      const std::string& dir) {
    auto f = std::make_shared<Files>();
    f->dir_ = dir;
    return f;
  }

  static absl::StatusOr<std::shared_ptr<Files>> OpenArchive(
      const std::string& path) {
    auto f = std::make_shared<Files>();
    ScopedFd fd(::open(path.c_str(), O_RDONLY | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus(errno, "open", path);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0) return ErrnoStatus(errno, "stat", path);
    char head[4] = {};
    if (::pread(fd.get(), head, sizeof head, 0) == 4 &&
        DetectCompression(head, 4) != Compression::kNone) {
      return absl::InvalidArgumentError(absl::StrCat(
          path,
          " is a compressed archive; expected an uncompressed tar as "
          "written by skopeo (decompress it first)"));
    }
    FileRangeSource src(fd.get(), 0, static_cast<uint64_t>(st.st_size), path);
    TarReader tar(src);
    TarEntry e;
    for (;;) {
      NEST_ASSIGN_OR_RETURN(bool more, tar.Next(&e));
      if (!more) break;
      if (e.type != TarEntry::kFile) continue;
      auto parts = SplitEntryPath(e.path);
      // Hostile names can never be looked up, so they are simply not indexed.
      if (!parts.ok() || parts->empty()) continue;
      f->entries_[absl::StrJoin(*parts, "/")] = {e.data_offset, e.size};
    }
    f->archive_name_ = path;
    f->fds_.push_back(std::move(fd));
    return f;
  }

  absl::StatusOr<BlobLocation> Find(const std::string& rel) {
    NEST_ASSIGN_OR_RETURN(std::vector<std::string> parts, SplitEntryPath(rel));
    std::string clean = absl::StrJoin(parts, "/");
    if (dir_.empty()) {
      auto it = entries_.find(clean);
      if (it == entries_.end()) {
        return absl::NotFoundError(absl::StrCat(archive_name_, " has no file ",
                                                QuoteForMessage(clean)));
      }
      return BlobLocation{fds_[0].get(), it->second.first, it->second.second,
                          absl::StrCat(archive_name_, ":", clean)};
    }
    std::string path = dir_ + "/" + clean;
    ScopedFd fd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
    if (!fd.valid()) return ErrnoStatus(errno, "open", path);
    struct stat st;
    if (::fstat(fd.get(), &st) != 0 || !S_ISREG(st.st_mode)) {
      return absl::InvalidArgumentError(path + " is not a regular file");
    }
    fds_.push_back(std::move(fd));
    return BlobLocation{fds_.back().get(), 0, static_cast<uint64_t>(st.st_size),
                        path};
  }

  absl::StatusOr<std::string> ReadSmall(const std::string& rel,
                                        uint64_t max = 4 << 20) {
    NEST_ASSIGN_OR_RETURN(BlobLocation loc, Find(rel));
    if (loc.size > max) {
      return absl::InvalidArgumentError(
          absl::StrCat(loc.name, " is ", loc.size,
                       " bytes; documents are limited to ", max));
    }
    std::string out(loc.size, '\0');
    FileRangeSource src(loc.fd, loc.offset, loc.size, loc.name);
    size_t done = 0;
    while (done < out.size()) {
      NEST_ASSIGN_OR_RETURN(size_t n,
                            src.Read(out.data() + done, out.size() - done));
      if (n == 0) break;
      done += n;
    }
    return out;
  }

 private:
  std::string dir_;
  std::string archive_name_;
  std::map<std::string, std::pair<uint64_t, uint64_t>> entries_;
  std::vector<ScopedFd> fds_;
};

namespace {

absl::StatusOr<json> ParseJson(const std::string& text,
                               absl::string_view what) {
  json j = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded() || !j.is_object()) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " is not a JSON object"));
  }
  return j;
}

std::string BlobPath(const std::string& digest) {
  return "blobs/sha256/" + DigestHex(digest);
}

struct Descriptor {
  std::string media_type, digest;
  uint64_t size = 0;
};

absl::StatusOr<Descriptor> ReadDescriptor(const json& j,
                                          absl::string_view what) {
  try {
    Descriptor d;
    d.media_type = j.value("mediaType", "");
    d.digest = j.at("digest").get<std::string>();
    // A float or negative size would be cast out of range (UBSan in
    // fuzz_oci_layout): only a non-negative integer is a size.
    const json& size = j.at("size");
    if (!size.is_number_unsigned() &&
        !(size.is_number_integer() && size.get<int64_t>() >= 0)) {
      return absl::InvalidArgumentError(absl::StrCat(
          what, ".size must be a non-negative integer, got ", size.dump()));
    }
    d.size = size.get<uint64_t>();
    NEST_RETURN_IF_ERROR(
        ValidateDigest(absl::StrCat(what, ".digest"), d.digest));
    return d;
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat(what, " must have a digest and a size: ", e.what()));
  }
}

absl::Status CheckDigest(absl::string_view what, const std::string& data,
                         const std::string& expected, uint64_t size) {
  if (data.size() != size) {
    return absl::DataLossError(absl::StrCat(
        what, " is ", data.size(), " bytes, the descriptor says ", size));
  }
  std::string got = Sha256Digest(data);
  if (got != expected) {
    return absl::DataLossError(absl::StrCat(
        "digest mismatch for ", what, ": expected ", expected, ", got ", got));
  }
  return absl::OkStatus();
}

bool IsIndexType(const std::string& t) {
  return t == "application/vnd.oci.image.index.v1+json" ||
         t == "application/vnd.docker.distribution.manifest.list.v2+json";
}

// Chooses linux/amd64 in a multi-platform index (Nest guests are x86_64).
absl::StatusOr<Descriptor> PickPlatform(const json& index) {
  if (!index.contains("manifests") || !index["manifests"].is_array()) {
    return absl::InvalidArgumentError("image index has no manifests array");
  }
  for (const auto& m : index["manifests"]) {
    // json::value throws on a non-object or a non-string; compare as json.
    if (!m.is_object() || !m.contains("platform")) continue;
    const json& p = m["platform"];
    if (p.is_object() && p.value("os", json()) == "linux" &&
        p.value("architecture", json()) == "amd64") {
      return ReadDescriptor(m, "manifests[]");
    }
  }
  if (index["manifests"].size() == 1) {
    return ReadDescriptor(index["manifests"][0], "manifests[0]");
  }
  return absl::NotFoundError("image index has no linux/amd64 manifest");
}

}  // namespace

absl::StatusOr<std::unique_ptr<ImageSource>> ImageSource::Open(
    const std::string& path, absl::string_view ref) {
  std::unique_ptr<ImageSource> s(new ImageSource());
  struct stat st;
  if (::stat(path.c_str(), &st) != 0)
    return ErrnoStatus(errno, "open image source", path);
  if (S_ISDIR(st.st_mode)) {
    s->kind_ = SourceKind::kOciLayout;
    NEST_ASSIGN_OR_RETURN(s->files_, Files::OpenDir(path));
    NEST_RETURN_IF_ERROR(s->OpenOci(ref));
    return s;
  }
  NEST_ASSIGN_OR_RETURN(s->files_, Files::OpenArchive(path));
  if (s->files_->Find("index.json").ok()) {
    s->kind_ = SourceKind::kOciArchive;
    NEST_RETURN_IF_ERROR(s->OpenOci(ref));
  } else if (s->files_->Find("manifest.json").ok()) {
    s->kind_ = SourceKind::kDockerArchive;
    NEST_RETURN_IF_ERROR(s->OpenDocker(ref));
  } else {
    return absl::InvalidArgumentError(absl::StrCat(
        path,
        " is neither an OCI layout (index.json) nor a docker-archive "
        "(manifest.json)"));
  }
  return s;
}

absl::Status ImageSource::OpenOci(absl::string_view ref) {
  NEST_ASSIGN_OR_RETURN(std::string index_text,
                        files_->ReadSmall("index.json"));
  NEST_ASSIGN_OR_RETURN(json index, ParseJson(index_text, "index.json"));
  if (!index.contains("manifests") || !index["manifests"].is_array()) {
    return absl::InvalidArgumentError("index.json has no manifests array");
  }
  std::vector<std::string> refs;
  const json* chosen = nullptr;
  for (const auto& m : index["manifests"]) {
    std::string name;
    if (m.contains("annotations") && m["annotations"].is_object()) {
      const json& a = m["annotations"];
      auto it = a.find("org.opencontainers.image.ref.name");
      if (it != a.end() && it->is_string()) name = it->get<std::string>();
    }
    refs.push_back(name.empty() ? "<unnamed>" : name);
    if (!ref.empty() && name == ref) chosen = &m;
  }
  if (chosen == nullptr) {
    if (!ref.empty() || index["manifests"].size() != 1) {
      return absl::NotFoundError(absl::StrCat(
          "no image ", ref.empty() ? "(no ref given)" : QuoteForMessage(ref),
          " in index.json; it holds: ", absl::StrJoin(refs, ", ")));
    }
    chosen = &index["manifests"][0];
  }
  NEST_ASSIGN_OR_RETURN(Descriptor md,
                        ReadDescriptor(*chosen, "index.json manifests[]"));
  for (int depth = 0; IsIndexType(md.media_type); ++depth) {
    if (depth > 2)
      return absl::InvalidArgumentError("image indexes nest too deep");
    NEST_ASSIGN_OR_RETURN(std::string text,
                          files_->ReadSmall(BlobPath(md.digest)));
    NEST_RETURN_IF_ERROR(CheckDigest("image index", text, md.digest, md.size));
    NEST_ASSIGN_OR_RETURN(json sub, ParseJson(text, "image index"));
    NEST_ASSIGN_OR_RETURN(md, PickPlatform(sub));
  }
  NEST_ASSIGN_OR_RETURN(manifest_, files_->ReadSmall(BlobPath(md.digest)));
  NEST_RETURN_IF_ERROR(CheckDigest("manifest", manifest_, md.digest, md.size));
  manifest_digest_ = md.digest;
  NEST_ASSIGN_OR_RETURN(json manifest, ParseJson(manifest_, "manifest"));
  if (!manifest.contains("config") || !manifest.contains("layers") ||
      !manifest["layers"].is_array()) {
    return absl::InvalidArgumentError("manifest must have config and layers");
  }
  NEST_ASSIGN_OR_RETURN(Descriptor cd,
                        ReadDescriptor(manifest["config"], "manifest config"));
  NEST_ASSIGN_OR_RETURN(config_, files_->ReadSmall(BlobPath(cd.digest)));
  NEST_RETURN_IF_ERROR(
      CheckDigest("image config", config_, cd.digest, cd.size));
  config_digest_ = cd.digest;
  NEST_ASSIGN_OR_RETURN(json config, ParseJson(config_, "image config"));
  json diff_ids = config.contains("rootfs") && config["rootfs"].is_object()
                      ? config["rootfs"].value("diff_ids", json::array())
                      : json::array();
  const json& layers = manifest["layers"];
  if (!diff_ids.is_array()) {
    return absl::InvalidArgumentError(
        absl::StrCat("image config rootfs.diff_ids must be an array, got ",
                     diff_ids.type_name()));
  }
  if (diff_ids.size() != layers.size()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "image config lists ", diff_ids.size(), " diff_ids for ", layers.size(),
        " manifest layers; expected one per layer"));
  }
  for (size_t i = 0; i < layers.size(); ++i) {
    std::string what = absl::StrCat("manifest layers[", i, "]");
    NEST_ASSIGN_OR_RETURN(Descriptor ld, ReadDescriptor(layers[i], what));
    SourceLayer l;
    l.digest = ld.digest;
    l.size = ld.size;
    l.media_type = ld.media_type;
    if (!diff_ids[i].is_string()) {
      return absl::InvalidArgumentError(
          "image config diff_ids must be strings");
    }
    l.diff_id = diff_ids[i].get<std::string>();
    NEST_RETURN_IF_ERROR(
        ValidateDigest(absl::StrCat("rootfs.diff_ids[", i, "]"), l.diff_id));
    NEST_ASSIGN_OR_RETURN(l.where, files_->Find(BlobPath(ld.digest)));
    if (l.where.size != l.size) {
      return absl::DataLossError(absl::StrCat(l.where.name, " is ",
                                              l.where.size, " bytes; ", what,
                                              " says ", l.size));
    }
    layers_.push_back(std::move(l));
  }
  return absl::OkStatus();
}

absl::Status ImageSource::OpenDocker(absl::string_view ref) {
  NEST_ASSIGN_OR_RETURN(std::string text, files_->ReadSmall("manifest.json"));
  json list = json::parse(text, nullptr, false);
  if (list.is_discarded() || !list.is_array() || list.empty()) {
    return absl::InvalidArgumentError(
        "docker-archive manifest.json must be a non-empty JSON array");
  }
  const json* chosen = nullptr;
  std::vector<std::string> tags;
  for (const auto& m : list) {
    if (!m.is_object()) continue;
    for (const auto& t : m.value("RepoTags", json::array())) {
      if (!t.is_string()) continue;
      std::string tag = t.get<std::string>();
      tags.push_back(tag);
      if (!ref.empty() && (tag == ref || tag == absl::StrCat(ref, ":latest")))
        chosen = &m;
    }
  }
  if (chosen == nullptr) {
    if (!ref.empty() || list.size() != 1) {
      return absl::NotFoundError(absl::StrCat(
          "no image ", ref.empty() ? "(no ref given)" : QuoteForMessage(ref),
          " in the docker-archive; it holds: ", absl::StrJoin(tags, ", ")));
    }
    chosen = &list[0];
  }
  try {
    std::string config_name = chosen->at("Config").get<std::string>();
    NEST_ASSIGN_OR_RETURN(config_, files_->ReadSmall(config_name));
    config_digest_ = Sha256Digest(config_);
    // The config's file name is its digest ("<hex>.json" or
    // "blobs/sha256/<hex>"); when it is, it must match.
    std::string base = config_name.substr(config_name.rfind('/') + 1);
    if (base.size() >= 64) {
      std::string hex = base.substr(0, 64);
      if (ValidateDigest("config", "sha256:" + hex).ok() &&
          "sha256:" + hex != config_digest_) {
        return absl::DataLossError(
            absl::StrCat("digest mismatch for image config ", config_name,
                         ": got ", config_digest_));
      }
    }
    NEST_ASSIGN_OR_RETURN(json config, ParseJson(config_, "image config"));
    json diff_ids = config.at("rootfs").at("diff_ids");
    const json& layer_names = chosen->at("Layers");
    if (!diff_ids.is_array() || diff_ids.size() != layer_names.size()) {
      return absl::InvalidArgumentError(
          "docker-archive config must list one diff_id per layer");
    }
    for (size_t i = 0; i < layer_names.size(); ++i) {
      SourceLayer l;
      l.diff_id = diff_ids[i].get<std::string>();
      NEST_RETURN_IF_ERROR(
          ValidateDigest(absl::StrCat("rootfs.diff_ids[", i, "]"), l.diff_id));
      NEST_ASSIGN_OR_RETURN(l.where,
                            files_->Find(layer_names[i].get<std::string>()));
      l.size = l.where.size;
      layers_.push_back(std::move(l));
    }
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError(
        absl::StrCat("malformed docker-archive metadata: ", e.what()));
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> HashLocation(const BlobLocation& loc) {
  FileRangeSource src(loc.fd, loc.offset, loc.size, loc.name);
  HashingSource h(src);
  NEST_RETURN_IF_ERROR(Drain(h).status());
  return h.FinishDigest();
}

}  // namespace nest::images

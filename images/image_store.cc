#include "images/image_store.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <nlohmann/json.hpp>
#include <set>

#include "absl/cleanup/cleanup.h"
#include "absl/strings/str_cat.h"
#include "core/validate.h"
#include "images/byte_source.h"
#include "images/fs.h"
#include "images/layer_unpack.h"
#include "images/oci_source.h"
#include "core/sha256.h"

namespace nest::images {

using json = nlohmann::json;

std::vector<std::string> ImageRecord::Blobs() const {
  std::vector<std::string> out = {manifest_digest, config_digest};
  out.insert(out.end(), layers.begin(), layers.end());
  return out;
}

namespace {

json ToJson(const ImageRecord& r) {
  return json{{"name", r.name},
              {"manifest_digest", r.manifest_digest},
              {"config_digest", r.config_digest},
              {"layers", r.layers},
              {"size_bytes", r.size_bytes},
              {"source_kind", r.source_kind},
              {"unpacked", r.unpacked}};
}

absl::StatusOr<ImageRecord> FromJson(const json& j) {
  try {
    ImageRecord r;
    r.name = j.at("name").get<std::string>();
    r.manifest_digest = j.at("manifest_digest").get<std::string>();
    r.config_digest = j.at("config_digest").get<std::string>();
    r.layers = j.at("layers").get<std::vector<std::string>>();
    r.size_bytes = j.value("size_bytes", uint64_t{0});
    r.source_kind = j.value("source_kind", "");
    r.unpacked = j.value("unpacked", false);
    for (const auto& d : r.Blobs()) {
      NEST_RETURN_IF_ERROR(ValidateDigest("index.json digest", d));
    }
    return r;
  } catch (const json::exception& e) {
    return absl::DataLossError(
        absl::StrCat("images/index.json has a malformed entry: ", e.what()));
  }
}

// What streaming one layer found.
struct LayerOutcome {
  std::string digest;
  uint64_t size = 0;
  std::string diff_id;
  Compression compression = Compression::kNone;
};

// One pass over a layer blob: hash it (and copy it to `tee_fd` when >= 0),
// gunzip, hash the tar (diff_id), and apply it to `rootfs_fd` when >= 0.
// Extraction happens before the digest is known to be right; that is safe
// because it goes into a staging directory that is discarded on mismatch,
// and it saves reading the blob twice.
absl::StatusOr<LayerOutcome> StreamLayer(const BlobLocation& loc,
                                         const std::string& what,
                                         const std::string& want_digest,
                                         uint64_t want_size,
                                         const std::string& want_diff_id,
                                         int tee_fd, int rootfs_fd) {
  char head[4] = {};
  ssize_t hn = ::pread(loc.fd, head, std::min<uint64_t>(4, loc.size),
                       static_cast<off_t>(loc.offset));
  LayerOutcome out;
  out.compression =
      DetectCompression(head, hn > 0 ? static_cast<size_t>(hn) : 0);
  if (out.compression == Compression::kZstd) {
    return absl::UnimplementedError(absl::StrCat(
        what, " is zstd-compressed; Nest imports gzip or uncompressed layers"));
  }
  FileRangeSource file(loc.fd, loc.offset, loc.size, loc.name);
  HashingSource blob(file, tee_fd, loc.name);
  std::unique_ptr<GzipSource> gz;
  std::unique_ptr<HashingSource> diff;
  ByteSource* tar = &blob;
  if (out.compression == Compression::kGzip) {
    gz = std::make_unique<GzipSource>(blob, loc.name);
    diff = std::make_unique<HashingSource>(*gz);
    tar = diff.get();
  }
  absl::Status applied = absl::OkStatus();
  if (rootfs_fd >= 0) {
    applied = ApplyLayer(*tar, rootfs_fd, DefaultUnpackOptions(), nullptr);
  }
  // Hash everything after the tar's end marker too: the digest covers it.
  if (applied.ok()) applied = Drain(*tar).status();
  if (applied.ok()) applied = Drain(blob).status();
  if (!applied.ok()) {
    // A corrupt blob often fails gunzip or tar parsing before its digest is
    // known; the digest mismatch is the real cause, so report that.
    if ((!want_digest.empty() || !gz) && Drain(blob).ok()) {
      std::string got = blob.FinishDigest();
      if (!want_digest.empty() && got != want_digest) {
        return absl::DataLossError(absl::StrCat(
            "digest mismatch for ", what, ": expected ", want_digest, ", got ",
            got, " (", applied.message(), ")"));
      }
      if (!gz && !want_diff_id.empty() && got != want_diff_id) {
        return absl::DataLossError(
            absl::StrCat("diff_id mismatch for ", what, ": the config expects ",
                         want_diff_id, ", the layer is ", got, " (",
                         applied.message(), ")"));
      }
    }
    return Annotate(applied, what);
  }
  out.size = blob.bytes();
  out.digest = blob.FinishDigest();
  out.diff_id = diff ? diff->FinishDigest() : out.digest;
  if (want_size != 0 && out.size != want_size) {
    return absl::DataLossError(absl::StrCat(
        what, " is ", out.size, " bytes; the manifest says ", want_size));
  }
  if (!want_digest.empty() && out.digest != want_digest) {
    return absl::DataLossError(absl::StrCat("digest mismatch for ", what,
                                            ": expected ", want_digest,
                                            ", got ", out.digest));
  }
  if (!want_diff_id.empty() && out.diff_id != want_diff_id) {
    return absl::DataLossError(absl::StrCat(
        "diff_id mismatch for ", what, ": the config expects ", want_diff_id,
        ", the uncompressed layer is ", out.diff_id));
  }
  return out;
}

absl::StatusOr<BlobLocation> OpenBlob(const std::string& path,
                                      ScopedFd* holder) {
  *holder = ScopedFd(::open(path.c_str(), O_RDONLY | O_NOFOLLOW | O_CLOEXEC));
  if (!holder->valid()) return ErrnoStatus(errno, "open blob", path);
  struct stat st;
  if (::fstat(holder->get(), &st) != 0) return ErrnoStatus(errno, "stat", path);
  return BlobLocation{holder->get(), 0, static_cast<uint64_t>(st.st_size),
                      path};
}

absl::StatusOr<std::vector<std::string>> DiffIds(const std::string& config) {
  json j = json::parse(config, nullptr, false);
  try {
    return j.at("rootfs").at("diff_ids").get<std::vector<std::string>>();
  } catch (const json::exception& e) {
    return absl::DataLossError(
        absl::StrCat("stored image config has no rootfs.diff_ids: ", e.what()));
  }
}

std::vector<std::string> ListDir(const std::string& dir) {
  std::vector<std::string> out;
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return out;
  while (struct dirent* e = ::readdir(d)) {
    std::string n = e->d_name;
    if (n != "." && n != "..") out.push_back(n);
  }
  ::closedir(d);
  return out;
}

}  // namespace

// Exclusive flock on images/.lock for the lifetime of the object.
class ImageStore::WriterLock {
 public:
  static absl::StatusOr<std::unique_ptr<WriterLock>> Acquire(
      const std::string& dir) {
    std::string path = dir + "/.lock";
    ScopedFd fd(::open(path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0600));
    if (!fd.valid()) return ErrnoStatus(errno, "open", path);
    while (::flock(fd.get(), LOCK_EX) != 0) {
      if (errno != EINTR) return ErrnoStatus(errno, "lock", path);
    }
    auto l = std::unique_ptr<WriterLock>(new WriterLock());
    l->fd_ = std::move(fd);
    return l;
  }

 private:
  WriterLock() = default;
  ScopedFd fd_;  // closing releases the lock
};

ImageStore::ImageStore(std::string root)
    : root_(std::move(root)), dir_(root_ + "/images") {}

absl::StatusOr<std::unique_ptr<ImageStore>> ImageStore::Open(
    const std::string& root) {
  if (root.empty()) return absl::InvalidArgumentError("store root is empty");
  std::unique_ptr<ImageStore> s(new ImageStore(root));
  for (const char* sub : {"/sha256", "/rootfs", "/tmp"}) {
    NEST_RETURN_IF_ERROR(MakeDirs(s->dir_ + sub, 0755));
  }
  return s;
}

std::string ImageStore::BlobPath(absl::string_view digest) const {
  return absl::StrCat(dir_, "/sha256/", DigestHex(digest));
}

std::string ImageStore::RootfsPath(const ImageRecord& image) const {
  return absl::StrCat(dir_, "/rootfs/", DigestHex(image.config_digest));
}

absl::StatusOr<std::map<std::string, ImageRecord>> ImageStore::LoadIndex()
    const {
  std::map<std::string, ImageRecord> index;
  auto text = ReadFileToString(dir_ + "/index.json");
  if (absl::IsNotFound(text.status())) return index;
  if (!text.ok()) return text.status();
  json j = json::parse(*text, nullptr, false);
  if (j.is_discarded() || !j.is_object() || !j.contains("images") ||
      !j["images"].is_array()) {
    return absl::DataLossError(dir_ + "/index.json is not a valid image index");
  }
  for (const auto& e : j["images"]) {
    NEST_ASSIGN_OR_RETURN(ImageRecord r, FromJson(e));
    index[r.name] = std::move(r);
  }
  return index;
}

absl::Status ImageStore::SaveIndex(
    const std::map<std::string, ImageRecord>& index) {
  json arr = json::array();
  for (const auto& [name, r] : index) arr.push_back(ToJson(r));
  json j{{"version", 1}, {"images", arr}};
  return AtomicWriteFile(dir_ + "/index.json", j.dump(2) + "\n");
}

absl::StatusOr<ImportResult> ImageStore::Import(const std::string& source,
                                                absl::string_view name,
                                                const ImportOptions& options) {
  NEST_RETURN_IF_ERROR(ValidateName("image name", name));
  absl::MutexLock ml(&mu_);
  NEST_ASSIGN_OR_RETURN(auto lock, WriterLock::Acquire(dir_));
  // We hold the writer lock, so whatever staging exists was left by a
  // crashed writer.
  NEST_RETURN_IF_ERROR(RemoveTree(dir_ + "/tmp"));
  NEST_RETURN_IF_ERROR(MakeDirs(dir_ + "/tmp"));
  auto step = [&](absl::string_view s) {
    return options.progress ? options.progress(s) : absl::OkStatus();
  };

  NEST_ASSIGN_OR_RETURN(auto src, ImageSource::Open(source, options.ref));
  NEST_RETURN_IF_ERROR(step("verified manifest and config"));
  NEST_ASSIGN_OR_RETURN(auto index, LoadIndex());

  ImportResult result;
  for (const auto& [other, rec] : index) {
    if (rec.config_digest != src->config_digest()) continue;
    bool complete =
        !options.unpack || (rec.unpacked && PathExists(RootfsPath(rec)));
    for (const auto& d : rec.Blobs())
      complete = complete && PathExists(BlobPath(d));
    if (!complete) continue;
    result.image = rec;
    result.image.name = std::string(name);
    result.already_present = true;
    index[result.image.name] = result.image;
    NEST_RETURN_IF_ERROR(SaveIndex(index));
    return result;
  }

  NEST_ASSIGN_OR_RETURN(std::string staging,
                        MakeTempDir(dir_ + "/tmp", "import-"));
  std::vector<std::string> added;  // blobs this import put in the store
  bool committed = false;
  absl::Cleanup cleanup = [&] {
    (void)RemoveTree(staging);
    if (committed) return;
    for (const auto& d : added) ::unlink(BlobPath(d).c_str());
  };

  ScopedFd rootfs;
  if (options.unpack) {
    std::string rp = staging + "/rootfs";
    if (::mkdir(rp.c_str(), 0755) != 0) return ErrnoStatus(errno, "mkdir", rp);
    rootfs = ScopedFd(::open(rp.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
    if (!rootfs.valid()) return ErrnoStatus(errno, "open", rp);
  }

  ImageRecord rec;
  rec.name = std::string(name);
  rec.config_digest = src->config_digest();
  rec.source_kind = std::string(SourceKindName(src->kind()));
  rec.unpacked = options.unpack;
  json synthesized_layers = json::array();
  const auto& layers = src->layers();
  for (size_t i = 0; i < layers.size(); ++i) {
    const SourceLayer& l = layers[i];
    std::string what =
        absl::StrCat("layer ", i + 1, "/", layers.size(), " (",
                     l.digest.empty() ? l.where.name : l.digest, ")");
    // A blob already in the store was verified when it entered: read the
    // store's copy instead of copying the source's again.
    ScopedFd stored;
    BlobLocation loc = l.where;
    bool cached = !l.digest.empty() && PathExists(BlobPath(l.digest));
    if (cached) {
      NEST_ASSIGN_OR_RETURN(loc, OpenBlob(BlobPath(l.digest), &stored));
    }
    std::string tmp_path = absl::StrCat(staging, "/blob-", i);
    ScopedFd tee;
    if (!cached) {
      tee = ScopedFd(::open(tmp_path.c_str(),
                            O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0444));
      if (!tee.valid()) return ErrnoStatus(errno, "create", tmp_path);
    }
    NEST_ASSIGN_OR_RETURN(LayerOutcome got,
                          StreamLayer(loc, what, l.digest, l.size, l.diff_id,
                                      tee.valid() ? tee.get() : -1,
                                      rootfs.valid() ? rootfs.get() : -1));
    if (!cached) {
      if (::fsync(tee.get()) != 0) return ErrnoStatus(errno, "fsync", tmp_path);
      tee.Reset();
      std::string final_path = BlobPath(got.digest);
      if (PathExists(final_path)) {
        ::unlink(tmp_path.c_str());
      } else {
        if (::rename(tmp_path.c_str(), final_path.c_str()) != 0) {
          return ErrnoStatus(errno, "rename to", final_path);
        }
        added.push_back(got.digest);
        result.bytes_copied += got.size;
      }
    }
    rec.layers.push_back(got.digest);
    rec.size_bytes += got.size;
    synthesized_layers.push_back(
        {{"mediaType", got.compression == Compression::kGzip
                           ? std::string(kOciLayerGzipType)
                           : std::string(kOciLayerTarType)},
         {"digest", got.digest},
         {"size", got.size}});
    NEST_RETURN_IF_ERROR(step(what));
  }

  std::string manifest = src->manifest();
  if (manifest.empty()) {
    // docker-archive: describe the same blobs with an OCI manifest. json
    // objects keep keys sorted, so the same image gives the same digest.
    json m{{"schemaVersion", 2},
           {"mediaType", std::string(kOciManifestType)},
           {"config",
            {{"mediaType", std::string(kOciConfigType)},
             {"digest", src->config_digest()},
             {"size", src->config().size()}}},
           {"layers", synthesized_layers}};
    manifest = m.dump();
  }
  rec.manifest_digest = src->manifest_digest().empty() ? Sha256Digest(manifest)
                                                       : src->manifest_digest();
  const std::pair<std::string, const std::string*> docs[] = {
      {rec.config_digest, &src->config()}, {rec.manifest_digest, &manifest}};
  for (const auto& [digest, bytes] : docs) {
    if (PathExists(BlobPath(digest))) continue;
    NEST_RETURN_IF_ERROR(AtomicWriteFile(BlobPath(digest), *bytes, 0444));
    added.push_back(digest);
    rec.size_bytes += bytes->size();
  }

  if (options.unpack) {
    // The rootfs is a cache that can be rebuilt from the verified blobs, but
    // it must never be half-written once visible: flush it, then rename.
    if (::syncfs(rootfs.get()) != 0)
      return ErrnoStatus(errno, "syncfs", staging);
    rootfs.Reset();
    std::string final_rootfs = RootfsPath(rec);
    NEST_RETURN_IF_ERROR(RemoveTree(final_rootfs));  // crash leftover
    std::string from = staging + "/rootfs";
    if (::rename(from.c_str(), final_rootfs.c_str()) != 0) {
      return ErrnoStatus(errno, "rename to", final_rootfs);
    }
  }
  NEST_RETURN_IF_ERROR(step("unpacked"));
  index[rec.name] = rec;
  NEST_RETURN_IF_ERROR(SaveIndex(index));
  committed = true;
  result.image = rec;
  return result;
}

absl::StatusOr<std::vector<ImageRecord>> ImageStore::List() const {
  NEST_ASSIGN_OR_RETURN(auto index, LoadIndex());
  std::vector<ImageRecord> out;
  for (auto& [n, r] : index) out.push_back(std::move(r));
  return out;
}

absl::StatusOr<ImageRecord> ImageStore::Get(absl::string_view name) const {
  NEST_ASSIGN_OR_RETURN(auto index, LoadIndex());
  auto it = index.find(std::string(name));
  if (it == index.end()) {
    return absl::NotFoundError(
        absl::StrCat("no image named ", QuoteForMessage(name)));
  }
  return it->second;
}

absl::Status ImageStore::Delete(absl::string_view name) {
  absl::MutexLock ml(&mu_);
  NEST_ASSIGN_OR_RETURN(auto lock, WriterLock::Acquire(dir_));
  NEST_ASSIGN_OR_RETURN(auto index, LoadIndex());
  if (index.erase(std::string(name)) == 0) {
    return absl::NotFoundError(
        absl::StrCat("no image named ", QuoteForMessage(name)));
  }
  return SaveIndex(index);
}

absl::StatusOr<std::map<std::string, int>> ImageStore::RefCounts() const {
  NEST_ASSIGN_OR_RETURN(auto index, LoadIndex());
  std::map<std::string, int> counts;
  for (const auto& hex : ListDir(dir_ + "/sha256")) counts["sha256:" + hex] = 0;
  for (const auto& [n, r] : index) {
    // An image lists a blob once even if two layers share it.
    std::set<std::string> blobs;
    for (const auto& d : r.Blobs()) blobs.insert(d);
    for (const auto& d : blobs) ++counts[d];
  }
  return counts;
}

absl::StatusOr<GcResult> ImageStore::Gc() {
  absl::MutexLock ml(&mu_);
  NEST_ASSIGN_OR_RETURN(auto lock, WriterLock::Acquire(dir_));
  NEST_ASSIGN_OR_RETURN(auto index, LoadIndex());
  std::set<std::string> live_blobs, live_rootfs;
  for (const auto& [n, r] : index) {
    for (const auto& d : r.Blobs()) live_blobs.insert(DigestHex(d));
    if (r.unpacked) live_rootfs.insert(DigestHex(r.config_digest));
  }
  GcResult res;
  for (const auto& hex : ListDir(dir_ + "/sha256")) {
    if (live_blobs.count(hex)) continue;
    std::string p = dir_ + "/sha256/" + hex;
    struct stat st;
    if (::lstat(p.c_str(), &st) == 0)
      res.bytes_freed += static_cast<uint64_t>(st.st_size);
    NEST_RETURN_IF_ERROR(RemoveTree(p));
    ++res.blobs_removed;
  }
  for (const auto& hex : ListDir(dir_ + "/rootfs")) {
    if (live_rootfs.count(hex)) continue;
    NEST_RETURN_IF_ERROR(RemoveTree(dir_ + "/rootfs/" + hex));
    ++res.rootfs_removed;
  }
  NEST_RETURN_IF_ERROR(RemoveTree(dir_ + "/tmp"));
  NEST_RETURN_IF_ERROR(MakeDirs(dir_ + "/tmp"));
  return res;
}

absl::StatusOr<std::string> ImageStore::ReadBlob(
    absl::string_view digest) const {
  NEST_RETURN_IF_ERROR(ValidateDigest("digest", digest));
  NEST_ASSIGN_OR_RETURN(std::string data, ReadFileToString(BlobPath(digest)));
  std::string got = Sha256Digest(data);
  if (got != digest) {
    return absl::DataLossError(absl::StrCat(
        "stored blob ", digest, " is corrupt (hashes to ", got, ")"));
  }
  return data;
}

absl::StatusOr<std::string> ImageStore::ImageConfig(
    absl::string_view name) const {
  NEST_ASSIGN_OR_RETURN(ImageRecord r, Get(name));
  return ReadBlob(r.config_digest);
}

absl::Status ImageStore::UnpackTo(absl::string_view name,
                                  const std::string& dest) const {
  NEST_ASSIGN_OR_RETURN(ImageRecord r, Get(name));
  NEST_ASSIGN_OR_RETURN(std::string config, ReadBlob(r.config_digest));
  NEST_ASSIGN_OR_RETURN(std::vector<std::string> diff_ids, DiffIds(config));
  if (diff_ids.size() != r.layers.size()) {
    return absl::DataLossError("stored config and manifest disagree on layers");
  }
  if (PathExists(dest)) {
    return absl::AlreadyExistsError(dest +
                                    " already exists; expected a new path");
  }
  std::string parent = dest.substr(0, dest.find_last_of('/') + 1);
  if (parent.empty()) parent = "./";
  NEST_ASSIGN_OR_RETURN(std::string staging, MakeTempDir(parent, ".unpack-"));
  absl::Cleanup cleanup = [&] { (void)RemoveTree(staging); };
  ScopedFd root(::open(staging.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC));
  if (!root.valid()) return ErrnoStatus(errno, "open", staging);
  for (size_t i = 0; i < r.layers.size(); ++i) {
    ScopedFd fd;
    NEST_ASSIGN_OR_RETURN(BlobLocation loc,
                          OpenBlob(BlobPath(r.layers[i]), &fd));
    NEST_RETURN_IF_ERROR(
        StreamLayer(loc, absl::StrCat("layer ", i + 1, " (", r.layers[i], ")"),
                    r.layers[i], 0, diff_ids[i], -1, root.get())
            .status());
  }
  if (::chmod(staging.c_str(), 0755) != 0)
    return ErrnoStatus(errno, "chmod", staging);
  if (::rename(staging.c_str(), dest.c_str()) != 0) {
    return ErrnoStatus(errno, "rename to", dest);
  }
  return absl::OkStatus();
}

}  // namespace nest::images

// ImageSource::Open on a hostile OCI image layout. The input is documents
// separated by kSeparator: the first is index.json, each later one is a blob
// stored under its own digest. "@DIGEST_k@" and "@SIZE_k@" in a document
// stand for the digest and size of document k (k > the document's own
// number), so the fuzzer can write indexes, manifests and configs whose
// digests verify and reach the parsing behind the digest checks.
//
// Properties: Open returns a source or an error (no exception escapes); a
// source it returns has documents that match their digests, valid layer
// digests and diff_ids, and layer locations whose bytes hash to the layer's
// digest and size.
#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "core/sha256.h"
#include "fuzz/check.h"
#include "images/oci_source.h"
#include "images/runtime_config.h"

namespace {

constexpr absl::string_view kSeparator = "\n--8<--\n";
constexpr size_t kMaxDocuments = 8;

std::string* layout_dir = nullptr;

void WriteFile(const std::string& path, absl::string_view bytes) {
  int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  FUZZ_CHECK(fd >= 0);
  FUZZ_CHECK(::write(fd, bytes.data(), bytes.size()) ==
             static_cast<ssize_t>(bytes.size()));
  ::close(fd);
}

// Empties blobs/sha256 so every run starts from a fresh layout.
void ClearBlobs(const std::string& blobs) {
  DIR* d = ::opendir(blobs.c_str());
  FUZZ_CHECK(d != nullptr);
  while (struct dirent* e = ::readdir(d)) {
    if (e->d_name[0] == '.') continue;
    ::unlink((blobs + "/" + e->d_name).c_str());
  }
  ::closedir(d);
}

void CheckSource(const nest::images::ImageSource& s) {
  FUZZ_CHECK(s.kind() == nest::images::SourceKind::kOciLayout);
  FUZZ_CHECK(nest::Sha256Digest(s.manifest()) == s.manifest_digest());
  FUZZ_CHECK(nest::Sha256Digest(s.config()) == s.config_digest());
  for (const nest::images::SourceLayer& l : s.layers()) {
    FUZZ_CHECK(nest::ValidateDigest("digest", l.digest).ok());
    FUZZ_CHECK(nest::ValidateDigest("diff_id", l.diff_id).ok());
    FUZZ_CHECK(l.where.size == l.size);
    // Every blob in this layout is stored under its own digest.
    absl::StatusOr<std::string> got = nest::images::HashLocation(l.where);
    FUZZ_CHECK(got.ok() && *got == l.digest);
  }
  // The importer parses the verified config next.
  (void)nest::images::ParseImageConfig(s.config());
}

void RemoveLayout() {
  const std::string& dir = *layout_dir;
  ClearBlobs(dir + "/blobs/sha256");
  ::unlink((dir + "/index.json").c_str());
  ::rmdir((dir + "/blobs/sha256").c_str());
  ::rmdir((dir + "/blobs").c_str());
  ::rmdir(dir.c_str());
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  const char* base = ::access("/dev/shm", W_OK) == 0 ? "/dev/shm" : "/tmp";
  std::string tmpl = absl::StrCat(base, "/nest-fuzz-oci-XXXXXX");
  FUZZ_CHECK(::mkdtemp(tmpl.data()) != nullptr);
  layout_dir = new std::string(tmpl);
  FUZZ_CHECK(::mkdir((tmpl + "/blobs").c_str(), 0755) == 0);
  FUZZ_CHECK(::mkdir((tmpl + "/blobs/sha256").c_str(), 0755) == 0);
  std::atexit(RemoveLayout);  // libFuzzer ends a timed run with exit()
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::vector<std::string> docs = absl::StrSplit(
      absl::string_view(reinterpret_cast<const char*>(data), size), kSeparator);
  if (docs.size() > kMaxDocuments) return -1;  // not worth keeping

  // Later documents first, so each placeholder refers to final bytes.
  for (size_t k = docs.size(); k-- > 1;) {
    std::string digest = nest::Sha256Digest(docs[k]);
    std::string digest_key = absl::StrCat("@DIGEST_", k, "@");
    std::string size_key = absl::StrCat("@SIZE_", k, "@");
    for (size_t j = 0; j < k; ++j) {
      docs[j] = absl::StrReplaceAll(
          docs[j],
          {{digest_key, digest}, {size_key, absl::StrCat(docs[k].size())}});
    }
  }
  const std::string& dir = *layout_dir;
  ClearBlobs(dir + "/blobs/sha256");
  WriteFile(dir + "/index.json", docs[0]);
  for (size_t k = 1; k < docs.size(); ++k) {
    WriteFile(dir + "/blobs/sha256/" + nest::Sha256Hex(docs[k]), docs[k]);
  }

  for (absl::string_view ref : {"", "app:1"}) {
    absl::StatusOr<std::unique_ptr<nest::images::ImageSource>> source =
        nest::images::ImageSource::Open(dir, ref);
    if (source.ok()) CheckSource(**source);
  }
  return 0;
}

#include "images/image_store.h"

#include <doctest/doctest.h>
#include <fcntl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <nlohmann/json.hpp>
#include <string>

#include "absl/strings/str_cat.h"
#include "core/sha256.h"
#include "images/fs.h"
#include "images/oci_source.h"
#include "images/tar.h"
#include "tests/images/test_util.h"

namespace nest::images {
namespace {

using testing::AppConfig;
using testing::CountEntries;
using testing::Exists;
using testing::MakeImage;
using testing::ReadOr;
using testing::WithRef;

std::string BaseLayer() {
  TarWriter t;
  t.AddDirectory("bin");
  t.AddFile("bin/app", "binary", 0755);
  t.AddFile("etc/os-release", "ID=nest\n");
  t.AddFile("etc/remove-me", "old");
  return t.Finish();
}

std::string TopLayer(const std::string& tag) {
  TarWriter t;
  t.AddFile("etc/.wh.remove-me", "");
  t.AddFile("srv/tag", tag);
  return t.Finish();
}

struct Env {
  ScopedTempDir tmp;
  std::string layout = tmp.path() + "/layout";
  std::string root = tmp.path() + "/state";
  std::unique_ptr<ImageStore> store;
  Env() {
    auto s = ImageStore::Open(root);
    REQUIRE(s.ok());
    store = std::move(*s);
  }
  std::string blobs() const { return root + "/images/sha256"; }
};

// Checks that the store holds no blob, rootfs, staging or index entry.
void CheckEmpty(const Env& e) {
  CHECK(CountEntries(e.blobs()) == 0);
  CHECK(CountEntries(e.root + "/images/rootfs") == 0);
  CHECK(CountEntries(e.root + "/images/tmp") == 0);
  auto list = e.store->List();
  REQUIRE(list.ok());
  CHECK(list->empty());
}

TEST_CASE(
    "import verifies, stores blobs by digest and unpacks layers in order") {
  Env e;
  std::string digest =
      MakeImage(e.layout, "app", {BaseLayer(), TopLayer("v1")});
  REQUIRE(digest.rfind("sha256:", 0) == 0);
  auto r = e.store->Import(e.layout, "app");
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK_FALSE(r->already_present);
  CHECK(r->image.manifest_digest == digest);
  CHECK(r->image.layers.size() == 2);
  // Every blob is named by the hash of its content.
  CHECK(CountEntries(e.blobs()) == 4);
  for (const auto& d : r->image.Blobs()) {
    auto data = ReadFileToString(e.store->BlobPath(d));
    REQUIRE(data.ok());
    CHECK(Sha256Digest(*data) == d);
  }
  std::string rootfs = e.store->RootfsPath(r->image);
  CHECK(ReadOr(rootfs + "/bin/app") == "binary");
  CHECK(ReadOr(rootfs + "/srv/tag") == "v1");
  CHECK_FALSE(Exists(rootfs + "/etc/remove-me"));
  auto got = e.store->Get("app");
  REQUIRE(got.ok());
  CHECK(got->config_digest == r->image.config_digest);
}

TEST_CASE("import is reproducible and happens once") {
  Env e, other;
  std::string d1 = MakeImage(e.layout, "app", {BaseLayer(), TopLayer("v1")});
  std::string d2 =
      MakeImage(other.layout, "app", {BaseLayer(), TopLayer("v1")});
  CHECK(d1 == d2);
  auto a = e.store->Import(e.layout, "app");
  auto b = other.store->Import(other.layout, "app");
  REQUIRE(a.ok());
  REQUIRE(b.ok());
  CHECK(a->image.manifest_digest == b->image.manifest_digest);
  CHECK(a->image.config_digest == b->image.config_digest);
  // Second import: nothing copied, same record, under another name too.
  auto again = e.store->Import(e.layout, "app-copy");
  REQUIRE(again.ok());
  CHECK(again->already_present);
  CHECK(again->bytes_copied == 0);
  CHECK(again->image.manifest_digest == a->image.manifest_digest);
  CHECK(CountEntries(e.blobs()) == 4);
}

TEST_CASE("a layer whose digest does not match leaves nothing in the store") {
  Env e;
  OciLayoutWriter w(e.layout);
  REQUIRE(w.AddLayer(BaseLayer()).ok());
  REQUIRE(w.AddLayer(TopLayer("v1")).ok());
  REQUIRE(w.Finish("app", AppConfig()).ok());
  // Same size, one byte changed in the second layer: the first layer is
  // fine and enters the store before the mismatch is found.
  std::string bad =
      e.layout + "/blobs/sha256/" + DigestHex(w.layer_digests()[1]);
  auto data = ReadFileToString(bad);
  REQUIRE(data.ok());
  std::string corrupt = *data;
  corrupt[corrupt.size() / 2] ^= 0x55;
  REQUIRE(AtomicWriteFile(bad, corrupt).ok());

  auto r = e.store->Import(e.layout, "app");
  REQUIRE_FALSE(r.ok());
  std::string msg(r.status().message());
  CAPTURE(msg);
  CHECK(absl::IsDataLoss(r.status()));
  CHECK(msg.find("digest mismatch for layer 2/2") != std::string::npos);
  CHECK(msg.find("expected " + w.layer_digests()[1]) != std::string::npos);
  CheckEmpty(e);
}

TEST_CASE("a digest mismatch in an uncompressed layer is named as such") {
  Env e;
  OciLayoutWriter w(e.layout, /*gzip_level=*/0);
  REQUIRE(w.AddLayer(BaseLayer()).ok());
  REQUIRE(w.Finish("app", AppConfig()).ok());
  std::string bad =
      e.layout + "/blobs/sha256/" + DigestHex(w.layer_digests()[0]);
  auto data = ReadFileToString(bad);
  REQUIRE(data.ok());
  std::string corrupt = *data;
  corrupt[600] ^= 0x01;  // inside bin/app's data block
  REQUIRE(AtomicWriteFile(bad, corrupt).ok());
  auto r = e.store->Import(e.layout, "app");
  REQUIRE_FALSE(r.ok());
  CHECK(absl::IsDataLoss(r.status()));
  std::string msg(r.status().message());
  CHECK(msg.find("digest mismatch for layer 1/1") != std::string::npos);
  CHECK(msg.find("expected " + w.layer_digests()[0]) != std::string::npos);
  CheckEmpty(e);
}

TEST_CASE("a hostile layer fails the import and leaves nothing behind") {
  Env e;
  // The target is a decoy under the test's temp dir, never a host path: a
  // broken unpacker must not be able to damage the machine running the test.
  const std::string decoy = e.tmp.path() + "/decoy-etc";
  REQUIRE(MakeDirs(decoy).ok());
  REQUIRE(AtomicWriteFile(decoy + "/passwd", "original").ok());
  TarWriter t;
  t.AddSymlink("etc", decoy);
  t.AddFile("etc/passwd", "pwned");
  MakeImage(e.layout, "evil", {BaseLayer(), t.Finish()});
  auto r = e.store->Import(e.layout, "evil");
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.status().message()).find("through symlink") !=
        std::string::npos);
  CHECK(ReadOr(decoy + "/passwd") == "original");
  CheckEmpty(e);
}

TEST_CASE("a cancelled import leaves no visible image") {
  Env e;
  MakeImage(e.layout, "app", {BaseLayer(), TopLayer("a"), TopLayer("b")});
  ImportOptions opts;
  opts.progress = [](absl::string_view step) {
    return step.find("layer 2/3") == 0 ? absl::CancelledError("stop")
                                       : absl::OkStatus();
  };
  auto r = e.store->Import(e.layout, "app", opts);
  REQUIRE_FALSE(r.ok());
  CHECK(absl::IsCancelled(r.status()));
  CheckEmpty(e);
}

TEST_CASE("a crash in the middle of an import leaves no visible image") {
  Env e;
  MakeImage(e.layout, "app", {BaseLayer(), TopLayer("a"), TopLayer("b")});
  pid_t pid = ::fork();
  REQUIRE(pid >= 0);
  if (pid == 0) {
    // The child dies without any cleanup right after layer 2 is stored.
    auto s = ImageStore::Open(e.root);
    if (!s.ok()) ::_exit(10);
    ImportOptions opts;
    opts.progress = [](absl::string_view step) {
      if (step.find("layer 2/3") == 0) ::_exit(42);
      return absl::OkStatus();
    };
    (void)(*s)->Import(e.layout, "app", opts);
    ::_exit(11);
  }
  int status = 0;
  REQUIRE(::waitpid(pid, &status, 0) == pid);
  REQUIRE(WIFEXITED(status));
  REQUIRE(WEXITSTATUS(status) == 42);

  // The crash left blobs and staging, but no image.
  auto reopened = ImageStore::Open(e.root);
  REQUIRE(reopened.ok());
  auto list = (*reopened)->List();
  REQUIRE(list.ok());
  CHECK(list->empty());
  CHECK_FALSE((*reopened)->Get("app").ok());
  CHECK(CountEntries(e.blobs()) == 2);  // layers 1 and 2, unreferenced
  auto counts = (*reopened)->RefCounts();
  REQUIRE(counts.ok());
  for (const auto& [d, n] : *counts) CHECK(n == 0);
  auto gc = (*reopened)->Gc();
  REQUIRE(gc.ok());
  CHECK(gc->blobs_removed == 2);
  CheckEmpty(e);
  // And the import can simply be done again.
  auto r = (*reopened)->Import(e.layout, "app");
  REQUIRE(r.ok());
  CHECK(ReadOr(e.store->RootfsPath(r->image) + "/srv/tag") == "b");
}

TEST_CASE("gc keeps blobs that a named image references") {
  Env e;
  MakeImage(e.layout, "one", {BaseLayer(), TopLayer("one")});
  MakeImage(e.layout, "two", {BaseLayer(), TopLayer("two")});
  ImportOptions o1 = WithRef("one"), o2 = WithRef("two");
  auto one = e.store->Import(e.layout, "one", o1);
  auto two = e.store->Import(e.layout, "two", o2);
  REQUIRE(one.ok());
  REQUIRE(two.ok());
  const std::string shared = one->image.layers[0];
  CHECK(two->image.layers[0] == shared);
  auto counts = e.store->RefCounts();
  REQUIRE(counts.ok());
  CHECK(counts->at(shared) == 2);

  // Nothing is unreferenced yet.
  auto gc0 = e.store->Gc();
  REQUIRE(gc0.ok());
  CHECK(gc0->blobs_removed == 0);

  REQUIRE(e.store->Delete("one").ok());
  auto gc = e.store->Gc();
  REQUIRE(gc.ok());
  CHECK(gc->blobs_removed == 3);  // one's manifest, config, top layer
  CHECK(gc->rootfs_removed == 1);
  CHECK(Exists(e.store->BlobPath(shared)));
  for (const auto& d : one->image.Blobs()) {
    if (d != shared) CHECK_FALSE(Exists(e.store->BlobPath(d)));
  }
  counts = e.store->RefCounts();
  REQUIRE(counts.ok());
  CHECK(counts->at(shared) == 1);
  // "two" is intact and can still be unpacked from its blobs.
  std::string dest = e.tmp.path() + "/two-rootfs";
  REQUIRE(e.store->UnpackTo("two", dest).ok());
  CHECK(ReadOr(dest + "/srv/tag") == "two");
  CHECK(ReadOr(dest + "/bin/app") == "binary");
  CHECK_FALSE(e.store->UnpackTo("two", dest).ok());  // dest exists
  CHECK_FALSE(e.store->Delete("one").ok());
}

TEST_CASE("image names are validated") {
  Env e;
  MakeImage(e.layout, "app", {BaseLayer()});
  auto r = e.store->Import(e.layout, "Bad_Name");
  REQUIRE_FALSE(r.ok());
  CHECK(std::string(r.status().message()).find("image name") !=
        std::string::npos);
  auto missing = e.store->Import(e.layout, "app", WithRef("nope"));
  REQUIRE_FALSE(missing.ok());
  CHECK(std::string(missing.status().message()).find("it holds: app") !=
        std::string::npos);
}

// Stores `bytes` as a blob of a hand-written layout; returns its descriptor.
std::string PutBlob(const std::string& layout, const std::string& bytes,
                    const std::string& media_type) {
  REQUIRE(MakeDirs(layout + "/blobs/sha256").ok());
  REQUIRE(AtomicWriteFile(layout + "/blobs/sha256/" + Sha256Hex(bytes), bytes)
              .ok());
  return absl::StrCat(R"({"mediaType":")", media_type, R"(","digest":")",
                      Sha256Digest(bytes), R"(","size":)", bytes.size(), "}");
}

// Found by fuzz/fuzz_oci_layout: wrongly typed JSON values in index.json, a
// nested index or the image config threw out of ImageSource (terminating
// nestd) instead of failing the import.
TEST_CASE("wrongly typed OCI metadata fails the import instead of throwing") {
  Env e;
  const std::string index_type = "application/vnd.oci.image.index.v1+json";
  auto write_index = [&](const std::string& manifests) {
    REQUIRE(AtomicWriteFile(
                e.layout + "/index.json",
                R"({"schemaVersion":2,"manifests":[)" + manifests + "]}")
                .ok());
  };
  auto import_fails = [&](const std::string& ref, const char* message) {
    auto r = e.store->Import(e.layout, "app", WithRef(ref));
    REQUIRE_FALSE(r.ok());
    CHECK_MESSAGE(
        std::string(r.status().message()).find(message) != std::string::npos,
        r.status().ToString());
    CheckEmpty(e);
  };

  // A ref annotation that is a number is no name at all.
  std::string nested = PutBlob(e.layout, R"({"manifests":[]})", index_type);
  write_index(nested.substr(0, nested.size() - 1) +
              R"(,"annotations":{"org.opencontainers.image.ref.name":5}})");
  import_fails("app", "it holds: <unnamed>");

  // Platforms that are not objects, or hold numbers, match nothing.
  write_index(
      PutBlob(e.layout,
              R"({"manifests":[1,{"platform":"linux"},{"platform":{"os":5}}]})",
              index_type));
  import_fails("", "no linux/amd64 manifest");

  // rootfs.diff_ids must be an array, not a string that happens to have a
  // size of one.
  std::string layer =
      PutBlob(e.layout, BaseLayer(), std::string(kOciLayerTarType));
  std::string config =
      PutBlob(e.layout,
              absl::StrCat(R"({"rootfs":{"diff_ids":")",
                           Sha256Digest(BaseLayer()), R"("}})"),
              std::string(kOciConfigType));
  write_index(PutBlob(e.layout,
                      absl::StrCat(R"({"schemaVersion":2,"config":)", config,
                                   R"(,"layers":[)", layer, "]}"),
                      std::string(kOciManifestType)));
  import_fails("", "diff_ids must be an array");

  // A size that is a float or negative is no size (UBSan: a cast of 1.5e34
  // to uint64_t, fuzz_oci_layout).
  for (const char* size : {"1.51e+34", "-1", "2.5"}) {
    write_index(absl::StrCat(R"({"digest":")", Sha256Digest("x"),
                             R"(","size":)", size, "}"));
    import_fails("", "size must be a non-negative integer");
  }
}

// Packs a directory tree of (name, content) pairs into a tar file.
void WriteTar(const std::string& path,
              const std::vector<std::pair<std::string, std::string>>& files) {
  TarWriter t;
  for (const auto& [n, c] : files) t.AddFile(n, c);
  REQUIRE(AtomicWriteFile(path, t.Finish()).ok());
}

TEST_CASE("an oci-archive imports like the layout it contains") {
  Env e;
  std::string digest =
      MakeImage(e.layout, "app", {BaseLayer(), TopLayer("v1")});
  std::vector<std::pair<std::string, std::string>> files;
  for (const char* f : {"oci-layout", "index.json"}) {
    files.emplace_back(f, ReadOr(e.layout + "/" + f));
  }
  auto list = e.store->List();  // (unused; keeps store open)
  (void)list;
  DIR* d = ::opendir((e.layout + "/blobs/sha256").c_str());
  REQUIRE(d != nullptr);
  while (struct dirent* ent = ::readdir(d)) {
    std::string n = ent->d_name;
    if (n == "." || n == "..") continue;
    files.emplace_back("blobs/sha256/" + n,
                       ReadOr(e.layout + "/blobs/sha256/" + n));
  }
  ::closedir(d);
  std::string archive = e.tmp.path() + "/app-oci.tar";
  WriteTar(archive, files);
  auto r = e.store->Import(archive, "app");
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->image.manifest_digest == digest);
  CHECK(r->image.source_kind == "oci-archive");
  CHECK(ReadOr(e.store->RootfsPath(r->image) + "/srv/tag") == "v1");
}

TEST_CASE("a docker-archive is verified against its diff_ids") {
  Env e;
  std::string layer = BaseLayer();
  std::string diff_id = Sha256Digest(layer);
  auto make = [&](const std::string& path, const std::string& layer_bytes) {
    nlohmann::json config{
        {"architecture", "amd64"},
        {"os", "linux"},
        {"config", {{"Cmd", {"/bin/app"}}}},
        {"rootfs", {{"type", "layers"}, {"diff_ids", {diff_id}}}}};
    std::string cfg = config.dump();
    std::string cfg_name = DigestHex(Sha256Digest(cfg)) + ".json";
    nlohmann::json manifest =
        nlohmann::json::array({{{"Config", cfg_name},
                                {"RepoTags", {"nest/app:latest"}},
                                {"Layers", {"abc/layer.tar"}}}});
    WriteTar(path, {{"manifest.json", manifest.dump()},
                    {cfg_name, cfg},
                    {"abc/layer.tar", layer_bytes}});
  };
  std::string good = e.tmp.path() + "/good.tar",
              bad = e.tmp.path() + "/bad.tar";
  make(good, layer);
  std::string tampered = layer;
  tampered[600] ^= 1;
  make(bad, tampered);

  auto b = e.store->Import(bad, "app", WithRef("nest/app"));
  REQUIRE_FALSE(b.ok());
  CHECK(std::string(b.status().message()).find("diff_id mismatch") !=
        std::string::npos);
  CheckEmpty(e);

  auto r = e.store->Import(good, "app", WithRef("nest/app"));
  REQUIRE_MESSAGE(r.ok(), r.status().ToString());
  CHECK(r->image.source_kind == "docker-archive");
  CHECK(r->image.layers[0] == diff_id);  // uncompressed: blob == diff_id
  CHECK(ReadOr(e.store->RootfsPath(r->image) + "/bin/app") == "binary");
  // The synthesized manifest is stored and stable.
  auto m = e.store->ReadBlob(r->image.manifest_digest);
  REQUIRE(m.ok());
  ScopedTempDir other_root;
  auto other = ImageStore::Open(other_root.path());
  REQUIRE(other.ok());
  auto r2 = (*other)->Import(good, "app");
  REQUIRE(r2.ok());
  CHECK(r2->image.manifest_digest == r->image.manifest_digest);
}

}  // namespace
}  // namespace nest::images

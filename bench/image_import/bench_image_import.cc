// Generates an image of about 200 MiB in 5 gzip layers, then times, in
// interleaved rounds:
//   nest cold  ImageStore::Import into an empty store (hash + copy + gunzip +
//              unpack, fsync'd blobs and rootfs)
//   nest warm  the same import again (already present)
//   baseline   `skopeo copy oci:… oci:…` + `umoci unpack` of the same image
// Prints a table, then one JSON line. No arguments; a few minutes at most.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <random>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "images/fs.h"
#include "images/image_store.h"
#include "images/oci_writer.h"
#include "images/subprocess.h"
#include "images/tar.h"

namespace {

using nest::images::ImageStore;
using nest::images::RunChecked;
using nest::images::ScopedTempDir;

constexpr int kLayers = 5;
constexpr int kRounds = 3;
constexpr size_t kMiB = 1 << 20;

double Now() {
  return std::chrono::duration<double>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

double Median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v[v.size() / 2];
}

// One layer of ~40 MiB: a few big files (half random, half text-like, as in
// real images: binaries compress poorly, text well) and many small files.
std::string MakeLayer(int index, std::mt19937_64& rng, uint64_t* bytes) {
  nest::images::TarWriter t;
  std::string dir = absl::StrCat("layer", index);
  t.AddDirectory(dir);
  auto random_bytes = [&rng](size_t n) {
    std::string s(n, '\0');
    for (size_t i = 0; i + 8 <= n; i += 8) {
      uint64_t v = rng();
      std::memcpy(&s[i], &v, 8);
    }
    return s;
  };
  auto text_bytes = [&rng](size_t n) {
    static const char* words[] = {"nest ",      "image ",   "layer ",
                                  "container ", "virtual ", "machine ",
                                  "qemu ",      "libvirt\n"};
    std::string s;
    s.reserve(n);
    while (s.size() < n) s += words[rng() % 8];
    s.resize(n);
    return s;
  };
  for (int f = 0; f < 9; ++f) {
    std::string data =
        (f % 2 == 0) ? random_bytes(4 * kMiB) : text_bytes(4 * kMiB);
    *bytes += data.size();
    t.AddFile(absl::StrFormat("%s/big%02d.bin", dir, f), data, 0755);
  }
  t.AddDirectory(dir + "/small");
  for (int f = 0; f < 400; ++f) {
    size_t n = 4096 + (rng() % 16) * 1024;
    std::string data = (f % 3 == 0) ? random_bytes(n) : text_bytes(n);
    *bytes += data.size();
    t.AddFile(absl::StrFormat("%s/small/f%04d", dir, f), data, 0644);
  }
  return t.Finish();
}

void Die(const absl::Status& st) {
  std::fprintf(stderr, "bench_image_import: %s\n",
               std::string(st.message()).c_str());
  std::exit(1);
}

}  // namespace

int main() {
  const char* tmp_env = std::getenv("TMPDIR");
  ScopedTempDir tmp(tmp_env ? tmp_env : "/var/tmp");
  const std::string layout = tmp.path() + "/src";

  std::fprintf(stderr, "generating %d layers...\n", kLayers);
  std::mt19937_64 rng(42);
  uint64_t raw_bytes = 0;
  {
    // gzip level 1 keeps generation quick; decompression speed (what the
    // import pays) hardly depends on the level.
    nest::images::OciLayoutWriter w(layout, 1);
    for (int i = 0; i < kLayers; ++i) {
      auto st = w.AddLayer(MakeLayer(i, rng, &raw_bytes));
      if (!st.ok()) Die(st);
    }
    nest::images::OciImageConfig cfg;
    cfg.cmd = {"/bin/true"};
    auto d = w.Finish("bench", cfg);
    if (!d.ok()) Die(d.status());
  }
  const bool rootless = ::geteuid() != 0;
  std::vector<double> cold, warm, base;
  std::printf("%-6s %12s %12s %12s\n", "round", "nest_cold_s", "nest_warm_s",
              "baseline_s");
  for (int round = 0; round < kRounds; ++round) {
    std::string store_root = absl::StrCat(tmp.path(), "/store", round);
    std::string dst = absl::StrCat(tmp.path(), "/dst", round);
    std::string bundle = absl::StrCat(tmp.path(), "/bundle", round);
    auto run_nest = [&] {
      ::sync();
      auto store = ImageStore::Open(store_root);
      if (!store.ok()) Die(store.status());
      double t0 = Now();
      auto r = (*store)->Import(layout, "bench");
      double t1 = Now();
      if (!r.ok() || r->already_present)
        Die(r.ok() ? absl::InternalError("warm?") : r.status());
      cold.push_back(t1 - t0);
      t0 = Now();
      auto again = (*store)->Import(layout, "bench");
      t1 = Now();
      if (!again.ok() || !again->already_present) {
        Die(again.ok() ? absl::InternalError("second import was not warm")
                       : again.status());
      }
      warm.push_back(t1 - t0);
    };
    auto run_baseline = [&] {
      ::sync();
      double t0 = Now();
      auto c =
          RunChecked({"skopeo", "--insecure-policy", "copy", "-q",
                      "oci:" + layout + ":bench", "oci:" + dst + ":bench"});
      if (!c.ok()) Die(c.status());
      std::vector<std::string> unpack = {"umoci", "unpack"};
      if (rootless) unpack.push_back("--rootless");
      unpack.insert(unpack.end(), {"--image", dst + ":bench", bundle});
      auto u = RunChecked(unpack);
      if (!u.ok()) Die(u.status());
      base.push_back(Now() - t0);
    };
    // Alternate who goes first so neither always gets the cooler cache.
    if (round % 2 == 0) {
      run_nest();
      run_baseline();
    } else {
      run_baseline();
      run_nest();
    }
    std::printf("%-6d %12.3f %12.4f %12.3f\n", round, cold.back(), warm.back(),
                base.back());
    std::fflush(stdout);
    for (const auto& p : {store_root, dst, bundle}) {
      if (auto st = nest::images::RemoveTree(p); !st.ok()) Die(st);
    }
  }
  double c = Median(cold), w = Median(warm), b = Median(base);
  double size_mib = static_cast<double>(raw_bytes) / kMiB;
  std::printf("%-6s %12.3f %12.4f %12.3f\n", "median", c, w, b);
  std::printf(
      "{\"bench\":\"image_import\",\"size_mib\":%.1f,\"nest_cold_s\":%.3f,"
      "\"nest_warm_s\":%.4f,\"baseline_s\":%.3f,\"ratio_cold\":%.3f,"
      "\"warm_over_cold\":%.4f}\n",
      size_mib, c, w, b, c / b, w / c);
  return 0;
}

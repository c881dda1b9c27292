// Helpers shared by the images tests: build OCI layouts from tar layers
// written in the test, and read the results back.
#pragma once

#include <dirent.h>
#include <sys/stat.h>

#include <string>
#include <vector>

#include "images/fs.h"
#include "images/image_store.h"
#include "images/oci_writer.h"
#include "images/tar.h"

namespace nest::images::testing {

// Writes an image `ref` with these (uncompressed) tar layers into `layout`.
inline std::string MakeImage(const std::string& layout, const std::string& ref,
                             const std::vector<std::string>& layers,
                             OciImageConfig config = {}, int gzip_level = 1) {
  OciLayoutWriter w(layout, gzip_level);
  for (const auto& l : layers) {
    auto st = w.AddLayer(l);
    if (!st.ok()) return "error: " + std::string(st.message());
  }
  if (config.cmd.empty() && config.entrypoint.empty())
    config.cmd = {"/bin/true"};
  auto d = w.Finish(ref, config);
  return d.ok() ? *d : "error: " + std::string(d.status().message());
}

inline std::string ReadOr(const std::string& path,
                          const std::string& fallback = "<missing>") {
  auto r = ReadFileToString(path);
  return r.ok() ? *r : fallback;
}

inline bool IsSymlink(const std::string& path) {
  struct stat st;
  return ::lstat(path.c_str(), &st) == 0 && S_ISLNK(st.st_mode);
}

inline bool Exists(const std::string& path) { return PathExists(path); }

inline ImportOptions WithRef(const std::string& ref) {
  ImportOptions o;
  o.ref = ref;
  return o;
}

inline OciImageConfig AppConfig() {
  OciImageConfig c;
  c.cmd = {"/bin/app"};
  return c;
}

// Entries in a directory (not recursive), "." and ".." excluded; -1 when
// the directory cannot be opened.
inline int CountEntries(const std::string& dir) {
  DIR* d = ::opendir(dir.c_str());
  if (d == nullptr) return -1;
  int n = 0;
  while (struct dirent* e = ::readdir(d)) {
    std::string name = e->d_name;
    if (name != "." && name != "..") ++n;
  }
  ::closedir(d);
  return n;
}

}  // namespace nest::images::testing

#include "images/guest/initramfs.h"

#include <sys/stat.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <map>
#include <set>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_replace.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/sha256.h"
#include "images/guest/exec.h"

namespace nest::images {
namespace fs = std::filesystem;

namespace {

// Bump when the layout or the cpio encoding changes, so old digests are not
// mistaken for new builds.
constexpr char kFormat[] = "nest-guest-initramfs/1";

struct Entry {
  enum Kind { kDir, kFile, kSymlink, kCharDev } kind = kDir;
  uint32_t mode = 0755;
  std::string source;  // kFile from the host (empty = `data`)
  std::string data;    // inline file content, or the symlink target
  uint32_t rdev_major = 0, rdev_minor = 0;
};

class Tree {
 public:
  void Dir(const std::string& path) {
    std::string p = Strip(path);
    if (p.empty()) return;
    auto slash = p.rfind('/');
    if (slash != std::string::npos) Dir(p.substr(0, slash));
    entries_.try_emplace(p, Entry{});
  }
  void File(const std::string& path, const std::string& source, uint32_t mode) {
    Put(path, Entry{Entry::kFile, mode, source, "", 0, 0});
  }
  void Inline(const std::string& path, std::string data, uint32_t mode) {
    Put(path, Entry{Entry::kFile, mode, "", std::move(data), 0, 0});
  }
  void Symlink(const std::string& path, const std::string& target) {
    Put(path, Entry{Entry::kSymlink, 0777, "", target, 0, 0});
  }
  void CharDev(const std::string& path, uint32_t mode, uint32_t maj,
               uint32_t min) {
    Put(path, Entry{Entry::kCharDev, mode, "", "", maj, min});
  }
  bool Has(const std::string& path) const {
    return entries_.contains(Strip(path));
  }
  const std::map<std::string, Entry>& entries() const { return entries_; }

 private:
  static std::string Strip(const std::string& p) {
    absl::string_view v(p);
    while (absl::ConsumePrefix(&v, "/")) {
    }
    return std::string(v);
  }
  void Put(const std::string& path, Entry e) {
    std::string p = Strip(path);
    auto slash = p.rfind('/');
    if (slash != std::string::npos) Dir(p.substr(0, slash));
    entries_[p] = std::move(e);
  }
  // Sorted by path: parents precede children, and the order is stable.
  std::map<std::string, Entry> entries_;
};

absl::StatusOr<std::string> ContentDigest(const Entry& e) {
  switch (e.kind) {
    case Entry::kFile:
      if (!e.source.empty()) return Sha256FileHex(e.source);
      return Sha256Hex(e.data);
    case Entry::kSymlink:
      return e.data;
    case Entry::kCharDev:
      return absl::StrCat(e.rdev_major, ":", e.rdev_minor);
    case Entry::kDir:
      return std::string("-");
  }
  return std::string("?");
}

uint32_t ModeBits(const Entry& e) {
  switch (e.kind) {
    case Entry::kDir:
      return S_IFDIR | e.mode;
    case Entry::kFile:
      return S_IFREG | e.mode;
    case Entry::kSymlink:
      return S_IFLNK | 0777;
    case Entry::kCharDev:
      return S_IFCHR | e.mode;
  }
  return 0;
}

class CpioWriter {
 public:
  explicit CpioWriter(FILE* f) : f_(f) {}

  absl::Status Add(const std::string& name, const Entry& e) {
    std::string data;
    uint64_t size = 0;
    if (e.kind == Entry::kSymlink ||
        (e.kind == Entry::kFile && e.source.empty())) {
      data = e.data;
      size = data.size();
    } else if (e.kind == Entry::kFile) {
      std::error_code ec;
      size = fs::file_size(e.source, ec);
      if (ec) {
        return absl::NotFoundError(
            absl::StrCat("cannot stat ", e.source, ": ", ec.message()));
      }
    }
    if (size > 0xffffffffu) {
      return absl::InvalidArgumentError(
          absl::StrCat(e.source, " is too large for a newc cpio"));
    }
    // Fixed ownership, mtime and inode numbers: only content varies.
    Header(next_ino_++, ModeBits(e), e.kind == Entry::kDir ? 2 : 1,
           static_cast<uint32_t>(size), e.rdev_major, e.rdev_minor, name);
    if (e.kind == Entry::kFile && !e.source.empty()) {
      NEST_RETURN_IF_ERROR(CopyFrom(e.source, size));
    } else {
      Write(data.data(), data.size());
    }
    Pad();
    return absl::OkStatus();
  }

  absl::Status Finish() {
    Header(0, 0, 1, 0, 0, 0, "TRAILER!!!");
    if (std::ferror(f_))
      return absl::UnavailableError("writing the cpio failed");
    return absl::OkStatus();
  }

 private:
  void Header(uint32_t ino, uint32_t mode, uint32_t nlink, uint32_t size,
              uint32_t rmaj, uint32_t rmin, const std::string& name) {
    std::string h = absl::StrFormat(
        "070701%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X%08X", ino, mode,
        0, 0, nlink, 0, size, 0, 0, rmaj, rmin,
        static_cast<uint32_t>(name.size() + 1), 0);
    Write(h.data(), h.size());
    Write(name.c_str(), name.size() + 1);
    Pad();
  }
  absl::Status CopyFrom(const std::string& path, uint64_t size) {
    FILE* in = std::fopen(path.c_str(), "rb");
    if (in == nullptr)
      return absl::NotFoundError(absl::StrCat("cannot open ", path));
    char buf[1 << 16];
    uint64_t copied = 0;
    size_t n;
    while ((n = std::fread(buf, 1, sizeof(buf), in)) > 0) {
      Write(buf, n);
      copied += n;
    }
    std::fclose(in);
    if (copied != size) {
      return absl::DataLossError(absl::StrCat(path, " changed while copying"));
    }
    return absl::OkStatus();
  }
  void Write(const void* p, size_t n) {
    std::fwrite(p, 1, n, f_);
    offset_ += n;
  }
  void Pad() {
    static const char zeros[4] = {0, 0, 0, 0};
    Write(zeros, (4 - offset_ % 4) % 4);
  }

  FILE* f_;
  uint64_t offset_ = 0;
  uint32_t next_ino_ = 1;
};

std::string ModuleName(absl::string_view path) {
  absl::string_view base = path.substr(path.rfind('/') + 1);
  absl::ConsumeSuffix(&base, ".ko");
  return absl::StrReplaceAll(base, {{"-", "_"}});
}

absl::Status AddBinary(Tree& tree, const std::string& host_path,
                       const std::string& guest_path) {
  std::error_code ec;
  fs::path real = fs::canonical(host_path, ec);
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("binary ", host_path, " not found: ", ec.message()));
  }
  tree.File(guest_path, real.string(), 0755);
  NEST_ASSIGN_OR_RETURN(auto libs, SharedLibraries(real.string()));
  for (const auto& lib : libs) {
    fs::path lreal = fs::canonical(lib, ec);
    if (ec)
      return absl::NotFoundError(absl::StrCat("library ", lib, " not found"));
    // At the path the dynamic loader looks for, with the real content.
    tree.File(lib, lreal.string(), 0755);
  }
  return absl::OkStatus();
}

}  // namespace

absl::StatusOr<std::vector<std::string>> SharedLibraries(
    const std::string& binary) {
  NEST_ASSIGN_OR_RETURN(guest_internal::ExecResult r,
                        guest_internal::Exec({"ldd", binary}));
  std::vector<std::string> libs;
  if (r.exit_code != 0) {
    // Static binaries and scripts: nothing to carry.
    if (absl::StrContains(r.output, "not a dynamic executable")) return libs;
    return absl::InternalError(absl::StrCat("ldd ", binary, ": ", r.output));
  }
  for (absl::string_view line : absl::StrSplit(r.output, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::StrContains(line, "not found")) {
      return absl::NotFoundError(
          absl::StrCat(binary, " needs a missing library: ", line));
    }
    auto arrow = line.find("=> ");
    absl::string_view path =
        arrow != absl::string_view::npos ? line.substr(arrow + 3) : line;
    path = path.substr(0, path.find(' '));
    if (absl::StartsWith(path, "/")) libs.emplace_back(path);
  }
  return libs;
}

absl::StatusOr<std::vector<std::string>> ResolveModules(
    const std::string& modules_dir, const std::vector<std::string>& wanted) {
  std::ifstream in(modules_dir + "/modules.dep");
  if (!in) {
    return absl::NotFoundError(absl::StrCat("no modules.dep in ", modules_dir));
  }
  std::map<std::string, std::string> path_of;               // name -> path
  std::map<std::string, std::vector<std::string>> deps_of;  // path -> deps
  std::string line;
  while (std::getline(in, line)) {
    auto colon = line.find(':');
    if (colon == std::string::npos) continue;
    std::string path = line.substr(0, colon);
    path_of[ModuleName(path)] = path;
    deps_of[path] =
        absl::StrSplit(line.substr(colon + 1), ' ', absl::SkipWhitespace());
  }
  std::vector<std::string> order;
  std::set<std::string> done;
  std::function<void(const std::string&)> visit = [&](const std::string& p) {
    if (!done.insert(p).second) return;
    for (const auto& d : deps_of[p]) visit(d);
    order.push_back(p);
  };
  for (const auto& w : wanted) {
    auto it = path_of.find(absl::StrReplaceAll(w, {{"-", "_"}}));
    if (it == path_of.end()) {
      // Built into this kernel (modules.builtin) is as good as loaded.
      std::ifstream b(modules_dir + "/modules.builtin");
      std::string bl;
      bool builtin = false;
      while (std::getline(b, bl)) builtin |= ModuleName(bl) == w;
      if (builtin) continue;
      return absl::NotFoundError(absl::StrCat(
          "module ", w, " is neither in modules.dep nor built in (",
          modules_dir, ")"));
    }
    visit(it->second);
  }
  return order;
}

absl::StatusOr<GuestBootSet> BuildGuestBootSet(const InitramfsSpec& spec,
                                               const std::string& out_root) {
  if (spec.kernel.vmlinuz_path.empty() || spec.kernel.modules_dir.empty()) {
    return absl::InvalidArgumentError(
        "kernel must be fetched first (vmlinuz_path and modules_dir empty)");
  }
  Tree tree;
  for (const char* d :
       {"dev", "proc", "sys", "tmp", "run", "etc", "root", "mnt", "newroot",
        "var/lib/nest", "usr/bin", "usr/sbin", "sbin"}) {
    tree.Dir(d);
  }
  tree.CharDev("dev/console", 0600, 5, 1);
  tree.CharDev("dev/null", 0666, 1, 3);
  std::error_code ec;
  fs::path busybox = fs::canonical(spec.busybox_path, ec);
  if (ec) {
    return absl::NotFoundError(
        absl::StrCat("busybox_path ", spec.busybox_path,
                     " not found (install busybox-static)"));
  }
  NEST_ASSIGN_OR_RETURN(auto bb_libs, SharedLibraries(busybox.string()));
  if (!bb_libs.empty()) {
    return absl::InvalidArgumentError(
        absl::StrCat("busybox_path ", spec.busybox_path,
                     " must be statically linked (busybox-static)"));
  }
  tree.File("bin/busybox", busybox.string(), 0755);
  for (const auto& b : spec.extra_binaries) {
    NEST_RETURN_IF_ERROR(AddBinary(tree, b, b));
  }
  if (!spec.agent_path.empty()) {
    NEST_RETURN_IF_ERROR(
        AddBinary(tree, spec.agent_path, "usr/bin/nest-agent"));
  }
  // Applet links last so they never shadow a real binary.
  NEST_ASSIGN_OR_RETURN(
      std::string applets,
      guest_internal::ExecOk({busybox.string(), "--list-full"}));
  for (absl::string_view a : absl::StrSplit(applets, '\n', absl::SkipEmpty())) {
    std::string path(absl::StripAsciiWhitespace(a));
    if (!tree.Has(path) && path != "bin/busybox")
      tree.Symlink(path, "/bin/busybox");
  }

  const std::string mod_root =
      absl::StrCat("lib/modules/", spec.kernel.release);
  NEST_ASSIGN_OR_RETURN(auto modules,
                        ResolveModules(spec.kernel.modules_dir, spec.modules));
  std::string load, dep;
  for (const auto& m : modules) {
    tree.File(absl::StrCat(mod_root, "/", m),
              absl::StrCat(spec.kernel.modules_dir, "/", m), 0644);
    absl::StrAppend(&load, m, "\n");
  }
  // A modules.dep for exactly what we carry, for modprobe inside the guest.
  {
    std::ifstream in(spec.kernel.modules_dir + "/modules.dep");
    std::set<std::string> carried(modules.begin(), modules.end());
    std::string line;
    while (std::getline(in, line)) {
      if (carried.contains(line.substr(0, line.find(':')))) {
        absl::StrAppend(&dep, line, "\n");
      }
    }
  }
  tree.Inline(absl::StrCat(mod_root, "/modules.dep"), dep, 0644);
  tree.Inline("etc/nest/modules.load", load, 0644);
  tree.Inline("etc/nest/kernel-release", spec.kernel.release + "\n", 0644);
  tree.Inline("init",
              spec.init_script.empty() ? DefaultInitScript() : spec.init_script,
              0755);

  // The digest covers every input's content, so it is known before building
  // and an identical set is found without rebuilding.
  Sha256 h;
  std::string header = absl::StrCat(
      kFormat, "\ncompression=", static_cast<int>(spec.compression), "\n");
  h.Update(header.data(), header.size());
  NEST_ASSIGN_OR_RETURN(std::string kdigest,
                        Sha256FileHex(spec.kernel.vmlinuz_path));
  std::string manifest =
      absl::StrCat("kernel ", spec.kernel.release, " ", kdigest, "\n");
  for (const auto& [path, e] : tree.entries()) {
    NEST_ASSIGN_OR_RETURN(std::string d, ContentDigest(e));
    absl::StrAppend(&manifest, path, " ", absl::StrFormat("%o", ModeBits(e)),
                    " ", d, "\n");
  }
  h.Update(manifest.data(), manifest.size());
  GuestBootSet out;
  out.digest = h.FinishHex();
  out.dir = (fs::path(out_root) / out.digest).string();
  out.kernel_path = out.dir + "/vmlinuz";
  out.initrd_path = out.dir + "/initrd";
  if (fs::exists(fs::path(out.dir) / ".complete")) return out;

  fs::create_directories(out_root, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", out_root, ": ", ec.message()));
  }
  fs::path tmp =
      fs::path(out_root) / absl::StrCat(".tmp-", out.digest, "-", getpid());
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp, ec);
  auto cleanup = [&] { fs::remove_all(tmp, ec); };
  std::string cpio = (tmp / "initrd.cpio").string();
  {
    FILE* f = std::fopen(cpio.c_str(), "wb");
    if (f == nullptr) {
      cleanup();
      return absl::UnavailableError(absl::StrCat("cannot write ", cpio));
    }
    CpioWriter w(f);
    absl::Status st;
    for (const auto& [path, e] : tree.entries()) {
      st.Update(w.Add(path, e));
      if (!st.ok()) break;
    }
    st.Update(w.Finish());
    if (std::fclose(f) != 0)
      st.Update(absl::UnavailableError("closing the cpio failed"));
    if (!st.ok()) {
      cleanup();
      return st;
    }
  }
  std::string initrd = (tmp / "initrd").string();
  absl::Status st;
  switch (spec.compression) {
    case InitrdCompression::kNone:
      fs::rename(cpio, initrd, ec);
      break;
    case InitrdCompression::kZstd:
      // Single-threaded at a fixed level: the output depends only on input.
      st = guest_internal::ExecOk(
               {"zstd", "-q", "-T1", "-3", "-f", "-o", initrd, cpio})
               .status();
      break;
    case InitrdCompression::kGzip:
      // -n: no name or timestamp in the header.
      st = guest_internal::ExecOk({"gzip", "-n", "-6", "-f", cpio}).status();
      if (st.ok()) fs::rename(cpio + ".gz", initrd, ec);
      break;
  }
  fs::remove(cpio, ec);
  fs::copy_file(spec.kernel.vmlinuz_path, tmp / "vmlinuz",
                fs::copy_options::overwrite_existing, ec);
  if (!st.ok() || ec) {
    cleanup();
    return st.ok() ? absl::UnavailableError(absl::StrCat(
                         "assembling the boot set failed: ", ec.message()))
                   : st;
  }
  std::ofstream(tmp / "manifest.txt") << manifest;
  std::ofstream(tmp / ".complete") << out.digest << "\n";
  // QEMU runs as libvirt-qemu: everything must be world-readable.
  for (const auto& e : fs::directory_iterator(tmp))
    chmod(e.path().c_str(), 0644);
  chmod(tmp.c_str(), 0755);
  chmod(out_root.c_str(), 0755);
  fs::rename(tmp, out.dir, ec);
  if (ec) {
    // Another builder won the race with identical content: use theirs.
    cleanup();
    if (!fs::exists(fs::path(out.dir) / ".complete")) {
      return absl::UnavailableError(absl::StrCat("cannot move boot set into ",
                                                 out.dir, ": ", ec.message()));
    }
    return out;
  }
  out.built = true;
  return out;
}

}  // namespace nest::images

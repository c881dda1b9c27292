#include "images/guest/kernel.h"

#include <unistd.h>

#include <filesystem>
#include <fstream>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "absl/strings/strip.h"
#include "core/validate.h"
#include "images/guest/exec.h"

namespace nest::images {
namespace fs = std::filesystem;
using guest_internal::ExecOk;

namespace {

absl::StatusOr<std::string> ResolvePackage(const std::string& meta) {
  NEST_ASSIGN_OR_RETURN(std::string out,
                        ExecOk({"apt-cache", "depends", meta}));
  for (absl::string_view line : absl::StrSplit(out, '\n')) {
    line = absl::StripAsciiWhitespace(line);
    if (absl::ConsumePrefix(&line, "Depends:")) {
      line = absl::StripAsciiWhitespace(line);
      if (absl::StartsWith(line, "linux-image-")) return std::string(line);
    }
  }
  return absl::NotFoundError(
      absl::StrCat("apt-cache depends ", meta,
                   " names no linux-image-* package; run apt-get update?"));
}

absl::StatusOr<GuestKernel> Describe(const std::string& package,
                                     const fs::path& root) {
  GuestKernel k;
  k.package = package;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(root / "boot", ec)) {
    std::string name = e.path().filename().string();
    if (absl::StartsWith(name, "vmlinuz-")) {
      k.release = name.substr(8);
      k.vmlinuz_path = e.path().string();
    }
  }
  if (k.release.empty()) {
    return absl::NotFoundError(
        absl::StrCat("no boot/vmlinuz-* in ", root.string()));
  }
  k.modules_dir = (root / "lib/modules" / k.release).string();
  return k;
}

}  // namespace

absl::StatusOr<GuestKernel> FetchGuestKernel(const KernelFetchOptions& o) {
  std::string package = o.package;
  if (package.empty()) {
    NEST_ASSIGN_OR_RETURN(package, ResolvePackage(o.meta_package));
  }
  for (char c : package) {
    if (!(absl::ascii_isalnum(static_cast<unsigned char>(c)) || c == '-' ||
          c == '.' || c == '+')) {
      return absl::InvalidArgumentError(
          absl::StrCat("kernel package must be a Debian package name, got ",
                       QuoteForMessage(package)));
    }
  }
  fs::path root = fs::path(o.cache_dir) / package;
  if (fs::exists(root / ".complete")) return Describe(package, root);

  std::error_code ec;
  fs::create_directories(o.cache_dir, ec);
  if (ec) {
    return absl::UnavailableError(
        absl::StrCat("cannot create ", o.cache_dir, ": ", ec.message()));
  }
  fs::path tmp =
      fs::path(o.cache_dir) / absl::StrCat(".tmp-", package, "-", getpid());
  fs::remove_all(tmp, ec);
  fs::create_directories(tmp / "root", ec);
  // apt-get download writes into its working directory.
  NEST_RETURN_IF_ERROR(
      ExecOk({"apt-get", "download", "-q", package}, tmp.string()).status());
  std::string deb;
  for (const auto& e : fs::directory_iterator(tmp)) {
    if (e.path().extension() == ".deb") deb = e.path().string();
  }
  if (deb.empty()) {
    return absl::NotFoundError(
        absl::StrCat("apt-get download ", package, " produced no .deb"));
  }
  NEST_RETURN_IF_ERROR(
      ExecOk({"dpkg-deb", "-x", deb, (tmp / "root").string()}).status());
  NEST_ASSIGN_OR_RETURN(GuestKernel k, Describe(package, tmp / "root"));
  // The package ships no modules.dep (the postinst makes it); make it here.
  NEST_RETURN_IF_ERROR(
      ExecOk({"depmod", "-b", (tmp / "root").string(), k.release}).status());
  fs::remove(deb, ec);
  std::ofstream(tmp / "root" / ".complete") << package << "\n";
  fs::remove_all(root, ec);
  fs::rename(tmp / "root", root, ec);
  if (ec) {
    return absl::UnavailableError(absl::StrCat(
        "cannot move kernel into ", root.string(), ": ", ec.message()));
  }
  fs::remove_all(tmp, ec);
  return Describe(package, root);
}

}  // namespace nest::images

#include "images/path.h"

#include <limits.h>
#include <stdlib.h>

#include <cerrno>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "core/validate.h"
#include "images/fs.h"

namespace nest::images {

absl::StatusOr<std::vector<std::string>> SplitEntryPath(
    absl::string_view path) {
  if (path.empty()) return absl::InvalidArgumentError("entry path is empty");
  if (path.front() == '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("entry path ", QuoteForMessage(path),
                     " is absolute; expected a path relative to the rootfs"));
  }
  if (path.find('\0') != absl::string_view::npos) {
    return absl::InvalidArgumentError("entry path contains a NUL byte");
  }
  std::vector<std::string> parts;
  for (absl::string_view c : absl::StrSplit(path, '/')) {
    if (c.empty() || c == ".") continue;
    if (c == "..") {
      return absl::InvalidArgumentError(
          absl::StrCat("entry path ", QuoteForMessage(path),
                       " contains '..'; expected a path inside the rootfs"));
    }
    parts.emplace_back(c);
  }
  return parts;
}

namespace {

absl::StatusOr<std::string> RealPath(const std::string& p) {
  char buf[PATH_MAX];
  if (::realpath(p.c_str(), buf) == nullptr)
    return ErrnoStatus(errno, "resolve", p);
  return std::string(buf);
}

bool Within(const std::string& root, const std::string& p) {
  return p == root ||
         (p.size() > root.size() && p.compare(0, root.size(), root) == 0 &&
          (root == "/" || p[root.size()] == '/'));
}

}  // namespace

absl::StatusOr<std::string> ResolveUnderRoot(const std::string& root,
                                             absl::string_view relative) {
  NEST_ASSIGN_OR_RETURN(std::vector<std::string> parts,
                        SplitEntryPath(relative));
  if (parts.empty()) {
    return absl::InvalidArgumentError("path names the store root itself");
  }
  NEST_ASSIGN_OR_RETURN(std::string real_root, RealPath(root));
  std::string leaf = parts.back();
  parts.pop_back();
  std::string parent = real_root;
  if (!parts.empty())
    parent = absl::StrCat(real_root, "/", absl::StrJoin(parts, "/"));
  absl::StatusOr<std::string> real_parent = RealPath(parent);
  if (!real_parent.ok()) return real_parent.status();
  std::string full = *real_parent;
  if (full.empty() || full.back() != '/') full.push_back('/');
  full += leaf;
  // An existing leaf may itself be a symlink pointing out of the root.
  if (PathExists(full)) {
    NEST_ASSIGN_OR_RETURN(full, RealPath(full));
  }
  if (!Within(real_root, full)) {
    return absl::PermissionDeniedError(absl::StrCat(
        "path ", QuoteForMessage(relative), " resolves to ",
        QuoteForMessage(full), ", outside the store root ", real_root));
  }
  return full;
}

}  // namespace nest::images

#include "core/container_files.h"

#include <set>
#include <string>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "core/validate.h"

namespace nest {
namespace {

constexpr size_t kMaxPathBytes = 1024;

// Why `path` is not acceptable as a mount destination; empty when it is.
std::string PathProblem(absl::string_view path) {
  if (path.empty() || path[0] != '/') return "must be an absolute path";
  if (path == "/") return "must name a file, not \"/\"";
  if (path.size() > kMaxPathBytes) {
    return absl::StrCat("must be at most ", kMaxPathBytes, " bytes");
  }
  for (unsigned char c : path) {
    if (c < 0x20 || c == 0x7f) return "must not contain control characters";
  }
  if (!IsValidUtf8(path)) return "must be valid UTF-8";
  if (path.back() == '/') return "must not end with \"/\"";
  // Skip the leading "/": every later component must be a plain name.
  for (absl::string_view part : absl::StrSplit(path.substr(1), '/')) {
    if (part.empty()) return "must not contain \"//\"";
    if (part == "." || part == "..") {
      return "must be normalised (no \".\" or \"..\" components)";
    }
  }
  // The kernel's and the runtime's file systems are mounted over these.
  for (absl::string_view dir : {"/proc", "/sys", "/dev"}) {
    if (path == dir || absl::StartsWith(path, absl::StrCat(dir, "/"))) {
      return absl::StrCat("must not be under ", dir);
    }
  }
  return "";
}

}  // namespace

void CheckContainerFiles(const std::vector<ContainerFileView>& files,
                         absl::string_view prefix, FieldErrors& errors) {
  if (static_cast<int64_t>(files.size()) > kMaxContainerFiles) {
    errors.Add(prefix, absl::StrCat("at most ", kMaxContainerFiles,
                                    " files, got ", files.size()));
  }
  int64_t total = 0;
  std::set<absl::string_view> seen;
  for (size_t i = 0; i < files.size(); ++i) {
    const ContainerFileView& f = files[i];
    std::string at = absl::StrCat(prefix, "[", i, "].");
    std::string problem = PathProblem(f.path);
    if (!problem.empty()) {
      errors.Add(at + "path", absl::StrCat(problem,
                                           " inside the container, "
                                           "such as \"/etc/app/config\", got ",
                                           QuoteForMessage(f.path)));
    } else if (!seen.insert(f.path).second) {
      errors.Add(at + "path",
                 absl::StrCat("must be unique; ", QuoteForMessage(f.path),
                              " is given more than once"));
    }
    if (f.size > kMaxContainerFileBytes) {
      errors.Add(at + "content",
                 absl::StrCat("must be at most ", kMaxContainerFileBytes,
                              " bytes, got ", f.size));
    }
    if (f.mode < 0 || f.mode > kMaxContainerFileMode) {
      errors.Add(at + "mode",
                 absl::StrCat("must be a permission mode between 0 and 0777 "
                              "(octal), got ",
                              f.mode < 0 ? absl::StrCat(f.mode)
                                         : FormatFileMode(f.mode)));
    }
    total += f.size;
  }
  if (total > kMaxContainerFilesTotalBytes) {
    errors.Add(prefix, absl::StrCat("contents must total at most ",
                                    kMaxContainerFilesTotalBytes,
                                    " bytes, got ", total));
  }
}

std::string FormatFileMode(int64_t mode) {
  std::string digits;
  do {
    digits.insert(digits.begin(), static_cast<char>('0' + (mode & 7)));
    mode >>= 3;
  } while (mode != 0);
  if (digits.size() < 3) digits.insert(0, 3 - digits.size(), '0');
  return "0" + digits;
}

bool IsValidUtf8(absl::string_view s) {
  size_t i = 0;
  while (i < s.size()) {
    unsigned char c = static_cast<unsigned char>(s[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    int n;
    uint32_t cp;
    if (c >= 0xc2 && c <= 0xdf) {
      n = 1;
      cp = c & 0x1f;
    } else if (c >= 0xe0 && c <= 0xef) {
      n = 2;
      cp = c & 0x0f;
    } else if (c >= 0xf0 && c <= 0xf4) {
      n = 3;
      cp = c & 0x07;
    } else {
      return false;  // a continuation byte, or a lead byte of an overlong
    }
    if (i + n >= s.size()) return false;  // truncated sequence
    for (int k = 1; k <= n; ++k) {
      unsigned char cc = static_cast<unsigned char>(s[i + k]);
      if ((cc & 0xc0) != 0x80) return false;
      cp = (cp << 6) | (cc & 0x3f);
    }
    if ((n == 2 && cp < 0x800) || (n == 3 && cp < 0x10000) || cp > 0x10ffff ||
        (cp >= 0xd800 && cp <= 0xdfff)) {
      return false;
    }
    i += n + 1;
  }
  return true;
}

}  // namespace nest

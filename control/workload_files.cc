#include "control/workload_files.h"

#include <map>

#include "absl/strings/str_cat.h"
#include "control/commands.h"
#include "core/container_files.h"
#include "core/validate.h"

namespace nest::control {
namespace {

std::map<std::string, const store::WorkloadFile*> ByPath(
    const std::vector<store::WorkloadFile>& files) {
  std::map<std::string, const store::WorkloadFile*> out;
  for (const auto& f : files) out.emplace(f.path, &f);
  return out;
}

}  // namespace

void CheckWorkloadFiles(const std::vector<store::WorkloadFile>& files,
                        absl::string_view spec_prefix, FieldErrors& errors) {
  std::vector<ContainerFileView> views;
  views.reserve(files.size());
  for (const auto& f : files) {
    views.push_back({f.path, static_cast<int64_t>(f.content.size()), f.mode});
  }
  CheckContainerFiles(views, absl::StrCat(spec_prefix, "files"), errors);
}

void KeepStoredSecretFiles(const std::vector<store::WorkloadFile>& stored,
                           std::vector<store::WorkloadFile>& files) {
  for (auto& f : files) {
    if (!f.secret || f.content != kSecretShown) continue;
    for (const auto& old : stored) {
      if (old.secret && old.path == f.path) f.content = old.content;
    }
  }
}

void CheckSecretFilePlaceholders(const std::vector<store::WorkloadFile>& files,
                                 absl::string_view spec_prefix,
                                 FieldErrors& errors) {
  for (size_t i = 0; i < files.size(); ++i) {
    if (!files[i].secret || files[i].content != kSecretShown) continue;
    errors.Add(
        absl::StrCat(spec_prefix, "files[", i, "].content"),
        absl::StrCat("\"", kSecretShown,
                     "\" keeps stored content, but this workload has "
                     "no secret file at ",
                     QuoteForMessage(files[i].path), " yet: give the content"));
  }
}

void DiffWorkloadFiles(const std::vector<store::WorkloadFile>& a,
                       const std::vector<store::WorkloadFile>& b,
                       std::vector<std::string>& out) {
  auto before = ByPath(a);
  auto after = ByPath(b);
  for (const auto& [path, fa] : before) {
    if (!after.count(path))
      out.push_back(absl::StrCat("files[", path, "]: removed"));
  }
  for (const auto& [path, fb] : after) {
    std::string at = absl::StrCat("files[", path, "]");
    auto it = before.find(path);
    if (it == before.end()) {
      out.push_back(absl::StrCat(at, ": added"));
      continue;
    }
    const store::WorkloadFile& fa = *it->second;
    if (fa.mode != fb->mode) {
      out.push_back(absl::StrCat(at, ".mode: ", FormatFileMode(fa.mode), " -> ",
                                 FormatFileMode(fb->mode)));
    }
    if (fa.secret != fb->secret) {
      out.push_back(absl::StrCat(at, ".secret: ", fa.secret ? "true" : "false",
                                 " -> ", fb->secret ? "true" : "false"));
    }
    if (fa.content != fb->content) {
      out.push_back(absl::StrCat(at, ".content: changed"));
    }
  }
}

}  // namespace nest::control

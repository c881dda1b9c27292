#include "control/ports.h"

#include "absl/strings/str_cat.h"

namespace nest::control {

void AgentConnector::BootAsync(vmm::VmDriver& driver, const vmm::VmSpec& spec,
                               BootDone done) {
  done(Boot(driver, spec));
}

absl::StatusOr<ImportedImage> ImageSource::Import(const TenantId&,
                                                  const std::string& name,
                                                  const std::string&) {
  return absl::UnimplementedError(
      absl::StrCat("this image source cannot import images (\"", name, "\")"));
}

absl::Status ImageSource::Remove(const TenantId&, const std::string& name) {
  return absl::UnimplementedError(
      absl::StrCat("this image source cannot remove images (\"", name, "\")"));
}

}  // namespace nest::control

#include "control/ports.h"

#include "absl/strings/str_cat.h"

namespace nest::control {

vmm::VmSpec ShapeSpec(const store::Vm& vm, const store::VmGroup& group) {
  vmm::VmSpec spec;
  spec.id = vm.id;
  spec.tenant = vm.tenant;
  spec.group = vm.group;
  spec.vcpus = static_cast<int>(group.vcpus);
  spec.memory_mib = group.memory_mib;
  return spec;
}

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

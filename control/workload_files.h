// Files given to a workload's containers (store::WorkloadFile): the checks
// on user input, the write-only handling of secret ones, and their part of
// Apply's diff. Secret contents never leave these functions in a message.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/field_errors.h"
#include "store/types.h"

namespace nest::control {

// Adds a violation for each broken rule of core/container_files.h, named
// under `<spec_prefix>files` ("spec.files[1].path").
void CheckWorkloadFiles(const std::vector<store::WorkloadFile>& files,
                        absl::string_view spec_prefix, FieldErrors& errors);

// A secret file sent back as reads show it (content kSecretShown) takes the
// content of the stored secret file at the same path, if there is one.
void KeepStoredSecretFiles(const std::vector<store::WorkloadFile>& stored,
                           std::vector<store::WorkloadFile>& files);

// Adds a violation for each secret file whose content is still the
// placeholder: there was no stored content to keep.
void CheckSecretFilePlaceholders(const std::vector<store::WorkloadFile>& files,
                                 absl::string_view spec_prefix,
                                 FieldErrors& errors);

// Appends Apply diff lines ("files[/etc/app.conf]: added") for the changes
// from `a` to `b`. Contents never appear, secret or not: a change is
// reported as "content changed".
void DiffWorkloadFiles(const std::vector<store::WorkloadFile>& a,
                       const std::vector<store::WorkloadFile>& b,
                       std::vector<std::string>& out);

}  // namespace nest::control

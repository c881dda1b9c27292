// Files given to a container (ContainerSpec::files), kept in the container's
// bundle, outside its root file system, and bind-mounted read-only into it
// (agent/oci_config.h). Only the agent of the VM running the container ever
// holds their contents.
#pragma once

#include <string>
#include <vector>

#include "agent/types.h"
#include "core/status.h"

namespace nest::agent {

// Where WriteContainerFiles puts files[index] inside `dir`: named by index,
// never by the user's path, so no path can steer the write.
std::string ContainerFilePath(const std::string& dir, size_t index);

// Creates `dir` (mode 0700; it must not exist yet) and writes each file in
// it with its mode, owned by root. `files` must have passed ValidateSpec.
[[nodiscard]] absl::Status WriteContainerFiles(
    const std::string& dir, const std::vector<ContainerFile>& files);

}  // namespace nest::agent

// What the control plane needs from the outside world, as interfaces, so the
// reconcilers run the same against libvirt + real agents (nestd --dev), the
// simulated driver + in-memory agents (nestd --sim, benchmarks) and tests.
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "agent/agent_api.h"
#include "core/ids.h"
#include "core/status.h"
#include "store/types.h"
#include "vmm/driver.h"

namespace nest::control {

// Opens a driver for a host. Thread-safe.
class HostConnector {
 public:
  virtual ~HostConnector() = default;
  [[nodiscard]] virtual absl::StatusOr<std::shared_ptr<vmm::VmDriver>> Connect(
      const store::Host& host) = 0;
  // Whether calls to this host may hang (a remote connection): the
  // controller then connects and lists it off its pass thread, with a
  // deadline (host_probe.h).
  virtual bool MayBlock(const store::Host&) const { return false; }
};

// What every provisioner's VmSpec holds from the VM row and its group's
// shape (identity, vCPUs, memory); boot files and disks are its own.
vmm::VmSpec ShapeSpec(const store::Vm& vm, const store::VmGroup& group);

// The boot set and per-VM files of a VM. Thread-safe.
class VmProvisioner {
 public:
  virtual ~VmProvisioner() = default;
  // The full VmSpec for a VM of `group` (kernel, initrd, disk, console).
  // May create per-VM files (data disk); must be idempotent.
  [[nodiscard]] virtual absl::StatusOr<vmm::VmSpec> Prepare(
      const store::Vm& vm, const store::VmGroup& group) = 0;
  // Removes what Prepare created for `vm` on `host`. OK when nothing is
  // there.
  [[nodiscard]] virtual absl::Status Release(const HostId& host,
                                             const VmId& vm) = 0;
};

// Reaches the agent inside a VM. Thread-safe.
class AgentConnector {
 public:
  virtual ~AgentConnector() = default;
  // Creates the VM on `driver` and returns its agent once it said hello
  // (the readiness signal). On failure nothing of the VM is left defined.
  [[nodiscard]] virtual absl::StatusOr<std::shared_ptr<agent::AgentApi>> Boot(
      vmm::VmDriver& driver, const vmm::VmSpec& spec) = 0;
  using BootDone =
      std::function<void(absl::StatusOr<std::shared_ptr<agent::AgentApi>>)>;
  // Boot without holding the caller until the guest answers: `done` runs
  // exactly once, with what Boot would have returned, on any thread and
  // possibly before BootAsync returns. `driver` must outlive the boot. The
  // default runs Boot on the calling thread; a connector that can wait
  // for hellos without a thread per VM overrides it, so thousands of VMs
  // can boot at once.
  virtual void BootAsync(vmm::VmDriver& driver, const vmm::VmSpec& spec,
                         BootDone done);
  // Connects to the agent of a VM that is already running (after nestd
  // restarted, or after the agent connection broke).
  [[nodiscard]] virtual absl::StatusOr<std::shared_ptr<agent::AgentApi>> Attach(
      vmm::VmDriver& driver, const VmId& vm) = 0;
};

// A container image as the agent needs it.
struct ImageBlob {
  std::string digest;  // "sha256:..." naming the rootfs tar
  std::string tar;     // uncompressed tar of the rootfs
  // From the image config; used when the workload does not override them.
  std::vector<std::string> entrypoint;
  std::vector<std::string> cmd;
  std::vector<std::string> env;  // "KEY=value"
  std::string cwd = "/";
};

// What an import produced.
struct ImportedImage {
  std::string digest;  // "sha256:..." of the image manifest
  int64_t size_bytes = 0;
  int layers = 0;
};

// Resolves image names, and imports and removes images. Thread-safe.
class ImageSource {
 public:
  virtual ~ImageSource() = default;
  [[nodiscard]] virtual absl::StatusOr<std::shared_ptr<const ImageBlob>> Get(
      const TenantId& tenant, const std::string& name) = 0;
  // Imports `source` (an OCI layout directory, an oci-archive or a
  // docker-archive path on this machine) under `name`. The default
  // implementation refuses: some sources are fixed at construction.
  [[nodiscard]] virtual absl::StatusOr<ImportedImage> Import(
      const TenantId& tenant, const std::string& name,
      const std::string& source);
  // Forgets `name`; its blobs go with the next garbage collection.
  [[nodiscard]] virtual absl::Status Remove(const TenantId& tenant,
                                            const std::string& name);
};

}  // namespace nest::control

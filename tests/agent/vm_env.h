// Shared set-up of the in-VM agent tier (agent_vm_e2e_test) and
// bench_container_start: one real microVM booted with the product's guest
// boot set (Debian cloud kernel, busybox, crun and this build's nest-agent)
// and a data disk, driven through AgentClient over the virtio-serial
// channel, exactly as control/host_ports.cc does it.
//
// The VM runs under a private libvirtd (tests/vmm/private_libvirtd.h): a
// nestd running on this machine reconciles every Nest-owned domain on
// qemu:///system and would remove ours as an orphan.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "absl/time/time.h"
#include "agent/client.h"
#include "core/status.h"
#include "images/runtime_config.h"
#include "tests/vmm/e2e_env.h"
#include "tests/vmm/private_libvirtd.h"
#include "vmm/libvirt_driver.h"

namespace nest::agent::vmtest {

// Why the in-VM tier cannot run on this machine; empty when it can. Checks
// root, QEMU, crun, busybox-static and the image tools (umoci, skopeo).
std::string SkipReason();

struct AgentVmOptions {
  std::string name = "agent-e2e";  // VM id prefix; the pid is appended
  int vcpus = 1;
  int64_t memory_mib = 512;
  int64_t data_disk_mib = 512;
  absl::Duration ready_timeout = absl::Seconds(90);  // per boot attempt
  int max_retries = 2;
  AgentClient::Options client;
};

// One booted microVM whose nest-agent answered the handshake. Destroying it
// (also while a failed REQUIRE unwinds) closes the client, undefines the
// domain, stops the private libvirtd and removes every file it created;
// when destroyed during unwinding it first prints the console's tail.
// Not thread-safe; client() is (see AgentClient).
class AgentVm {
 public:
  [[nodiscard]] static absl::StatusOr<std::unique_ptr<AgentVm>> Boot(
      const AgentVmOptions& options);
  ~AgentVm();
  AgentVm(const AgentVm&) = delete;
  AgentVm& operator=(const AgentVm&) = delete;

  AgentClient& client() { return *client_; }
  vmm::VmDriver& driver() { return *driver_; }
  const VmId& id() const { return spec_.id; }
  // A directory QEMU can read, removed with the VM.
  const std::string& dir() const { return dir_.path(); }
  const AgentHello& hello() const { return hello_; }
  vmm::Accel accel() const { return accel_; }
  int boot_attempts() const { return attempts_; }
  int64_t boot_retries() const { return retries_; }
  absl::Duration create_to_ready() const { return create_to_ready_; }
  // Boot and handshake, from the first Create to the agent's hello.
  absl::Duration boot_to_hello() const { return boot_to_hello_; }

  // The last `bytes` of the guest's serial console (init and agent logs).
  std::string ConsoleTail(size_t bytes) const;

 private:
  AgentVm() = default;

  testenv::TestDir dir_;  // destroyed last: everything below lives in it
  std::unique_ptr<testenv::PrivateLibvirtd> daemon_;
  std::unique_ptr<vmm::LibvirtDriver> driver_;
  vmm::VmSpec spec_;
  bool created_ = false;
  std::unique_ptr<AgentClient> client_;
  AgentHello hello_;
  vmm::Accel accel_ = vmm::Accel::kTcg;
  int attempts_ = 0;
  int64_t retries_ = 0;
  absl::Duration create_to_ready_;
  absl::Duration boot_to_hello_;
};

// An example image (examples/images/build.sh) as the control plane pushes
// it: the tar control/store_images.cc makes of the unpacked rootfs, its
// digest, and the image config.
struct PushableImage {
  std::string name;
  std::string digest;  // "sha256:<hex>" of `tar`
  std::string tar;
  images::ImageConfig config;

  // The image's default command: entrypoint followed by cmd.
  std::vector<std::string> Command() const;
  // The image's env, with PATH=/bin when it sets none.
  std::vector<std::string> Env() const;
};

// Builds the example images offline under `dir` and imports `names`
// ("hello", "httpd") through images::ImageStore.
[[nodiscard]] absl::StatusOr<std::vector<PushableImage>> BuildExampleImages(
    const std::string& dir, const std::vector<std::string>& names);

}  // namespace nest::agent::vmtest

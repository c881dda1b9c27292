// LibvirtNetworkOps (host_ports.h): the production HostNetworkOps.
#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>

#include "absl/strings/str_cat.h"
#include "control/host_ports.h"
#include "images/subprocess.h"
#include "spdlog/spdlog.h"

namespace nest::control {

absl::Status LibvirtNetworkOps::EnsureNetwork(const store::Host& host,
                                              const vmm::NetworkSpec& spec) {
  NEST_ASSIGN_OR_RETURN(vmm::EnsureNetworkResult r,
                        vmm::EnsureNetwork(host.libvirt_uri, spec));
  if (r.defined || r.started) {
    spdlog::info("host {}: network {} (bridge {}) {}", host.name.str(),
                 spec.name, spec.bridge, r.started ? "started" : "defined");
  }
  if (r.restart_pending) {
    spdlog::warn(
        "host {}: network {} changed while {} guest(s) use it; the change "
        "takes effect when it next starts",
        host.name.str(), spec.name, r.connections);
  }
  return absl::OkStatus();
}

absl::Status LibvirtNetworkOps::EnsureFilter(const store::Host& host,
                                             const vmm::NwFilterSpec& spec) {
  NEST_ASSIGN_OR_RETURN(bool changed,
                        vmm::EnsureNwFilter(host.libvirt_uri, spec));
  if (changed) {
    spdlog::info("host {}: network filter {} defined", host.name.str(),
                 spec.name);
  }
  return absl::OkStatus();
}

absl::Status LibvirtNetworkOps::RemoveNetwork(const store::Host& host,
                                              const std::string& name,
                                              const std::string& uuid) {
  return vmm::RemoveNetwork(host.libvirt_uri, name, uuid);
}

absl::Status LibvirtNetworkOps::RemoveFilter(const store::Host& host,
                                             const std::string& name,
                                             const std::string& uuid) {
  return vmm::RemoveNwFilter(host.libvirt_uri, name, uuid);
}

absl::Status LibvirtNetworkOps::ApplyLocalRuleset(const std::string& script) {
  // nft reads the script from a file; one run is one transaction.
  char path[] = "/tmp/nest-nft-XXXXXX";
  int fd = mkstemp(path);
  if (fd < 0) {
    return absl::InternalError(
        absl::StrCat("creating a temporary file for nft: ", strerror(errno)));
  }
  ::close(fd);
  {
    std::ofstream out(path, std::ios::trunc);
    out << script;
    if (!out) {
      std::remove(path);
      return absl::InternalError(absl::StrCat("writing ", path));
    }
  }
  absl::StatusOr<images::CommandResult> r =
      images::RunCommand({"nft", "-f", path});
  std::remove(path);
  NEST_RETURN_IF_ERROR(r.status());
  if (r->exit_code != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("nft -f failed (exit ", r->exit_code, "): ", r->err));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> LibvirtNetworkOps::LocalTablePresent(
    const std::string& table) {
  NEST_ASSIGN_OR_RETURN(
      images::CommandResult r,
      images::RunCommand({"nft", "list", "table", "ip", table}));
  return r.exit_code == 0;
}

}  // namespace nest::control

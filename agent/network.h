// GuestNetworking: the guest's side of its tenant network (issue 9). The
// guest's NIC gets the VM's address and default route; each container with
// an address gets its own network namespace joined to the guest by a veth
// pair, routed (no in-guest bridge): the container's only route is through
// the VM's address, and the guest routes the container's /32 to its veth.
// The NIC answers ARP for the containers' addresses (proxy_arp), so the host
// reaches them on-link, and holds the tenant's VIPs on `lo`. LinuxNetwork
// does it with iproute2 (`ip`) and nftables (`nft`); FakeNetwork records
// calls for tests of the bookkeeping above it.
#pragma once

#include <map>
#include <optional>
#include <string>

#include "absl/base/thread_annotations.h"
#include "absl/synchronization/mutex.h"
#include "absl/time/time.h"
#include "agent/types.h"
#include "core/status.h"

namespace nest::agent {

// What a container with its own address runs in.
struct NetworkAttachment {
  std::string netns_path;  // linux.namespaces' network path for crun
  std::string hosts_path;  // bind-mounted read-only at /etc/hosts
};

class GuestNetworking {
 public:
  virtual ~GuestNetworking() = default;
  // See AgentApi::ConfigureNetwork.
  [[nodiscard]] virtual absl::Status Configure(const GuestNetwork& network) = 0;
  // Creates the network namespace of container `id` holding `address`.
  // FAILED_PRECONDITION before Configure; ALREADY_EXISTS when another
  // container holds the address. On error nothing is left behind.
  [[nodiscard]] virtual absl::StatusOr<NetworkAttachment> Attach(
      const std::string& id, const std::string& address) = 0;
  // Removes what Attach made; OK when `id` has nothing attached.
  [[nodiscard]] virtual absl::Status Detach(const std::string& id) = 0;
};

// The real one, on the network namespace the agent runs in. Thread-safe;
// calls are serialized (each runs a few short commands).
class LinuxNetwork : public GuestNetworking {
 public:
  struct Options {
    std::string ip = "ip";
    std::string nft = "nft";
    std::string proc_sys = "/proc/sys";
    // Holds the hosts file and scratch files for `ip -batch` and `nft -f`.
    std::string state_dir;
    absl::Duration command_timeout = absl::Seconds(20);
  };

  explicit LinuxNetwork(Options options);

  absl::Status Configure(const GuestNetwork& network) override;
  absl::StatusOr<NetworkAttachment> Attach(const std::string& id,
                                           const std::string& address) override;
  absl::Status Detach(const std::string& id) override;

  // The names Attach uses for container `id`: the network namespace
  // ("nest-<12 hex>", under /run/netns) and the guest side of its veth
  // pair ("nv<12 hex>", at most 15 characters); the peer is eth0 inside.
  static std::string NetnsName(const std::string& id);
  static std::string VethName(const std::string& id);
  std::string hosts_path() const;

 private:
  struct Attached {
    std::string address;
    std::string netns;
    std::string veth;
  };

  // Runs `ip args…`; an error carries the command's output.
  absl::Status Ip(const std::vector<std::string>& args);
  absl::StatusOr<std::string> IpOutput(const std::vector<std::string>& args);
  // `ip [-n netns] -batch <file>` of `lines`.
  absl::Status IpBatch(const std::string& netns, const std::string& lines);
  absl::StatusOr<std::string> FindInterface(const std::string& mac);
  absl::Status ConfigureNic(const GuestNetwork& n, const std::string& dev)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ConfigureVips(const GuestNetwork& n)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status ApplyRuleset(const std::string& ruleset)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteHosts(const GuestNetwork& n)
      ABSL_EXCLUSIVE_LOCKS_REQUIRED(mu_);
  absl::Status WriteSysctl(const std::string& key, absl::string_view value);
  // Best effort: removes the veth and the namespace named for `id`.
  absl::Status Remove(const std::string& netns, const std::string& veth);

  const Options options_;
  absl::Mutex mu_;
  std::optional<GuestNetwork> network_ ABSL_GUARDED_BY(mu_);
  // The ruleset last loaded with success ("" before the first).
  std::string applied_ruleset_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, Attached> attached_ ABSL_GUARDED_BY(mu_);
};

// Records calls; validates like LinuxNetwork but touches nothing.
class FakeNetwork : public GuestNetworking {
 public:
  absl::Status Configure(const GuestNetwork& network) override;
  absl::StatusOr<NetworkAttachment> Attach(const std::string& id,
                                           const std::string& address) override;
  absl::Status Detach(const std::string& id) override;

  // Container id -> address of what is attached now.
  std::map<std::string, std::string> attached() const;
  // The next Attach fails with `s` (once).
  void FailNextAttach(absl::Status s);

 private:
  mutable absl::Mutex mu_;
  std::optional<GuestNetwork> network_ ABSL_GUARDED_BY(mu_);
  std::map<std::string, std::string> attached_ ABSL_GUARDED_BY(mu_);
  absl::Status next_attach_ ABSL_GUARDED_BY(mu_);
};

}  // namespace nest::agent

// Tenant networks through libvirt only (issue 9), so they work on remote
// hosts too: a libvirt network per tenant network and host (its own bridge,
// routed or NAT forwarding, a <route> per VM container block via that VM),
// and a network filter per tenant that its VMs' interfaces reference.
//
// Ownership: names are derived from a key the caller chooses (it must name
// the Nest installation and the object, e.g. "<cluster>/acme/default"), and
// the object's UUID is derived from the same key. An object of our name
// with another UUID is someone else's: FAILED_PRECONDITION, left untouched.
//
// IPv4 addresses are dotted-quad strings here (vmm/ may not use net/);
// net/ gives them meaning and the builders only check their syntax.
#pragma once

#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/status.h"

namespace nest::vmm {

// "nest-" and 12 hex digits of the key's SHA-256.
std::string NetworkNameFor(absl::string_view key);
// "nestbr" and 9 hex digits: 15 characters, Linux's limit for a device.
std::string BridgeNameFor(absl::string_view key);
// "nest-tenant-" and 12 hex digits.
std::string FilterNameFor(absl::string_view key);
// A UUID derived from the key (and what kind of object it names), so
// re-defining our object keeps its UUID and a foreign one never matches.
std::string OwnerUuid(absl::string_view kind, absl::string_view key);

enum class ForwardMode { kRoute, kNat };

// A route on the host: `address`/`prefix` via `gateway` (a VM's address).
struct NetworkRoute {
  std::string address;
  int prefix = 0;
  std::string gateway;
  friend auto operator<=>(const NetworkRoute&, const NetworkRoute&) = default;
};

struct NetworkSpec {
  std::string name;    // no '/'; see NetworkNameFor
  std::string uuid;    // see OwnerUuid
  std::string bridge;  // 1-15 of [a-zA-Z0-9_.-]; see BridgeNameFor
  ForwardMode forward = ForwardMode::kRoute;
  std::string address;  // the host's address on the bridge (the gateway)
  int prefix = 0;       // of the tenant subnet, 8 to 30
  std::vector<NetworkRoute> routes;  // any order; sorted in the XML
  friend bool operator==(const NetworkSpec&, const NetworkSpec&) = default;
};

// <network> with name, uuid, forward, bridge, <dns enable='no'/> (the agent
// configures addresses, so no dnsmasq is needed), ip and routes. Built with
// libxml2, values escaped by construction. INVALID_ARGUMENT naming the
// field for a bad value.
[[nodiscard]] absl::StatusOr<std::string> BuildNetworkXml(
    const NetworkSpec& spec);
// Reads back the fields above from Nest's XML or libvirt's description of
// it (extra elements libvirt adds are ignored). Routes come back sorted.
[[nodiscard]] absl::StatusOr<NetworkSpec> ParseNetworkXml(
    absl::string_view xml);

// An IPv4 range for a filter rule.
struct FilterRange {
  std::string address;
  int prefix = 0;
  friend auto operator<=>(const FilterRange&, const FilterRange&) = default;
};

// Tenant isolation on a VM's interface: traffic to and from `allowed` (the
// tenant's subnets) passes, traffic to and from the rest of `isolated`
// (every tenant's address space) is dropped, anything else (the outside
// world) is left to the other rules.
struct NwFilterSpec {
  std::string name;  // see FilterNameFor
  std::string uuid;  // see OwnerUuid
  std::vector<FilterRange> allowed;
  std::vector<FilterRange> isolated;
  friend bool operator==(const NwFilterSpec&, const NwFilterSpec&) = default;
};

[[nodiscard]] absl::StatusOr<std::string> BuildNwFilterXml(
    const NwFilterSpec& spec);
// Ranges come back sorted.
[[nodiscard]] absl::StatusOr<NwFilterSpec> ParseNwFilterXml(
    absl::string_view xml);

// `<filterref filter='NAME'/>` for a domain's <interface>.
[[nodiscard]] absl::StatusOr<std::string> FilterRefXml(
    const std::string& filter);

// What EnsureNetwork did.
struct EnsureNetworkResult {
  bool defined = false;  // created or its persistent config updated
  bool started = false;  // started (or restarted to take a new config)
  // The running network differs from `spec` but guests are connected:
  // restarting it would detach their taps from the bridge (libvirt does not
  // re-attach them), so only the persistent config was updated. It takes
  // effect when the network is next started.
  bool restart_pending = false;
  int connections = 0;  // guest interfaces on the network, as libvirt counts
};

// Defines (or updates) the network, starts it and marks it autostart. A
// running network whose config differs is restarted when no guest is
// connected, and left running otherwise (restart_pending).
//
// Host prerequisite: /var/lib/libvirt/dnsmasq must exist. libvirt writes
// each attached guest's MAC there even with DNS off, and refuses to start
// a guest on the network without it; Debian creates it only with dnsmasq.
[[nodiscard]] absl::StatusOr<EnsureNetworkResult> EnsureNetwork(
    const std::string& uri, const NetworkSpec& spec);

// Stops and undefines the network named `name` if its UUID is `uuid`. OK
// when it does not exist; FAILED_PRECONDITION when it is someone else's or
// guests are still connected.
[[nodiscard]] absl::Status RemoveNetwork(const std::string& uri,
                                         const std::string& name,
                                         const std::string& uuid);

// Defines the filter, or redefines it when it differs (libvirt re-applies
// a redefined filter to running guests). True when it (re)defined it.
[[nodiscard]] absl::StatusOr<bool> EnsureNwFilter(const std::string& uri,
                                                  const NwFilterSpec& spec);

// Undefines the filter when its UUID is `uuid`. OK when it does not exist;
// FAILED_PRECONDITION when it is someone else's or still referenced.
[[nodiscard]] absl::Status RemoveNwFilter(const std::string& uri,
                                          const std::string& name,
                                          const std::string& uuid);

}  // namespace nest::vmm

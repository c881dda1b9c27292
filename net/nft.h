// nftables rulesets Nest owns, as `nft -f` scripts. Pure string generation:
// the caller applies the text (nft on the local host, the agent in a guest).
//
// Every script replaces one table of Nest's atomically. It declares the
// table (creating it when missing), flushes it, and fills it again, and
// `nft -f` runs a file as one transaction, so packets see either the old
// rules or the new ones and a re-apply also repairs a table someone edited
// or deleted. Named counters survive the flush (it empties chains only), so
// drop counts accumulate across re-applies. Nothing outside the table is
// touched.
//
// Output is deterministic: the same input in any order gives the same
// bytes (lists are sorted), so callers may compare scripts to skip no-op
// applies and tests may compare them with golden files.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "core/status.h"
#include "net/ipv4.h"

namespace nest::net {

enum class L4Protocol { kTcp, kUdp };

// "tcp", "udp": nft's keywords.
absl::string_view L4ProtocolName(L4Protocol p);

// One replica's address and port.
struct Backend {
  Ipv4Address address;
  uint16_t port = 0;
  friend auto operator<=>(const Backend&, const Backend&) = default;
};

// A host port that reaches a workload's replicas (issue 9 "published
// ports"). With no backends the port is left alone (nothing listens, so
// clients are refused by the host rather than black-holed).
struct PublishedPort {
  L4Protocol protocol = L4Protocol::kTcp;
  uint16_t host_port = 0;
  std::vector<Backend> backends;
};

// The table on the host where nestd runs.
// A service VIP inside a tenant network, load balanced over replicas.
struct VipService {
  Ipv4Address vip;
  L4Protocol protocol = L4Protocol::kTcp;
  uint16_t port = 0;
  std::vector<Backend> backends;
};

struct HostRuleset {
  std::string table = "nest";  // table ip <table>
  std::vector<PublishedPort> ports;
  // Tenant VIPs as the host's own clients reach them: DNAT on output,
  // straight to a backend, so the host never depends on which guest
  // answered ARP for a VIP (that guest may be gone). Without backends a
  // VIP is left alone here.
  std::vector<VipService> services;
  // Traffic from these (the tenant subnets routed by this host) to outside
  // `internal` is masqueraded to the host's address.
  std::vector<Ipv4Prefix> masquerade_sources;
  // Where tenant traffic goes without NAT: the IPAM pool, so VMs on other
  // hosts see each other's real addresses. Empty = the sources themselves.
  std::vector<Ipv4Prefix> internal;
  // Connection mark on DNAT'd connections so their source is masqueraded on
  // the way out: a backend on another host then answers through this host,
  // which un-NATs the reply. Must not be 0.
  uint32_t dnat_mark = 0x6e657374;
};

// The table the agent keeps inside each guest (a guest belongs to one
// tenant). Tables are `ip` family: tenant networks are IPv4 only.
struct GuestRuleset {
  std::string table = "nest";
  // VIPs of the guest's tenant. A VIP without backends drops its traffic
  // (counted), so it never wanders off to whatever routes the VIP.
  std::vector<VipService> services;
  // The tenant's own subnets: traffic from them is allowed.
  std::vector<Ipv4Prefix> tenant_subnets;
  // Every tenant's address space (the IPAM pool): traffic from inside it but
  // outside tenant_subnets is another tenant's, and is dropped by the
  // forward and input chains through the named counter kForeignDropCounter.
  std::vector<Ipv4Prefix> tenant_space;
  // As HostRuleset::dnat_mark: VIP connections are masqueraded, so a reply
  // from a backend on the same in-guest bridge comes back through the NAT.
  uint32_t dnat_mark = 0x6e657374;
};

// The named counter of packets dropped as another tenant's.
inline constexpr absl::string_view kForeignDropCounter = "foreign_drops";

// The scripts. INVALID_ARGUMENT naming the field for a bad table name
// (lower-case letters, digits and '_', starting with a letter, at most 32),
// a zero port, a duplicate (protocol, port) or (vip, protocol, port), a
// duplicate backend, a zero mark or an empty tenant_subnets while
// tenant_space is set.
[[nodiscard]] absl::StatusOr<std::string> HostRulesetScript(
    const HostRuleset& ruleset);
[[nodiscard]] absl::StatusOr<std::string> GuestRulesetScript(
    const GuestRuleset& ruleset);

// Removes table ip <table>; applying it when the table is missing is not
// an error (it declares the table first, in the same transaction).
[[nodiscard]] absl::StatusOr<std::string> DeleteTableScript(
    absl::string_view table);

}  // namespace nest::net

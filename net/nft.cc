#include "net/nft.h"

#include <algorithm>
#include <numeric>
#include <set>
#include <tuple>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "core/field_errors.h"

namespace nest::net {
namespace {

constexpr size_t kMaxTableName = 32;

void CheckTable(FieldErrors& errors, absl::string_view table) {
  // The name lands unquoted in a script: restricting it keeps a hostile
  // value from adding commands of its own.
  bool ok = !table.empty() && table.size() <= kMaxTableName &&
            absl::ascii_islower(table[0]);
  for (char c : table) {
    ok = ok && (absl::ascii_islower(c) || absl::ascii_isdigit(c) || c == '_');
  }
  if (!ok) {
    errors.Add("table", absl::StrCat("must be 1 to ", kMaxTableName,
                                     " of [a-z0-9_] starting with a letter, "
                                     "got \"",
                                     absl::CEscape(table), "\""));
  }
}

void CheckMark(FieldErrors& errors, uint32_t mark) {
  if (mark == 0) errors.Add("dnat_mark", "must not be 0 (0 marks nothing)");
}

// Sorted copies of the backends, checking each under `field`.
std::vector<Backend> SortedBackends(FieldErrors& errors,
                                    absl::string_view field,
                                    std::vector<Backend> backends) {
  std::sort(backends.begin(), backends.end());
  for (size_t i = 0; i < backends.size(); ++i) {
    if (backends[i].port == 0) {
      errors.Add(absl::StrCat(field, ".port"),
                 absl::StrCat("must be 1 to 65535, got 0 (backend ",
                              backends[i].address.ToString(), ")"));
    }
    if (i > 0 && backends[i] == backends[i - 1]) {
      errors.Add(field, absl::StrCat("lists ", backends[i].address.ToString(),
                                     ":", backends[i].port, " twice"));
    }
  }
  return backends;
}

// Indices of `items` ordered by key(item) (ties by index, so the output
// does not depend on the input's order), with every item whose key an
// earlier one already has reported under list[index].
template <typename T, typename KeyFn, typename DescribeFn>
std::vector<size_t> SortedUnique(FieldErrors& errors, absl::string_view list,
                                 const std::vector<T>& items, KeyFn key,
                                 DescribeFn describe) {
  std::vector<size_t> order(items.size());
  std::iota(order.begin(), order.end(), size_t{0});
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    return key(items[a]) < key(items[b]);
  });
  for (size_t i = 1; i < order.size(); ++i) {
    if (key(items[order[i]]) == key(items[order[i - 1]])) {
      errors.Add(absl::StrCat(list, "[", order[i], "]"),
                 absl::StrCat(describe(items[order[i]]), " is already in ",
                              list, "[", order[i - 1], "]"));
    }
  }
  return order;
}

std::string Header(absl::string_view table) {
  // Declaring first makes the flush valid on a host without the table.
  return absl::StrCat("table ip ", table, "\nflush table ip ", table, "\n");
}

std::string Mark(uint32_t mark) { return absl::StrFormat("0x%08x", mark); }

// The NAT statement for `backends` (non-empty, sorted). Random choice per
// new connection: conntrack pins the rest of the connection to it.
std::string Dnat(const std::vector<Backend>& backends) {
  if (backends.size() == 1) {
    return absl::StrCat("dnat ip to ", backends[0].address.ToString(), ":",
                        backends[0].port);
  }
  std::vector<std::string> entries;
  for (size_t i = 0; i < backends.size(); ++i) {
    entries.push_back(absl::StrCat(i, " : ", backends[i].address.ToString(),
                                   " . ", backends[i].port));
  }
  return absl::StrCat("dnat ip to numgen random mod ", backends.size(),
                      " map { ", absl::StrJoin(entries, ", "), " }");
}

// "{ 10.0.0.0/8, 192.168.0.0/16 }", sorted and without duplicates.
std::string PrefixSet(const std::vector<Ipv4Prefix>& prefixes) {
  std::set<Ipv4Prefix> sorted(prefixes.begin(), prefixes.end());
  return absl::StrCat("{ ",
                      absl::StrJoin(sorted, ", ",
                                    [](std::string* out, const Ipv4Prefix& p) {
                                      absl::StrAppend(out, p.ToString());
                                    }),
                      " }");
}

// A chain definition: `lines` are its statements, each on a line.
std::string Chain(absl::string_view name, absl::string_view hook,
                  const std::vector<std::string>& lines) {
  std::string out = absl::StrCat("\tchain ", name, " {\n");
  if (!hook.empty()) absl::StrAppend(&out, "\t\t", hook, "\n");
  for (const std::string& l : lines) absl::StrAppend(&out, "\t\t", l, "\n");
  absl::StrAppend(&out, "\t}\n");
  return out;
}

std::string Table(absl::string_view table,
                  const std::vector<std::string>& parts) {
  return absl::StrCat(Header(table), "table ip ", table, " {\n",
                      absl::StrJoin(parts, "\n"), "}\n");
}

constexpr absl::string_view kPrerouting =
    "type nat hook prerouting priority dstnat; policy accept;";
// Locally generated packets never see prerouting: clients on the host (or
// in the guest) need the same translation on output.
constexpr absl::string_view kOutput =
    "type nat hook output priority -100; policy accept;";
constexpr absl::string_view kPostrouting =
    "type nat hook postrouting priority srcnat; policy accept;";
constexpr absl::string_view kForward =
    "type filter hook forward priority filter; policy accept;";
constexpr absl::string_view kInput =
    "type filter hook input priority filter; policy accept;";

}  // namespace

absl::string_view L4ProtocolName(L4Protocol p) {
  return p == L4Protocol::kUdp ? "udp" : "tcp";
}

absl::StatusOr<std::string> HostRulesetScript(const HostRuleset& ruleset) {
  FieldErrors errors;
  CheckTable(errors, ruleset.table);
  CheckMark(errors, ruleset.dnat_mark);
  std::vector<size_t> order = SortedUnique(
      errors, "ports", ruleset.ports,
      [](const PublishedPort& p) {
        return std::tuple(p.protocol, p.host_port);
      },
      [](const PublishedPort& p) {
        return absl::StrCat(L4ProtocolName(p.protocol), " ", p.host_port);
      });
  std::vector<std::string> published;
  for (size_t i : order) {
    const PublishedPort& p = ruleset.ports[i];
    if (p.host_port == 0) {
      errors.Add(absl::StrCat("ports[", i, "].host_port"),
                 "must be 1 to 65535, got 0");
    }
    std::vector<Backend> backends = SortedBackends(
        errors, absl::StrCat("ports[", i, "].backends"), p.backends);
    if (backends.empty()) continue;
    published.push_back(absl::StrCat(
        L4ProtocolName(p.protocol), " dport ", p.host_port, " ct mark set ",
        Mark(ruleset.dnat_mark), " ", Dnat(backends)));
  }
  std::vector<std::string> services;
  for (size_t i : SortedUnique(
           errors, "services", ruleset.services,
           [](const VipService& s) {
             return std::tuple(s.vip, s.protocol, s.port);
           },
           [](const VipService& s) {
             return absl::StrCat(s.vip.ToString(), " ",
                                 L4ProtocolName(s.protocol), " ", s.port);
           })) {
    const VipService& s = ruleset.services[i];
    std::vector<Backend> backends = SortedBackends(
        errors, absl::StrCat("services[", i, "].backends"), s.backends);
    if (s.port == 0 || backends.empty()) continue;
    services.push_back(absl::StrCat("ip daddr ", s.vip.ToString(), " ",
                                    L4ProtocolName(s.protocol), " dport ",
                                    s.port, " ", Dnat(backends)));
  }
  NEST_RETURN_IF_ERROR(errors.ToStatus());

  std::vector<std::string> post = {
      absl::StrCat("ct mark ", Mark(ruleset.dnat_mark), " masquerade")};
  if (!ruleset.masquerade_sources.empty()) {
    const std::vector<Ipv4Prefix>& internal = ruleset.internal.empty()
                                                  ? ruleset.masquerade_sources
                                                  : ruleset.internal;
    post.push_back(
        absl::StrCat("ip saddr ", PrefixSet(ruleset.masquerade_sources),
                     " ip daddr != ", PrefixSet(internal), " masquerade"));
  }
  return Table(
      ruleset.table,
      {Chain("published", "", published), Chain("services", "", services),
       Chain("prerouting", kPrerouting,
             {"fib daddr type local jump published"}),
       Chain("output", kOutput,
             {"fib daddr type local jump published", "jump services"}),
       Chain("postrouting", kPostrouting, post)});
}

absl::StatusOr<std::string> GuestRulesetScript(const GuestRuleset& ruleset) {
  FieldErrors errors;
  CheckTable(errors, ruleset.table);
  CheckMark(errors, ruleset.dnat_mark);
  if (!ruleset.tenant_space.empty() && ruleset.tenant_subnets.empty()) {
    errors.Add("tenant_subnets",
               "must list the tenant's subnets when tenant_space is set, or "
               "every tenant's traffic would be dropped");
  }
  std::vector<size_t> order = SortedUnique(
      errors, "services", ruleset.services,
      [](const VipService& s) { return std::tuple(s.vip, s.protocol, s.port); },
      [](const VipService& s) {
        return absl::StrCat(s.vip.ToString(), " ", L4ProtocolName(s.protocol),
                            " ", s.port);
      });
  std::vector<std::string> services;
  for (size_t i : order) {
    const VipService& s = ruleset.services[i];
    if (s.port == 0) {
      errors.Add(absl::StrCat("services[", i, "].port"),
                 "must be 1 to 65535, got 0");
    }
    std::vector<Backend> backends = SortedBackends(
        errors, absl::StrCat("services[", i, "].backends"), s.backends);
    std::string match =
        absl::StrCat("ip daddr ", s.vip.ToString(), " ",
                     L4ProtocolName(s.protocol), " dport ", s.port);
    services.push_back(backends.empty() ? absl::StrCat(match, " counter drop")
                                        : absl::StrCat(match, " ct mark set ",
                                                       Mark(ruleset.dnat_mark),
                                                       " ", Dnat(backends)));
  }
  NEST_RETURN_IF_ERROR(errors.ToStatus());

  std::vector<std::string> isolate;
  if (!ruleset.tenant_space.empty()) {
    isolate.push_back(
        absl::StrCat("ip saddr ", PrefixSet(ruleset.tenant_space),
                     " ip saddr != ", PrefixSet(ruleset.tenant_subnets),
                     " counter name \"", kForeignDropCounter, "\" drop"));
  }
  return Table(
      ruleset.table,
      {absl::StrCat("\tcounter ", kForeignDropCounter, " {\n\t}\n"),
       Chain("services", "", services),
       Chain("prerouting", kPrerouting, {"jump services"}),
       Chain("output", kOutput, {"jump services"}),
       Chain(
           "postrouting", kPostrouting,
           {absl::StrCat("ct mark ", Mark(ruleset.dnat_mark), " masquerade")}),
       // Both hooks: traffic to containers is forwarded, traffic to the
       // guest itself (the agent, a VIP answered locally) is input.
       Chain("isolate", "", isolate),
       Chain("forward", kForward, {"jump isolate"}),
       Chain("input", kInput, {"jump isolate"})});
}

absl::StatusOr<std::string> DeleteTableScript(absl::string_view table) {
  FieldErrors errors;
  CheckTable(errors, table);
  NEST_RETURN_IF_ERROR(errors.ToStatus());
  return absl::StrCat("table ip ", table, "\ndelete table ip ", table, "\n");
}

}  // namespace nest::net

// The pure half of libvirt_network.h: names, UUIDs and the network and
// nwfilter XML, built and read back with libxml2.

#include <arpa/inet.h>
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <memory>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/field_errors.h"
#include "core/sha256.h"
#include "core/validate.h"
#include "vmm/libvirt_network.h"
#include "vmm/xml_util.h"

namespace nest::vmm {
namespace {

using DocPtr = std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)>;

constexpr size_t kMaxBridgeName = 15;  // IFNAMSIZ - 1
constexpr size_t kMaxName = 200;

const xmlChar* X(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

xmlNodePtr Child(xmlNodePtr parent, const char* name) {
  return xmlNewChild(parent, nullptr, X(name), nullptr);
}
void Attr(xmlNodePtr n, const char* name, const std::string& v) {
  xmlNewProp(n, X(name), X(v.c_str()));
}
bool Is(xmlNodePtr n, const char* name) {
  return n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, X(name)) == 0;
}
std::string Prop(xmlNodePtr n, const char* name) {
  xmlChar* v = xmlGetProp(n, X(name));
  std::string s(v ? reinterpret_cast<char*>(v) : "");
  xmlFree(v);
  return s;
}
std::string Content(xmlNodePtr n) {
  xmlChar* v = xmlNodeGetContent(n);
  std::string s(v ? reinterpret_cast<char*>(v) : "");
  xmlFree(v);
  return s;
}

absl::StatusOr<std::string> Dump(DocPtr doc, xmlNodePtr root) {
  return SerializeXml(doc.get(), root);
}

absl::StatusOr<DocPtr> Read(absl::string_view what, absl::string_view xml,
                            const char* root_name) {
  DocPtr doc(
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), nullptr, nullptr,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING),
      &xmlFreeDoc);
  xmlNodePtr root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (root == nullptr || !Is(root, root_name)) {
    return absl::InvalidArgumentError(absl::StrCat(
        what, " XML does not parse as a <", root_name, "> element"));
  }
  return doc;
}

bool IsIpv4(const std::string& s) {
  in_addr a;
  return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

void CheckIpv4(FieldErrors& errors, absl::string_view field,
               const std::string& value) {
  if (!IsIpv4(value)) {
    errors.Add(field, absl::StrCat("must be a dotted-quad IPv4 address, got ",
                                   QuoteForMessage(value)));
  }
}

void CheckPrefix(FieldErrors& errors, absl::string_view field, int prefix,
                 int min, int max) {
  if (prefix < min || prefix > max) {
    errors.Add(field, absl::StrCat("must be between ", min, " and ", max,
                                   ", got ", prefix));
  }
}

// libvirt keeps a network's or filter's name as a file name.
void CheckName(FieldErrors& errors, absl::string_view field,
               const std::string& name) {
  if (name.empty() || name.size() > kMaxName ||
      name.find_first_of(std::string("/\0", 2)) != std::string::npos) {
    errors.Add(field, absl::StrCat("must be 1 to ", kMaxName,
                                   " characters without '/', got ",
                                   QuoteForMessage(name)));
  }
}

void CheckUuid(FieldErrors& errors, const std::string& uuid) {
  bool ok = uuid.size() == 36;
  for (size_t i = 0; ok && i < uuid.size(); ++i) {
    ok = (i == 8 || i == 13 || i == 18 || i == 23)
             ? uuid[i] == '-'
             : absl::ascii_isxdigit(static_cast<unsigned char>(uuid[i]));
  }
  if (!ok) {
    errors.Add("uuid", absl::StrCat("must be 8-4-4-4-12 hex digits, got ",
                                    QuoteForMessage(uuid)));
  }
}

int ParseInt(const std::string& s) {
  int v = -1;
  return absl::SimpleAtoi(s, &v) ? v : -1;
}

// Rule priorities: accepts before drops, both before libvirt's default 500.
constexpr int kAllowPriority = 100;
constexpr int kIsolatePriority = 200;

void AddRule(xmlNodePtr filter, const char* action, const char* direction,
             int priority, const FilterRange& r) {
  xmlNodePtr rule = Child(filter, "rule");
  Attr(rule, "action", action);
  Attr(rule, "direction", direction);
  Attr(rule, "priority", absl::StrCat(priority));
  xmlNodePtr ip = Child(rule, "ip");
  // Traffic into the VM is matched on its source, traffic out on its
  // destination: each side of a conversation checks the other.
  bool in = absl::string_view(direction) == "in";
  Attr(ip, in ? "srcipaddr" : "dstipaddr", r.address);
  Attr(ip, in ? "srcipmask" : "dstipmask", absl::StrCat(r.prefix));
}

}  // namespace

std::string NetworkNameFor(absl::string_view key) {
  return absl::StrCat("nest-", Sha256Hex(key).substr(0, 12));
}

std::string BridgeNameFor(absl::string_view key) {
  return absl::StrCat("nestbr", Sha256Hex(key).substr(0, 9));
}

std::string FilterNameFor(absl::string_view key) {
  return absl::StrCat("nest-tenant-", Sha256Hex(key).substr(0, 12));
}

std::string OwnerUuid(absl::string_view kind, absl::string_view key) {
  std::string h = Sha256Hex(absl::StrCat("nest-uuid\n", kind, "\n", key));
  // RFC 9562 version 8 (custom) with the RFC variant bits.
  h[12] = '8';
  h[16] = "89ab"[std::string("0123456789abcdef").find(h[16]) & 3];
  return absl::StrCat(h.substr(0, 8), "-", h.substr(8, 4), "-", h.substr(12, 4),
                      "-", h.substr(16, 4), "-", h.substr(20, 12));
}

absl::StatusOr<std::string> BuildNetworkXml(const NetworkSpec& spec) {
  FieldErrors errors;
  CheckName(errors, "name", spec.name);
  CheckUuid(errors, spec.uuid);
  bool bridge_ok = !spec.bridge.empty() && spec.bridge.size() <= kMaxBridgeName;
  for (char c : spec.bridge) {
    bridge_ok = bridge_ok &&
                (absl::ascii_isalnum(c) || c == '_' || c == '-' || c == '.');
  }
  if (!bridge_ok) {
    errors.Add("bridge", absl::StrCat("must be 1 to ", kMaxBridgeName,
                                      " of [a-zA-Z0-9_.-], got ",
                                      QuoteForMessage(spec.bridge)));
  }
  CheckIpv4(errors, "address", spec.address);
  CheckPrefix(errors, "prefix", spec.prefix, 8, 30);
  for (size_t i = 0; i < spec.routes.size(); ++i) {
    const NetworkRoute& r = spec.routes[i];
    CheckIpv4(errors, absl::StrCat("routes[", i, "].address"), r.address);
    CheckPrefix(errors, absl::StrCat("routes[", i, "].prefix"), r.prefix, 1,
                32);
    CheckIpv4(errors, absl::StrCat("routes[", i, "].gateway"), r.gateway);
  }
  NEST_RETURN_IF_ERROR(errors.ToStatus());

  DocPtr doc(xmlNewDoc(X("1.0")), &xmlFreeDoc);
  xmlNodePtr net = xmlNewNode(nullptr, X("network"));
  xmlNewTextChild(net, nullptr, X("name"), X(spec.name.c_str()));
  xmlNewTextChild(net, nullptr, X("uuid"), X(spec.uuid.c_str()));
  Attr(Child(net, "forward"), "mode",
       spec.forward == ForwardMode::kNat ? "nat" : "route");
  xmlNodePtr bridge = Child(net, "bridge");
  Attr(bridge, "name", spec.bridge);
  Attr(bridge, "stp", "off");
  Attr(Child(net, "dns"), "enable", "no");
  xmlNodePtr ip = Child(net, "ip");
  Attr(ip, "address", spec.address);
  Attr(ip, "prefix", absl::StrCat(spec.prefix));
  std::vector<NetworkRoute> routes = spec.routes;
  std::sort(routes.begin(), routes.end());
  for (const NetworkRoute& r : routes) {
    xmlNodePtr route = Child(net, "route");
    Attr(route, "address", r.address);
    Attr(route, "prefix", absl::StrCat(r.prefix));
    Attr(route, "gateway", r.gateway);
  }
  return Dump(std::move(doc), net);
}

absl::StatusOr<NetworkSpec> ParseNetworkXml(absl::string_view xml) {
  NEST_ASSIGN_OR_RETURN(DocPtr doc, Read("network", xml, "network"));
  NetworkSpec spec;
  bool have_ip = false;
  for (xmlNodePtr n = xmlDocGetRootElement(doc.get())->children; n != nullptr;
       n = n->next) {
    if (Is(n, "name")) spec.name = Content(n);
    if (Is(n, "uuid")) spec.uuid = Content(n);
    if (Is(n, "forward")) {
      spec.forward =
          Prop(n, "mode") == "nat" ? ForwardMode::kNat : ForwardMode::kRoute;
    }
    if (Is(n, "bridge")) spec.bridge = Prop(n, "name");
    // The first IPv4 <ip> is the tenant subnet's; Nest defines no other.
    if (Is(n, "ip") && !have_ip && Prop(n, "family") != "ipv6") {
      have_ip = true;
      spec.address = Prop(n, "address");
      spec.prefix = ParseInt(Prop(n, "prefix"));
    }
    if (Is(n, "route")) {
      spec.routes.push_back({Prop(n, "address"), ParseInt(Prop(n, "prefix")),
                             Prop(n, "gateway")});
    }
  }
  if (spec.name.empty() || !have_ip) {
    return absl::InvalidArgumentError(
        "network XML needs a <name> and an <ip> element");
  }
  std::sort(spec.routes.begin(), spec.routes.end());
  return spec;
}

absl::StatusOr<std::string> BuildNwFilterXml(const NwFilterSpec& spec) {
  FieldErrors errors;
  CheckName(errors, "name", spec.name);
  CheckUuid(errors, spec.uuid);
  for (const auto& [field, ranges] :
       {std::pair<const char*, const std::vector<FilterRange>&>{"allowed",
                                                                spec.allowed},
        {"isolated", spec.isolated}}) {
    for (size_t i = 0; i < ranges.size(); ++i) {
      CheckIpv4(errors, absl::StrCat(field, "[", i, "].address"),
                ranges[i].address);
      CheckPrefix(errors, absl::StrCat(field, "[", i, "].prefix"),
                  ranges[i].prefix, 1, 32);
    }
  }
  if (!spec.isolated.empty() && spec.allowed.empty()) {
    errors.Add("allowed",
               "must list the tenant's subnets when isolated is set, or the "
               "VM could not reach its own tenant");
  }
  NEST_RETURN_IF_ERROR(errors.ToStatus());

  DocPtr doc(xmlNewDoc(X("1.0")), &xmlFreeDoc);
  xmlNodePtr filter = xmlNewNode(nullptr, X("filter"));
  Attr(filter, "name", spec.name);
  Attr(filter, "chain", "ipv4");
  xmlNewTextChild(filter, nullptr, X("uuid"), X(spec.uuid.c_str()));
  std::vector<FilterRange> allowed = spec.allowed;
  std::vector<FilterRange> isolated = spec.isolated;
  std::sort(allowed.begin(), allowed.end());
  std::sort(isolated.begin(), isolated.end());
  for (const char* direction : {"in", "out"}) {
    for (const FilterRange& r : allowed) {
      AddRule(filter, "accept", direction, kAllowPriority, r);
    }
    for (const FilterRange& r : isolated) {
      AddRule(filter, "drop", direction, kIsolatePriority, r);
    }
  }
  return Dump(std::move(doc), filter);
}

absl::StatusOr<NwFilterSpec> ParseNwFilterXml(absl::string_view xml) {
  NEST_ASSIGN_OR_RETURN(DocPtr doc, Read("nwfilter", xml, "filter"));
  xmlNodePtr root = xmlDocGetRootElement(doc.get());
  NwFilterSpec spec;
  spec.name = Prop(root, "name");
  for (xmlNodePtr n = root->children; n != nullptr; n = n->next) {
    if (Is(n, "uuid")) spec.uuid = Content(n);
    // The "in" rules carry every range; the "out" rules mirror them.
    if (!Is(n, "rule") || Prop(n, "direction") != "in") continue;
    std::string action = Prop(n, "action");
    for (xmlNodePtr ip = n->children; ip != nullptr; ip = ip->next) {
      if (!Is(ip, "ip")) continue;
      FilterRange r{Prop(ip, "srcipaddr"), ParseInt(Prop(ip, "srcipmask"))};
      if (action == "accept") spec.allowed.push_back(r);
      if (action == "drop") spec.isolated.push_back(r);
    }
  }
  if (spec.name.empty()) {
    return absl::InvalidArgumentError("nwfilter XML has no name attribute");
  }
  std::sort(spec.allowed.begin(), spec.allowed.end());
  std::sort(spec.isolated.begin(), spec.isolated.end());
  return spec;
}

absl::StatusOr<std::string> FilterRefXml(const std::string& filter) {
  FieldErrors errors;
  CheckName(errors, "filter", filter);
  NEST_RETURN_IF_ERROR(errors.ToStatus());
  DocPtr doc(xmlNewDoc(X("1.0")), &xmlFreeDoc);
  xmlNodePtr ref = xmlNewNode(nullptr, X("filterref"));
  Attr(ref, "filter", filter);
  NEST_ASSIGN_OR_RETURN(std::string out, Dump(std::move(doc), ref));
  // A snippet for another document: without the XML declaration.
  size_t start = out.find("<filterref");
  return out.substr(start);
}

}  // namespace nest::vmm

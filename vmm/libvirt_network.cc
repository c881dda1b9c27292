// Network and nwfilter lifecycles on a libvirt connection. The XML is
// vmm/network_xml.cc's.

#include "vmm/libvirt_network.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <algorithm>
#include <memory>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "vmm/libvirt_util.h"

namespace nest::vmm {
namespace {

using internal::ConnPtr;
using internal::CString;
using internal::LibvirtError;

struct NetworkDeleter {
  void operator()(virNetworkPtr n) const { virNetworkFree(n); }
};
struct FilterDeleter {
  void operator()(virNWFilterPtr f) const { virNWFilterFree(f); }
};
using NetworkPtr = std::unique_ptr<virNetwork, NetworkDeleter>;
using FilterPtr = std::unique_ptr<virNWFilter, FilterDeleter>;

absl::StatusOr<ConnPtr> Open(const std::string& uri) {
  internal::EnsureEventLoop();
  ConnPtr conn(virConnectOpen(uri.c_str()));
  if (!conn) return LibvirtError(absl::StrCat("connect to ", uri));
  return conn;
}

// The object `name` when it is ours, nullptr when there is none, and
// FAILED_PRECONDITION when the name is taken by an object with another UUID.
// `lookup` and `get_uuid` are the kind's libvirt calls.
template <typename Ptr, typename Lookup, typename GetUuid>
absl::StatusOr<Ptr> LookupOwned(virConnectPtr conn, absl::string_view kind,
                                const std::string& name,
                                const std::string& uuid, Lookup lookup,
                                GetUuid get_uuid) {
  Ptr obj(lookup(conn, name.c_str()));
  if (!obj) {
    virResetLastError();
    return Ptr();
  }
  char have[VIR_UUID_STRING_BUFLEN] = {};
  if (get_uuid(obj.get(), have) < 0) {
    return LibvirtError(absl::StrCat("read uuid of ", kind, " ", name));
  }
  if (uuid != have) {
    return absl::FailedPreconditionError(
        absl::StrCat(kind, " ", name, " has uuid ", have, ", not ", uuid,
                     ": it belongs to someone else; leaving it alone"));
  }
  return obj;
}

absl::StatusOr<NetworkPtr> LookupNetwork(virConnectPtr conn,
                                         const std::string& name,
                                         const std::string& uuid) {
  return LookupOwned<NetworkPtr>(conn, "network", name, uuid,
                                 virNetworkLookupByName,
                                 virNetworkGetUUIDString);
}

absl::StatusOr<FilterPtr> LookupFilter(virConnectPtr conn,
                                       const std::string& name,
                                       const std::string& uuid) {
  return LookupOwned<FilterPtr>(conn, "nwfilter", name, uuid,
                                virNWFilterLookupByName,
                                virNWFilterGetUUIDString);
}

absl::StatusOr<std::string> NetworkXml(virNetworkPtr net, unsigned flags,
                                       const std::string& name) {
  CString xml(virNetworkGetXMLDesc(net, flags));
  // Drivers without VIR_NETWORK_XML_INACTIVE (test:///default) describe
  // the one config they keep.
  if (!xml && flags != 0) {
    virResetLastError();
    xml.reset(virNetworkGetXMLDesc(net, 0));
  }
  if (!xml) return LibvirtError(absl::StrCat("describe network ", name));
  return std::string(xml.get());
}

// The live description's connections='N' (guest interfaces attached).
int Connections(const std::string& live_xml) {
  std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)> doc(
      xmlReadMemory(live_xml.data(), static_cast<int>(live_xml.size()), nullptr,
                    nullptr,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING),
      &xmlFreeDoc);
  xmlNodePtr root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (root == nullptr) return 0;
  xmlChar* v =
      xmlGetProp(root, reinterpret_cast<const xmlChar*>("connections"));
  int n = 0;
  if (v != nullptr && !absl::SimpleAtoi(reinterpret_cast<char*>(v), &n)) {
    n = 0;
  }
  xmlFree(v);
  return n;
}

// The specs as ParseNetworkXml/ParseNwFilterXml give them back.
NetworkSpec Sorted(NetworkSpec spec) {
  std::sort(spec.routes.begin(), spec.routes.end());
  return spec;
}
NwFilterSpec Sorted(NwFilterSpec spec) {
  std::sort(spec.allowed.begin(), spec.allowed.end());
  std::sort(spec.isolated.begin(), spec.isolated.end());
  return spec;
}

}  // namespace

absl::StatusOr<EnsureNetworkResult> EnsureNetwork(const std::string& uri,
                                                  const NetworkSpec& spec) {
  NEST_ASSIGN_OR_RETURN(std::string xml, BuildNetworkXml(spec));
  NEST_ASSIGN_OR_RETURN(ConnPtr conn, Open(uri));
  NEST_ASSIGN_OR_RETURN(NetworkPtr net,
                        LookupNetwork(conn.get(), spec.name, spec.uuid));
  EnsureNetworkResult result;
  bool active = net && virNetworkIsActive(net.get()) == 1;
  if (active) {
    NEST_ASSIGN_OR_RETURN(std::string live,
                          NetworkXml(net.get(), 0, spec.name));
    result.connections = Connections(live);
    absl::StatusOr<NetworkSpec> running = ParseNetworkXml(live);
    if (!running.ok() || *running != Sorted(spec)) {
      if (result.connections > 0) {
        result.restart_pending = true;
        spdlog::warn(
            "network {} differs from its running config but {} guest "
            "interfaces are attached; the change waits for its next start",
            spec.name, result.connections);
      } else {
        // Stopped before the new definition, so it replaces the config
        // outright instead of waiting as the "next" one.
        if (virNetworkDestroy(net.get()) < 0) {
          return LibvirtError(absl::StrCat("stop network ", spec.name));
        }
        active = false;
      }
    }
  }
  bool define = !net || virNetworkIsPersistent(net.get()) != 1;
  if (!define) {
    NEST_ASSIGN_OR_RETURN(
        std::string persistent,
        NetworkXml(net.get(), VIR_NETWORK_XML_INACTIVE, spec.name));
    absl::StatusOr<NetworkSpec> have = ParseNetworkXml(persistent);
    define = !have.ok() || *have != Sorted(spec);
  }
  if (define) {
    net.reset(virNetworkDefineXML(conn.get(), xml.c_str()));
    if (!net) return LibvirtError(absl::StrCat("define network ", spec.name));
    result.defined = true;
    spdlog::info("network {} defined (bridge {})", spec.name, spec.bridge);
  }
  if (!active) {
    if (virNetworkCreate(net.get()) < 0) {
      return LibvirtError(absl::StrCat("start network ", spec.name));
    }
    result.started = true;
  }
  if (virNetworkSetAutostart(net.get(), 1) < 0) {
    return LibvirtError(absl::StrCat("autostart network ", spec.name));
  }
  return result;
}

absl::Status RemoveNetwork(const std::string& uri, const std::string& name,
                           const std::string& uuid) {
  NEST_ASSIGN_OR_RETURN(ConnPtr conn, Open(uri));
  NEST_ASSIGN_OR_RETURN(NetworkPtr net, LookupNetwork(conn.get(), name, uuid));
  if (!net) return absl::OkStatus();
  if (virNetworkIsActive(net.get()) == 1) {
    NEST_ASSIGN_OR_RETURN(std::string live, NetworkXml(net.get(), 0, name));
    if (int n = Connections(live); n > 0) {
      return absl::FailedPreconditionError(
          absl::StrCat("network ", name, " still has ", n,
                       " guest interfaces attached; remove its VMs first"));
    }
    if (virNetworkDestroy(net.get()) < 0) {
      return LibvirtError(absl::StrCat("stop network ", name));
    }
  }
  // A transient network is gone once stopped.
  if (virNetworkIsPersistent(net.get()) == 1 &&
      virNetworkUndefine(net.get()) < 0) {
    return LibvirtError(absl::StrCat("undefine network ", name));
  }
  return absl::OkStatus();
}

absl::StatusOr<bool> EnsureNwFilter(const std::string& uri,
                                    const NwFilterSpec& spec) {
  NEST_ASSIGN_OR_RETURN(std::string xml, BuildNwFilterXml(spec));
  NEST_ASSIGN_OR_RETURN(ConnPtr conn, Open(uri));
  NEST_ASSIGN_OR_RETURN(FilterPtr f,
                        LookupFilter(conn.get(), spec.name, spec.uuid));
  if (f) {
    CString have(virNWFilterGetXMLDesc(f.get(), 0));
    if (!have)
      return LibvirtError(absl::StrCat("describe nwfilter ", spec.name));
    absl::StatusOr<NwFilterSpec> parsed = ParseNwFilterXml(have.get());
    if (parsed.ok() && *parsed == Sorted(spec)) return false;
  }
  f.reset(virNWFilterDefineXML(conn.get(), xml.c_str()));
  if (!f) return LibvirtError(absl::StrCat("define nwfilter ", spec.name));
  spdlog::info("nwfilter {} defined", spec.name);
  return true;
}

absl::Status RemoveNwFilter(const std::string& uri, const std::string& name,
                            const std::string& uuid) {
  NEST_ASSIGN_OR_RETURN(ConnPtr conn, Open(uri));
  NEST_ASSIGN_OR_RETURN(FilterPtr f, LookupFilter(conn.get(), name, uuid));
  if (!f) return absl::OkStatus();
  if (virNWFilterUndefine(f.get()) < 0) {
    return LibvirtError(absl::StrCat("undefine nwfilter ", name));
  }
  return absl::OkStatus();
}

}  // namespace nest::vmm

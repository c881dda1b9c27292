#include "vmm/libvirt_pool.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "core/sha256.h"
#include "spdlog/spdlog.h"
#include "vmm/libvirt_util.h"
#include "vmm/xml_util.h"

namespace nest::vmm {
namespace {

using internal::ConnPtr;
using internal::LibvirtError;

using internal::LookupDirPool;
using internal::PoolPtr;
using DocPtr = std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)>;

const xmlChar* X(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

absl::StatusOr<ConnPtr> Connect(const std::string& uri) {
  internal::EnsureEventLoop();
  ConnPtr conn(virConnectOpen(uri.c_str()));
  if (!conn) return LibvirtError(absl::StrCat("connect to ", uri));
  return conn;
}

}  // namespace

std::string DirPoolName(absl::string_view path) {
  return absl::StrCat("nest-", Sha256Hex(path).substr(0, 12));
}

absl::StatusOr<std::string> BuildDirPoolXml(const std::string& name,
                                            const std::string& path,
                                            std::optional<uint32_t> dir_mode) {
  if (path.empty() || path[0] != '/') {
    return absl::InvalidArgumentError(
        absl::StrCat("storage pool path must be absolute, got \"", path, "\""));
  }
  DocPtr doc(xmlNewDoc(X("1.0")), &xmlFreeDoc);
  xmlNodePtr pool = xmlNewNode(nullptr, X("pool"));
  xmlNewProp(pool, X("type"), X("dir"));
  xmlNewTextChild(pool, nullptr, X("name"), X(name.c_str()));
  xmlNodePtr target = xmlNewChild(pool, nullptr, X("target"), nullptr);
  xmlNewTextChild(target, nullptr, X("path"), X(path.c_str()));
  if (dir_mode) {
    xmlNodePtr perms = xmlNewChild(target, nullptr, X("permissions"), nullptr);
    std::string mode = absl::StrFormat("%04o", *dir_mode & 07777);
    xmlNewTextChild(perms, nullptr, X("mode"), X(mode.c_str()));
  }
  return SerializeXml(doc.get(), pool);
}

absl::StatusOr<std::string> ParsePoolTargetPath(absl::string_view xml) {
  DocPtr doc(
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), nullptr, nullptr,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING),
      &xmlFreeDoc);
  xmlNodePtr root = doc ? xmlDocGetRootElement(doc.get()) : nullptr;
  if (root == nullptr) {
    return absl::InvalidArgumentError("storage pool XML does not parse");
  }
  for (xmlNodePtr t = root->children; t != nullptr; t = t->next) {
    if (t->type != XML_ELEMENT_NODE || xmlStrcmp(t->name, X("target")) != 0) {
      continue;
    }
    for (xmlNodePtr p = t->children; p != nullptr; p = p->next) {
      if (p->type != XML_ELEMENT_NODE || xmlStrcmp(p->name, X("path")) != 0) {
        continue;
      }
      xmlChar* c = xmlNodeGetContent(p);
      std::string s(c ? reinterpret_cast<char*>(c) : "");
      xmlFree(c);
      return s;
    }
  }
  return absl::InvalidArgumentError("storage pool XML has no target path");
}

absl::Status EnsureDirPool(const std::string& uri, const std::string& path) {
  NEST_ASSIGN_OR_RETURN(ConnPtr conn, Connect(uri));
  NEST_ASSIGN_OR_RETURN(PoolPtr pool, LookupDirPool(conn.get(), path));
  std::string name = DirPoolName(path);
  if (!pool) {
    NEST_ASSIGN_OR_RETURN(std::string xml, BuildDirPoolXml(name, path));
    pool.reset(virStoragePoolDefineXML(conn.get(), xml.c_str(), 0));
    if (!pool) return LibvirtError(absl::StrCat("define pool ", name));
    spdlog::info("storage pool {} defined for {}", name, path);
  }
  if (virStoragePoolIsActive(pool.get()) != 1 &&
      virStoragePoolCreate(pool.get(), 0) < 0) {
    return LibvirtError(absl::StrCat("start pool ", name));
  }
  if (virStoragePoolSetAutostart(pool.get(), 1) < 0) {
    return LibvirtError(absl::StrCat("autostart pool ", name));
  }
  if (virStoragePoolRefresh(pool.get(), 0) < 0) {
    return LibvirtError(absl::StrCat("refresh pool ", name));
  }
  return absl::OkStatus();
}

absl::Status RefreshDirPool(const std::string& uri, const std::string& path) {
  NEST_ASSIGN_OR_RETURN(ConnPtr conn, Connect(uri));
  NEST_ASSIGN_OR_RETURN(PoolPtr pool, LookupDirPool(conn.get(), path));
  if (!pool || virStoragePoolIsActive(pool.get()) != 1) {
    return absl::OkStatus();
  }
  if (virStoragePoolRefresh(pool.get(), 0) < 0) {
    return LibvirtError(absl::StrCat("refresh pool ", DirPoolName(path)));
  }
  return absl::OkStatus();
}

absl::Status RemoveDirPool(const std::string& uri, const std::string& path) {
  NEST_ASSIGN_OR_RETURN(ConnPtr conn, Connect(uri));
  NEST_ASSIGN_OR_RETURN(PoolPtr pool, LookupDirPool(conn.get(), path));
  if (!pool) return absl::OkStatus();
  std::string name = DirPoolName(path);
  if (virStoragePoolIsActive(pool.get()) == 1 &&
      virStoragePoolDestroy(pool.get()) < 0) {
    return LibvirtError(absl::StrCat("stop pool ", name));
  }
  if (virStoragePoolUndefine(pool.get()) < 0) {
    return LibvirtError(absl::StrCat("undefine pool ", name));
  }
  return absl::OkStatus();
}

namespace internal {

absl::StatusOr<PoolPtr> LookupDirPool(virConnectPtr conn,
                                      const std::string& path) {
  std::string name = DirPoolName(path);
  PoolPtr pool(virStoragePoolLookupByName(conn, name.c_str()));
  if (!pool) {
    virResetLastError();
    return PoolPtr();
  }
  internal::CString xml(virStoragePoolGetXMLDesc(pool.get(), 0));
  if (!xml) return LibvirtError(absl::StrCat("describe pool ", name));
  NEST_ASSIGN_OR_RETURN(std::string target, ParsePoolTargetPath(xml.get()));
  if (target != path) {
    return absl::FailedPreconditionError(
        absl::StrCat("storage pool ", name, " targets ", target, ", not ", path,
                     "; leaving it alone"));
  }
  return pool;
}

}  // namespace internal

}  // namespace nest::vmm

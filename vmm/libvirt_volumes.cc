#include "vmm/libvirt_volumes.h"

#include <fcntl.h>
#include <libxml/tree.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "spdlog/spdlog.h"
#include "vmm/libvirt_pool.h"
#include "vmm/libvirt_util.h"
#include "vmm/xml_util.h"

namespace nest::vmm {
namespace {

using internal::ConnPtr;
using internal::LibvirtError;
using internal::PoolPtr;
using internal::StreamPtr;
using internal::VolPtr;

const xmlChar* X(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

// <volume> of a raw file of `bytes` bytes, owned as `access` says.
absl::StatusOr<std::string> VolumeXml(const std::string& name, uint64_t bytes,
                                      const VolumeAccess& access) {
  std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)> doc(xmlNewDoc(X("1.0")),
                                                     &xmlFreeDoc);
  xmlNodePtr vol = xmlNewNode(nullptr, X("volume"));
  xmlNewTextChild(vol, nullptr, X("name"), X(name.c_str()));
  std::string size = absl::StrCat(bytes);
  xmlNodePtr cap =
      xmlNewTextChild(vol, nullptr, X("capacity"), X(size.c_str()));
  xmlNewProp(cap, X("unit"), X("bytes"));
  xmlNewTextChild(vol, nullptr, X("allocation"), X("0"));
  xmlNodePtr target = xmlNewChild(vol, nullptr, X("target"), nullptr);
  xmlNodePtr format = xmlNewChild(target, nullptr, X("format"), nullptr);
  xmlNewProp(format, X("type"), X("raw"));
  xmlNodePtr perms = xmlNewChild(target, nullptr, X("permissions"), nullptr);
  std::string mode = absl::StrFormat("%04o", access.mode & 07777);
  std::string uid = absl::StrCat(access.uid), gid = absl::StrCat(access.gid);
  xmlNewTextChild(perms, nullptr, X("mode"), X(mode.c_str()));
  xmlNewTextChild(perms, nullptr, X("owner"), X(uid.c_str()));
  xmlNewTextChild(perms, nullptr, X("group"), X(gid.c_str()));
  return SerializeXml(doc.get(), vol);
}

int SendFromFd(virStreamPtr, char* data, size_t nbytes, void* opaque) {
  int fd = *static_cast<int*>(opaque);
  ssize_t n;
  do {
    n = ::read(fd, data, nbytes);
  } while (n < 0 && errno == EINTR);
  return static_cast<int>(n);
}

int ReceiveToString(virStreamPtr, const char* data, size_t nbytes,
                    void* opaque) {
  static_cast<std::string*>(opaque)->append(data, nbytes);
  return static_cast<int>(nbytes);
}

}  // namespace

struct DirPoolVolumes::Handles {
  std::string uri, path;
  ConnPtr conn;
  PoolPtr pool;
};

DirPoolVolumes::DirPoolVolumes(std::unique_ptr<Handles> h) : h_(std::move(h)) {}
DirPoolVolumes::~DirPoolVolumes() = default;

absl::StatusOr<std::unique_ptr<DirPoolVolumes>> DirPoolVolumes::Open(
    const std::string& uri, const std::string& path, uint32_t dir_mode) {
  internal::EnsureEventLoop();
  auto h = std::make_unique<Handles>();
  h->uri = uri;
  h->path = path;
  h->conn.reset(virConnectOpen(uri.c_str()));
  if (!h->conn) return LibvirtError(absl::StrCat("connect to ", uri));
  NEST_ASSIGN_OR_RETURN(h->pool, internal::LookupDirPool(h->conn.get(), path));
  const std::string name = DirPoolName(path);
  if (!h->pool) {
    NEST_ASSIGN_OR_RETURN(std::string xml,
                          BuildDirPoolXml(name, path, dir_mode));
    h->pool.reset(virStoragePoolDefineXML(h->conn.get(), xml.c_str(), 0));
    if (!h->pool) {
      return LibvirtError(absl::StrCat("define pool ", name, " on ", uri));
    }
    spdlog::info("{}: storage pool {} defined for {}", uri, name, path);
  }
  if (virStoragePoolIsActive(h->pool.get()) != 1 &&
      virStoragePoolCreate(h->pool.get(), VIR_STORAGE_POOL_CREATE_WITH_BUILD) <
          0) {
    return LibvirtError(absl::StrCat("start pool ", name, " on ", uri));
  }
  if (virStoragePoolSetAutostart(h->pool.get(), 1) < 0) {
    return LibvirtError(absl::StrCat("autostart pool ", name, " on ", uri));
  }
  return std::unique_ptr<DirPoolVolumes>(new DirPoolVolumes(std::move(h)));
}

bool DirPoolVolumes::alive() const {
  return virConnectIsAlive(h_->conn.get()) == 1;
}

std::string DirPoolVolumes::PathOf(absl::string_view name) const {
  return absl::StrCat(h_->path, "/", name);
}

absl::StatusOr<std::optional<VolumeSize>> DirPoolVolumes::Stat(
    const std::string& name) {
  if (virStoragePoolRefresh(h_->pool.get(), 0) < 0) {
    return LibvirtError(absl::StrCat("refresh pool on ", h_->uri));
  }
  VolPtr vol(virStorageVolLookupByName(h_->pool.get(), name.c_str()));
  if (!vol) {
    absl::Status s = LibvirtError(absl::StrCat("look up volume ", name));
    if (absl::IsNotFound(s)) return std::optional<VolumeSize>();
    return s;
  }
  virStorageVolInfo info;
  if (virStorageVolGetInfo(vol.get(), &info) < 0) {
    return LibvirtError(absl::StrCat("describe volume ", name));
  }
  return std::optional<VolumeSize>(VolumeSize{info.capacity, info.allocation});
}

absl::Status DirPoolVolumes::Upload(const std::string& name,
                                    const std::string& local_path,
                                    const VolumeAccess& access) {
  int fd = ::open(local_path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return absl::NotFoundError(
        absl::StrCat("cannot open ", local_path, ": ", strerror(errno)));
  }
  struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
  } closer{fd};
  struct stat st;
  if (::fstat(fd, &st) != 0) {
    return absl::InternalError(
        absl::StrCat("cannot stat ", local_path, ": ", strerror(errno)));
  }
  NEST_RETURN_IF_ERROR(Delete(name));
  const auto bytes = static_cast<uint64_t>(st.st_size);
  NEST_ASSIGN_OR_RETURN(std::string xml, VolumeXml(name, bytes, access));
  VolPtr vol(virStorageVolCreateXML(h_->pool.get(), xml.c_str(), 0));
  if (!vol) {
    return LibvirtError(absl::StrCat("create volume ", name, " on ", h_->uri));
  }
  StreamPtr stream(virStreamNew(h_->conn.get(), 0));
  bool sent = stream &&
              virStorageVolUpload(vol.get(), stream.get(), 0, bytes, 0) == 0 &&
              virStreamSendAll(stream.get(), SendFromFd, &fd) == 0 &&
              virStreamFinish(stream.get()) == 0;
  if (!sent) {
    absl::Status s = LibvirtError(absl::StrCat(
        "upload ", local_path, " to volume ", name, " on ", h_->uri));
    if (stream) virStreamAbort(stream.get());
    virStorageVolDelete(vol.get(), 0);
    return s;
  }
  return absl::OkStatus();
}

absl::StatusOr<std::string> DirPoolVolumes::ReadTail(const std::string& name,
                                                     uint64_t max_bytes) {
  NEST_ASSIGN_OR_RETURN(std::optional<VolumeSize> size, Stat(name));
  if (!size) {
    return absl::NotFoundError(
        absl::StrCat("no volume ", name, " on ", h_->uri));
  }
  VolPtr vol(virStorageVolLookupByName(h_->pool.get(), name.c_str()));
  if (!vol) return LibvirtError(absl::StrCat("look up volume ", name));
  // A log volume's capacity is the file's length.
  uint64_t offset = size->capacity > max_bytes ? size->capacity - max_bytes : 0;
  std::string out;
  StreamPtr stream(virStreamNew(h_->conn.get(), 0));
  bool got = stream &&
             virStorageVolDownload(vol.get(), stream.get(), offset,
                                   size->capacity - offset, 0) == 0 &&
             virStreamRecvAll(stream.get(), ReceiveToString, &out) == 0 &&
             virStreamFinish(stream.get()) == 0;
  if (!got) {
    absl::Status s = LibvirtError(absl::StrCat("download volume ", name));
    if (stream) virStreamAbort(stream.get());
    return s;
  }
  return out;
}

absl::Status DirPoolVolumes::Delete(const std::string& name) {
  VolPtr vol(virStorageVolLookupByName(h_->pool.get(), name.c_str()));
  if (!vol) {
    virResetLastError();
    // Files the host wrote itself (console logs) are volumes only after a
    // refresh.
    if (virStoragePoolRefresh(h_->pool.get(), 0) < 0) {
      return LibvirtError(absl::StrCat("refresh pool on ", h_->uri));
    }
    vol.reset(virStorageVolLookupByName(h_->pool.get(), name.c_str()));
    if (!vol) {
      absl::Status s = LibvirtError(absl::StrCat("look up volume ", name));
      return absl::IsNotFound(s) ? absl::OkStatus() : s;
    }
  }
  if (virStorageVolDelete(vol.get(), 0) < 0) {
    return LibvirtError(absl::StrCat("delete volume ", name, " on ", h_->uri));
  }
  return absl::OkStatus();
}

bool IsLocalUri(absl::string_view uri) {
  size_t sep = uri.find("://");
  if (sep == absl::string_view::npos) return true;
  absl::string_view rest = uri.substr(sep + 3);
  return rest.empty() || rest[0] == '/';
}

}  // namespace nest::vmm

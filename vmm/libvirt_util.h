// Internal to vmm/: the one place libvirt's C handles and errors are wrapped.
// Included only by vmm/libvirt_*.cc.
#pragma once

#include <libvirt/libvirt.h>
#include <libvirt/virterror.h>

#include <cstdlib>
#include <memory>
#include <string>

#include "absl/strings/string_view.h"
#include "core/status.h"
#include "vmm/driver.h"

namespace nest::vmm::internal {

struct ConnDeleter {
  void operator()(virConnectPtr c) const { virConnectClose(c); }
};
struct DomainDeleter {
  void operator()(virDomainPtr d) const { virDomainFree(d); }
};
struct StreamDeleter {
  void operator()(virStreamPtr s) const { virStreamFree(s); }
};
struct PoolDeleter {
  void operator()(virStoragePoolPtr p) const { virStoragePoolFree(p); }
};
struct VolDeleter {
  void operator()(virStorageVolPtr v) const { virStorageVolFree(v); }
};
struct CharDeleter {
  void operator()(char* p) const { free(p); }
};

using ConnPtr = std::unique_ptr<virConnect, ConnDeleter>;
using DomainPtr = std::unique_ptr<virDomain, DomainDeleter>;
using StreamPtr = std::unique_ptr<virStream, StreamDeleter>;
using PoolPtr = std::unique_ptr<virStoragePool, PoolDeleter>;
using VolPtr = std::unique_ptr<virStorageVol, VolDeleter>;
using CString = std::unique_ptr<char, CharDeleter>;

// Turns libvirt's last error on this thread into a Status whose message
// starts with `what` (what we were doing). Maps the libvirt error code onto
// the closest absl code (NO_DOMAIN -> NOT_FOUND, OPERATION_INVALID ->
// FAILED_PRECONDITION, connection loss -> UNAVAILABLE, ...).
absl::Status LibvirtError(absl::string_view what);

// True when the last error means the connection is gone.
bool IsConnectionError(const absl::Status& s);

// Nest's `dir` pool for `path` (DirPoolName), or nullptr when none exists.
// FAILED_PRECONDITION when the name is taken by a pool with another target.
absl::StatusOr<PoolPtr> LookupDirPool(virConnectPtr conn,
                                      const std::string& path);

// The one mapping from libvirt's domain state to ours.
VmState MapState(int libvirt_state);

// The one mapping from a lifecycle event (VIR_DOMAIN_EVENT_*) to ours.
// Returns false for events Nest does not surface.
bool MapLifecycle(int event, int detail, LifecycleKind* kind,
                  std::string* detail_text);

// Installs libvirt's default event loop once per process and runs it on a
// dedicated thread. Must be called before the first virConnectOpen.
void EnsureEventLoop();

// A ByteStream over a non-blocking virStream; reads are driven by the event
// loop. Takes ownership of `stream` (already opened on a channel) and
// keeps a reference to `conn`, the connection it was made on: Close aborts
// the stream only while that connection is alive.
std::unique_ptr<ByteStream> MakeStreamByteStream(StreamPtr stream,
                                                 virConnectPtr conn);

}  // namespace nest::vmm::internal

namespace nest::vmm {
struct LibvirtOptions;
}

namespace nest::vmm::internal {

// Resolves Accel::kAuto for the host behind `conn`: KVM only when libvirt
// offers it for microvm AND a probe guest booted under KVM says hello on
// its channel before options.probe_timeout. Cached per URI in the process
// and, when options.probe_cache_dir is set, on disk. Logs the verdict once.
Accel ResolveAutoAccel(virConnectPtr conn, const LibvirtOptions& options);

}  // namespace nest::vmm::internal

#include "vmm/libvirt_util.h"

#include <mutex>
#include <thread>

#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "spdlog/spdlog.h"

namespace nest::vmm::internal {

absl::Status LibvirtError(absl::string_view what) {
  virErrorPtr err = virGetLastError();
  if (err == nullptr) {
    return absl::UnknownError(absl::StrCat(what, ": libvirt gave no error"));
  }
  std::string msg = absl::StrCat(what, ": ", err->message ? err->message : "");
  absl::StatusCode code = absl::StatusCode::kUnknown;
  switch (err->code) {
    case VIR_ERR_NO_DOMAIN:
    case VIR_ERR_NO_STORAGE_VOL:
    case VIR_ERR_NO_NETWORK:
      code = absl::StatusCode::kNotFound;
      break;
    case VIR_ERR_OPERATION_INVALID:
      code = absl::StatusCode::kFailedPrecondition;
      break;
    case VIR_ERR_OPERATION_TIMEOUT:
      code = absl::StatusCode::kDeadlineExceeded;
      break;
    case VIR_ERR_NO_SUPPORT:
    case VIR_ERR_OPERATION_UNSUPPORTED:
    case VIR_ERR_ARGUMENT_UNSUPPORTED:
      code = absl::StatusCode::kUnimplemented;
      break;
    case VIR_ERR_INVALID_ARG:
    case VIR_ERR_XML_ERROR:
    case VIR_ERR_CONFIG_UNSUPPORTED:
      code = absl::StatusCode::kInvalidArgument;
      break;
    case VIR_ERR_DOM_EXIST:
      code = absl::StatusCode::kAlreadyExists;
      break;
    case VIR_ERR_SYSTEM_ERROR:
    case VIR_ERR_RPC:
    case VIR_ERR_NO_CONNECT:
    case VIR_ERR_INVALID_CONN:
    case VIR_ERR_AUTH_FAILED:
      code = absl::StatusCode::kUnavailable;
      break;
    default:
      break;
  }
  virResetLastError();
  return absl::Status(code, msg);
}

bool IsConnectionError(const absl::Status& s) { return absl::IsUnavailable(s); }

VmState MapState(int st) {
  switch (st) {
    case VIR_DOMAIN_RUNNING:
    case VIR_DOMAIN_BLOCKED:
      return VmState::kRunning;
    case VIR_DOMAIN_PAUSED:
    case VIR_DOMAIN_PMSUSPENDED:
      return VmState::kPaused;
    case VIR_DOMAIN_SHUTDOWN:
      return VmState::kShuttingDown;
    case VIR_DOMAIN_SHUTOFF:
      return VmState::kStopped;
    case VIR_DOMAIN_CRASHED:
      return VmState::kCrashed;
    default:
      return VmState::kUnknown;
  }
}

bool MapLifecycle(int event, int detail, LifecycleKind* kind,
                  std::string* text) {
  switch (event) {
    case VIR_DOMAIN_EVENT_DEFINED:
      *kind = LifecycleKind::kDefined;
      *text = "defined";
      return true;
    case VIR_DOMAIN_EVENT_UNDEFINED:
      *kind = LifecycleKind::kUndefined;
      *text = "undefined";
      return true;
    case VIR_DOMAIN_EVENT_STARTED:
      *kind = LifecycleKind::kStarted;
      *text =
          detail == VIR_DOMAIN_EVENT_STARTED_RESTORED ? "restored" : "booted";
      return true;
    case VIR_DOMAIN_EVENT_SUSPENDED:
      *kind = LifecycleKind::kPaused;
      *text = "suspended";
      return true;
    case VIR_DOMAIN_EVENT_RESUMED:
      *kind = LifecycleKind::kResumed;
      *text = "resumed";
      return true;
    case VIR_DOMAIN_EVENT_SHUTDOWN:
      *kind = LifecycleKind::kShuttingDown;
      *text = "guest shutdown";
      return true;
    case VIR_DOMAIN_EVENT_STOPPED:
      switch (detail) {
        case VIR_DOMAIN_EVENT_STOPPED_CRASHED:
          *kind = LifecycleKind::kCrashed;
          *text = "crashed";
          return true;
        case VIR_DOMAIN_EVENT_STOPPED_DESTROYED:
          *text = "destroyed";
          break;
        case VIR_DOMAIN_EVENT_STOPPED_SHUTDOWN:
          *text = "shutdown";
          break;
        case VIR_DOMAIN_EVENT_STOPPED_FAILED:
          *text = "failed";
          break;
        default:
          *text = "stopped";
      }
      *kind = LifecycleKind::kStopped;
      return true;
    case VIR_DOMAIN_EVENT_CRASHED:
      *kind = LifecycleKind::kCrashed;
      *text = "crashed";
      return true;
    default:
      return false;
  }
}

void EnsureEventLoop() {
  static std::once_flag once;
  std::call_once(once, [] {
    // libvirt prints every error to stderr by default; we report them as
    // Status values instead.
    virSetErrorFunc(nullptr, [](void*, virErrorPtr) {});
    if (virEventRegisterDefaultImpl() < 0) {
      spdlog::error("virEventRegisterDefaultImpl failed");
      return;
    }
    // The loop lives as long as the process: libvirt offers no way to
    // unregister the default implementation, and connections in any driver
    // instance may still reference it.
    std::thread([] {
      for (;;) {
        if (virEventRunDefaultImpl() < 0) {
          spdlog::warn("libvirt event loop iteration failed");
        }
      }
    }).detach();
  });
}

}  // namespace nest::vmm::internal

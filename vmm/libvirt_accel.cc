// accel=auto: /dev/kvm opening is not proof that KVM runs guests (nested
// setups hang), so auto boots a probe guest under KVM and trusts it only
// when the guest speaks.
#include <unistd.h>

#include <fstream>
#include <map>
#include <mutex>
#include <random>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "spdlog/spdlog.h"
#include "vmm/domain_xml.h"
#include "vmm/libvirt_driver.h"
#include "vmm/libvirt_util.h"

namespace nest::vmm::internal {
namespace {

std::mutex cache_mu;
std::map<std::string, Accel>& Cache() {
  static auto* cache = new std::map<std::string, Accel>();
  return *cache;
}

std::string HostName(virConnectPtr conn) {
  CString h(virConnectGetHostname(conn));
  return h ? std::string(h.get()) : std::string("unknown");
}

// Returns the reason KVM is not usable, or "" when the probe guest spoke.
std::string ProbeKvm(virConnectPtr conn, const LibvirtOptions& o) {
  CString caps(virConnectGetDomainCapabilities(conn, nullptr, "x86_64",
                                               "microvm", "kvm", 0));
  if (!caps) {
    return LibvirtError("libvirt offers no KVM microvm").ToString();
  }
  if (o.probe_kernel.empty()) {
    return "no probe kernel/initrd configured to prove KVM runs guests";
  }
  VmSpec spec;
  std::random_device rd;
  spec.id = VmId(absl::StrCat("accel-probe-", getpid(), "-", rd() % 100000));
  spec.memory_mib = 128;
  spec.kernel_path = o.probe_kernel;
  spec.initrd_path = o.probe_initrd;
  auto xml = BuildDomainXml(spec, Accel::kKvm);
  if (!xml.ok()) return xml.status().ToString();
  // AUTODESTROY: if we die mid-probe, libvirt removes the guest for us.
  DomainPtr dom(
      virDomainCreateXML(conn, xml->c_str(), VIR_DOMAIN_START_AUTODESTROY));
  if (!dom) return LibvirtError("probe guest did not start").ToString();
  std::string reason;
  StreamPtr st(virStreamNew(conn, VIR_STREAM_NONBLOCK));
  if (!st || virDomainOpenChannel(dom.get(), kAgentChannel, st.get(), 0) < 0) {
    reason = LibvirtError("probe channel").ToString();
  } else {
    auto bs = MakeStreamByteStream(std::move(st), conn);
    char c;
    auto r = bs->Read(&c, 1, absl::Now() + o.probe_timeout);
    if (!r.ok()) {
      reason = absl::StrCat("probe guest under KVM did not say hello within ",
                            absl::FormatDuration(o.probe_timeout), ": ",
                            r.status().ToString());
    } else if (*r == 0) {
      reason = "probe guest closed its channel without a byte";
    }
    bs->Close();
  }
  virDomainDestroy(dom.get());
  virResetLastError();
  return reason;
}

}  // namespace

Accel ResolveAutoAccel(virConnectPtr conn, const LibvirtOptions& o) {
  std::lock_guard<std::mutex> l(cache_mu);
  auto it = Cache().find(o.uri);
  if (it != Cache().end()) return it->second;
  std::string host = HostName(conn);
  std::string cache_file =
      o.probe_cache_dir.empty()
          ? ""
          : absl::StrCat(o.probe_cache_dir, "/accel-", host);
  if (!cache_file.empty()) {
    std::ifstream in(cache_file);
    std::string word;
    if (in >> word && (word == "kvm" || word == "tcg")) {
      Accel a = word == "kvm" ? Accel::kKvm : Accel::kTcg;
      spdlog::info("accel=auto on {}: {} (cached in {})", host, word,
                   cache_file);
      Cache()[o.uri] = a;
      return a;
    }
  }
  Accel a = Accel::kTcg;
  if (absl::StartsWith(o.uri, "test:")) {
    spdlog::info("accel=auto on {}: tcg (test driver, nothing to probe)",
                 o.uri);
  } else {
    std::string reason = ProbeKvm(conn, o);
    if (reason.empty()) {
      a = Accel::kKvm;
      spdlog::info("accel=auto on {}: kvm (probe guest booted)", host);
    } else {
      spdlog::warn("accel=auto on {}: falling back to tcg: {}", host, reason);
    }
    if (!cache_file.empty()) {
      std::ofstream out(cache_file, std::ios::trunc);
      out << AccelName(a) << "\n";
    }
  }
  Cache()[o.uri] = a;
  return a;
}

}  // namespace nest::vmm::internal

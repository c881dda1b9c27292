// The domain XML builder on hostile VmSpec fields. Whatever the strings hold,
// a spec the builder accepts is one ValidateVmSpec accepts, and its XML is
// well-formed, has exactly the elements Nest writes (no injected devices),
// and carries every value back unchanged when libxml2 parses it. The
// <metadata> element round-trips through ParseMetadataXml, and
// ParseMetadataXml survives the remaining bytes as raw XML.
#include <libxml/parser.h>
#include <libxml/tree.h>

#include <cstddef>
#include <cstdint>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/string_view.h"
#include "fuzz/check.h"
#include "vmm/domain_xml.h"
#include "vmm/driver.h"

namespace {

using nest::vmm::VmSpec;
using DocPtr = std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)>;

const xmlChar* X(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

std::vector<xmlNodePtr> Children(xmlNodePtr parent, const char* name) {
  std::vector<xmlNodePtr> out;
  for (xmlNodePtr n = parent->children; n != nullptr; n = n->next) {
    if (n->type == XML_ELEMENT_NODE && xmlStrcmp(n->name, X(name)) == 0) {
      out.push_back(n);
    }
  }
  return out;
}

// The one child called `name`; fails the run if there is not exactly one.
xmlNodePtr Only(xmlNodePtr parent, const char* name) {
  std::vector<xmlNodePtr> found = Children(parent, name);
  FUZZ_CHECK(found.size() == 1);
  return found[0];
}

std::string Text(xmlNodePtr n) {
  xmlChar* c = xmlNodeGetContent(n);
  FUZZ_CHECK(c != nullptr);
  std::string s(reinterpret_cast<char*>(c));
  xmlFree(c);
  return s;
}

std::string Prop(xmlNodePtr n, const char* name) {
  xmlChar* c = xmlGetProp(n, X(name));
  FUZZ_CHECK(c != nullptr);
  std::string s(reinterpret_cast<char*>(c));
  xmlFree(c);
  return s;
}

// The input is one field a line, in the order below (so no field holds a
// newline; tests/vmm/domain_xml_test.cc covers those); a missing line is an
// empty field. An empty disk path means no disk, an empty bridge no NIC.
// Whatever follows the last field is fed to ParseMetadataXml as raw XML.
struct Input {
  VmSpec spec;
  nest::vmm::Accel accel = nest::vmm::Accel::kKvm;
  std::string raw_metadata;
};

Input ReadInput(absl::string_view data) {
  enum Field {
    kId,
    kTenant,
    kGroup,
    kVcpus,
    kMemory,
    kKernel,
    kInitrd,
    kCmdline,
    kConsole,
    kDiskPath,
    kDiskFormat,
    kDiskReadOnly,
    kBridge,
    kMac,
    kOnCrash,
    kAccel,
    kFields
  };
  std::vector<std::string> f(kFields);
  for (int i = 0; i < kFields && !data.empty(); ++i) {
    size_t nl = data.find('\n');
    f[i] = std::string(data.substr(0, nl));
    data = nl == absl::string_view::npos ? "" : data.substr(nl + 1);
  }
  Input in;
  VmSpec& s = in.spec;
  s.id = nest::VmId(f[kId]);
  s.tenant = nest::TenantId(f[kTenant]);
  s.group = nest::GroupId(f[kGroup]);
  if (!absl::SimpleAtoi(f[kVcpus], &s.vcpus)) s.vcpus = 0;
  if (!absl::SimpleAtoi(f[kMemory], &s.memory_mib)) s.memory_mib = 0;
  s.kernel_path = f[kKernel];
  s.initrd_path = f[kInitrd];
  s.extra_cmdline = f[kCmdline];
  s.console_log_path = f[kConsole];
  if (!f[kDiskPath].empty()) {
    s.data_disk = nest::vmm::DiskSpec{f[kDiskPath], f[kDiskFormat],
                                      f[kDiskReadOnly] == "ro"};
  }
  if (!f[kBridge].empty()) s.nic = nest::vmm::NicSpec{f[kBridge], f[kMac], ""};
  if (f[kOnCrash] == "restart") s.on_crash = nest::vmm::CrashPolicy::kRestart;
  if (f[kOnCrash] == "preserve") s.on_crash = nest::vmm::CrashPolicy::kPreserve;
  if (f[kAccel] == "tcg") in.accel = nest::vmm::Accel::kTcg;
  if (f[kAccel] == "auto") in.accel = nest::vmm::Accel::kAuto;
  in.raw_metadata = std::string(data);
  return in;
}

void CheckDomain(const VmSpec& spec, nest::vmm::Accel accel,
                 const std::string& xml) {
  DocPtr doc(
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "domain.xml",
                    nullptr,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING),
      &xmlFreeDoc);
  FUZZ_CHECK(doc != nullptr);
  xmlNodePtr dom = xmlDocGetRootElement(doc.get());
  FUZZ_CHECK(dom != nullptr && xmlStrcmp(dom->name, X("domain")) == 0);
  FUZZ_CHECK(Prop(dom, "type") ==
             (accel == nest::vmm::Accel::kKvm ? "kvm" : "qemu"));

  // Only the elements the builder writes, each once.
  const std::set<std::string> kTop = {
      "name",     "metadata",    "memory",    "vcpu",     "os",
      "features", "on_poweroff", "on_reboot", "on_crash", "devices"};
  for (xmlNodePtr n = dom->children; n != nullptr; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    FUZZ_CHECK(kTop.count(reinterpret_cast<const char*>(n->name)) == 1);
  }
  for (const std::string& name : kTop) Only(dom, name.c_str());

  FUZZ_CHECK(Text(Only(dom, "name")) == nest::vmm::DomainName(spec.id));
  FUZZ_CHECK(Text(Only(dom, "memory")) == std::to_string(spec.memory_mib));
  FUZZ_CHECK(Text(Only(dom, "vcpu")) == std::to_string(spec.vcpus));

  xmlNodePtr os = Only(dom, "os");
  FUZZ_CHECK(Text(Only(os, "kernel")) == spec.kernel_path);
  FUZZ_CHECK(Text(Only(os, "cmdline")) == nest::vmm::KernelCmdline(spec));
  std::vector<xmlNodePtr> initrd = Children(os, "initrd");
  FUZZ_CHECK(initrd.size() == (spec.initrd_path.empty() ? 0u : 1u));
  if (!initrd.empty()) FUZZ_CHECK(Text(initrd[0]) == spec.initrd_path);

  xmlNodePtr devs = Only(dom, "devices");
  std::vector<xmlNodePtr> serial = Children(devs, "serial");
  FUZZ_CHECK(serial.size() == (spec.console_log_path.empty() ? 0u : 1u));
  if (!serial.empty()) {
    FUZZ_CHECK(Prop(Only(serial[0], "source"), "path") ==
               spec.console_log_path);
  }
  std::vector<xmlNodePtr> disks = Children(devs, "disk");
  FUZZ_CHECK(disks.size() == (spec.data_disk ? 1u : 0u));
  if (spec.data_disk) {
    FUZZ_CHECK(Prop(Only(disks[0], "source"), "file") == spec.data_disk->path);
    FUZZ_CHECK(Prop(Only(disks[0], "driver"), "type") ==
               spec.data_disk->format);
    FUZZ_CHECK(Children(disks[0], "readonly").size() ==
               (spec.data_disk->read_only ? 1u : 0u));
  }
  std::vector<xmlNodePtr> nics = Children(devs, "interface");
  FUZZ_CHECK(nics.size() == (spec.nic ? 1u : 0u));
  if (spec.nic) {
    FUZZ_CHECK(Prop(Only(nics[0], "source"), "bridge") == spec.nic->bridge);
    std::vector<xmlNodePtr> mac = Children(nics[0], "mac");
    FUZZ_CHECK(mac.size() == (spec.nic->mac.empty() ? 0u : 1u));
    if (!mac.empty()) FUZZ_CHECK(Prop(mac[0], "address") == spec.nic->mac);
  }
  FUZZ_CHECK(Children(devs, "channel").size() == 1);

  // The metadata element, cut out as libvirt would hand it back.
  xmlNodePtr vm = Only(Only(dom, "metadata"), "vm");
  xmlBufferPtr buf = xmlBufferCreate();
  FUZZ_CHECK(xmlNodeDump(buf, doc.get(), vm, 0, 0) >= 0);
  std::string md_xml(reinterpret_cast<const char*>(xmlBufferContent(buf)),
                     xmlBufferLength(buf));
  xmlBufferFree(buf);
  absl::StatusOr<nest::vmm::NestMetadata> md =
      nest::vmm::ParseMetadataXml(md_xml);
  FUZZ_CHECK(md.ok());
  FUZZ_CHECK(md->id == spec.id && md->tenant == spec.tenant &&
             md->group == spec.group &&
             md->console_log_path == spec.console_log_path);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  xmlInitParser();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  Input in =
      ReadInput(absl::string_view(reinterpret_cast<const char*>(data), size));
  const VmSpec& spec = in.spec;

  absl::StatusOr<std::string> xml = nest::vmm::BuildDomainXml(spec, in.accel);
  if (xml.ok()) {
    FUZZ_CHECK(nest::vmm::ValidateVmSpec(spec).ok());
    FUZZ_CHECK(in.accel != nest::vmm::Accel::kAuto);
    CheckDomain(spec, in.accel, *xml);

    nest::vmm::NestMetadata md{spec.id, spec.tenant, spec.group,
                               spec.console_log_path};
    absl::StatusOr<std::string> md_xml = nest::vmm::BuildMetadataXml(md);
    FUZZ_CHECK(md_xml.ok());
    absl::StatusOr<nest::vmm::NestMetadata> back =
        nest::vmm::ParseMetadataXml(*md_xml);
    FUZZ_CHECK(back.ok() && back->id == md.id && back->tenant == md.tenant &&
               back->group == md.group &&
               back->console_log_path == md.console_log_path);
  } else {
    FUZZ_CHECK(xml.status().code() == absl::StatusCode::kInvalidArgument);
  }

  // The rest, as metadata a hostile libvirt host could hand back.
  absl::StatusOr<nest::vmm::NestMetadata> parsed =
      nest::vmm::ParseMetadataXml(in.raw_metadata);
  if (parsed.ok()) FUZZ_CHECK(!parsed->id.empty());
  return 0;
}

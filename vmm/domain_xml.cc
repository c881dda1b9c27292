#include "vmm/domain_xml.h"

#include <libxml/parser.h>
#include <libxml/tree.h>

#include <memory>

#include "absl/strings/str_cat.h"
#include "vmm/xml_util.h"

namespace nest::vmm {
namespace {

using DocPtr = std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)>;

const xmlChar* X(const char* s) { return reinterpret_cast<const xmlChar*>(s); }

// xmlNewTextChild escapes its content; xmlNewChild would not escape '&'.
xmlNodePtr Text(xmlNodePtr parent, const char* name, const std::string& v) {
  return xmlNewTextChild(parent, nullptr, X(name), X(v.c_str()));
}
xmlNodePtr Child(xmlNodePtr parent, const char* name) {
  return xmlNewChild(parent, nullptr, X(name), nullptr);
}
void Attr(xmlNodePtr n, const char* name, const std::string& v) {
  xmlNewProp(n, X(name), X(v.c_str()));
}
void Mmio(xmlNodePtr device) {
  Attr(Child(device, "address"), "type", "virtio-mmio");
}

std::string NodeText(xmlNodePtr n) {
  xmlChar* c = xmlNodeGetContent(n);
  if (c == nullptr) return "";
  std::string s(reinterpret_cast<char*>(c));
  xmlFree(c);
  return s;
}

const char* CrashPolicyName(CrashPolicy p) {
  switch (p) {
    case CrashPolicy::kDestroy:
      return "destroy";
    case CrashPolicy::kRestart:
      return "restart";
    case CrashPolicy::kPreserve:
      return "preserve";
  }
  return "destroy";
}

}  // namespace

std::string DacLabelText(const DacLabel& label) {
  return absl::StrCat("+", label.uid, ":+", label.gid);
}

absl::Status ValidateDacLabel(const std::optional<DacLabel>& label) {
  if (!label) return absl::OkStatus();
  // (uint32_t)-1 means "unchanged" to chown(2) and setresuid(2).
  constexpr uint32_t kInvalid = static_cast<uint32_t>(-1);
  if (label->uid == 0 || label->uid == kInvalid) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vm.dac_label.uid must be a non-root uid between 1 and 4294967294, "
        "got ",
        label->uid));
  }
  if (label->gid == 0 || label->gid == kInvalid) {
    return absl::InvalidArgumentError(absl::StrCat(
        "vm.dac_label.gid must be a non-root gid between 1 and 4294967294, "
        "got ",
        label->gid));
  }
  return absl::OkStatus();
}

std::string KernelCmdline(const VmSpec& spec) {
  if (spec.extra_cmdline.empty()) return kBaseCmdline;
  return absl::StrCat(kBaseCmdline, " ", spec.extra_cmdline);
}

absl::StatusOr<std::string> BuildMetadataXml(const NestMetadata& md) {
  DocPtr doc(xmlNewDoc(X("1.0")), &xmlFreeDoc);
  xmlNodePtr root = xmlNewNode(nullptr, X("vm"));
  xmlNsPtr ns = xmlNewNs(root, X(kNestXmlNs), X(kNestXmlPrefix));
  xmlSetNs(root, ns);
  auto add = [&](const char* name, const std::string& v) {
    if (!v.empty()) xmlNewTextChild(root, ns, X(name), X(v.c_str()));
  };
  add("id", md.id.str());
  add("tenant", md.tenant.str());
  add("group", md.group.str());
  add("console-log", md.console_log_path);
  NEST_ASSIGN_OR_RETURN(std::string out, SerializeXml(doc.get(), root));
  // libvirt wants the bare element, not a document with a prolog.
  if (auto pos = out.find("?>");
      out.rfind("<?xml", 0) == 0 && pos != std::string::npos) {
    out = out.substr(out.find('<', pos));
  }
  return out;
}

absl::StatusOr<NestMetadata> ParseMetadataXml(absl::string_view xml) {
  DocPtr doc(
      xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "metadata.xml",
                    nullptr,
                    XML_PARSE_NONET | XML_PARSE_NOERROR | XML_PARSE_NOWARNING),
      &xmlFreeDoc);
  if (!doc) return absl::InvalidArgumentError("metadata: not well-formed XML");
  xmlNodePtr root = xmlDocGetRootElement(doc.get());
  // virDomainGetMetadata(kNestXmlNs) returns the element with its namespace
  // stripped, so an un-namespaced <vm> is accepted too; a foreign namespace
  // is not.
  if (root == nullptr || xmlStrcmp(root->name, X("vm")) != 0 ||
      (root->ns != nullptr && xmlStrcmp(root->ns->href, X(kNestXmlNs)) != 0)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metadata: expected element vm in namespace ", kNestXmlNs));
  }
  NestMetadata md;
  for (xmlNodePtr n = root->children; n != nullptr; n = n->next) {
    if (n->type != XML_ELEMENT_NODE) continue;
    std::string v = NodeText(n);
    if (xmlStrcmp(n->name, X("id")) == 0) md.id = VmId(v);
    if (xmlStrcmp(n->name, X("tenant")) == 0) md.tenant = TenantId(v);
    if (xmlStrcmp(n->name, X("group")) == 0) md.group = GroupId(v);
    if (xmlStrcmp(n->name, X("console-log")) == 0) md.console_log_path = v;
  }
  if (md.id.empty()) return absl::InvalidArgumentError("metadata: missing id");
  return md;
}

absl::StatusOr<std::string> BuildDomainXml(const VmSpec& spec, Accel accel) {
  NEST_RETURN_IF_ERROR(ValidateVmSpec(spec));
  NEST_RETURN_IF_ERROR(ValidateDacLabel(spec.dac_label));
  if (accel == Accel::kAuto) {
    return absl::InvalidArgumentError(
        "accel must be resolved to kvm or tcg before building XML, got auto");
  }
  DocPtr doc(xmlNewDoc(X("1.0")), &xmlFreeDoc);
  xmlNodePtr dom = xmlNewNode(nullptr, X("domain"));
  xmlDocSetRootElement(doc.get(), dom);
  Attr(dom, "type", accel == Accel::kKvm ? "kvm" : "qemu");
  Text(dom, "name", DomainName(spec.id));

  xmlNodePtr md_parent = Child(dom, "metadata");
  xmlNodePtr md = xmlNewChild(md_parent, nullptr, X("vm"), nullptr);
  xmlNsPtr ns = xmlNewNs(md, X(kNestXmlNs), X(kNestXmlPrefix));
  xmlSetNs(md, ns);
  auto add_md = [&](const char* name, const std::string& v) {
    if (!v.empty()) xmlNewTextChild(md, ns, X(name), X(v.c_str()));
  };
  add_md("id", spec.id.str());
  add_md("tenant", spec.tenant.str());
  add_md("group", spec.group.str());
  add_md("console-log", spec.console_log_path);

  Attr(Text(dom, "memory", std::to_string(spec.memory_mib)), "unit", "MiB");
  Text(dom, "vcpu", std::to_string(spec.vcpus));

  xmlNodePtr os = Child(dom, "os");
  xmlNodePtr type = Text(os, "type", "hvm");
  Attr(type, "arch", "x86_64");
  Attr(type, "machine", "microvm");
  Text(os, "kernel", spec.kernel_path);
  if (!spec.initrd_path.empty()) Text(os, "initrd", spec.initrd_path);
  Text(os, "cmdline", KernelCmdline(spec));

  // microvm enumerates its virtio-mmio devices through ACPI only.
  Child(Child(dom, "features"), "acpi");
  Text(dom, "on_poweroff", "destroy");
  // The guest runs with panic=-1 reboot=t, so a kernel panic arrives as a
  // reboot: treat it like a crash.
  Text(dom, "on_reboot",
       spec.on_crash == CrashPolicy::kRestart ? "restart" : "destroy");
  Text(dom, "on_crash", CrashPolicyName(spec.on_crash));

  xmlNodePtr devs = Child(dom, "devices");
  xmlNodePtr usb = Child(devs, "controller");
  Attr(usb, "type", "usb");
  Attr(usb, "model", "none");
  Attr(Child(devs, "memballoon"), "model", "none");
  xmlNodePtr vs = Child(devs, "controller");
  Attr(vs, "type", "virtio-serial");
  Attr(vs, "index", "0");
  Mmio(vs);

  if (!spec.console_log_path.empty()) {
    xmlNodePtr serial = Child(devs, "serial");
    Attr(serial, "type", "file");
    xmlNodePtr src = Child(serial, "source");
    Attr(src, "path", spec.console_log_path);
    Attr(src, "append", "off");
    Attr(Child(serial, "target"), "type", "isa-serial");
  }

  if (spec.data_disk) {
    xmlNodePtr disk = Child(devs, "disk");
    Attr(disk, "type", "file");
    Attr(disk, "device", "disk");
    xmlNodePtr drv = Child(disk, "driver");
    Attr(drv, "name", "qemu");
    Attr(drv, "type", spec.data_disk->format);
    Attr(Child(disk, "source"), "file", spec.data_disk->path);
    xmlNodePtr tgt = Child(disk, "target");
    Attr(tgt, "dev", "vda");
    Attr(tgt, "bus", "virtio");
    if (spec.data_disk->read_only) Child(disk, "readonly");
    Mmio(disk);
  }

  if (spec.nic) {
    xmlNodePtr nic = Child(devs, "interface");
    Attr(nic, "type", "bridge");
    Attr(Child(nic, "source"), "bridge", spec.nic->bridge);
    if (!spec.nic->mac.empty()) {
      Attr(Child(nic, "mac"), "address", spec.nic->mac);
    }
    Attr(Child(nic, "model"), "type", "virtio");
    if (!spec.nic->filter.empty()) {
      Attr(Child(nic, "filterref"), "filter", spec.nic->filter);
    }
    Mmio(nic);
  }

  // No source path: libvirt generates one under its own channel directory,
  // which works for remote hosts and leaves nothing of ours behind.
  xmlNodePtr ch = Child(devs, "channel");
  Attr(ch, "type", "unix");
  Attr(Child(ch, "source"), "mode", "bind");
  xmlNodePtr ct = Child(ch, "target");
  Attr(ct, "type", "virtio");
  Attr(ct, "name", kAgentChannel);
  // virtio-serial ports sit on the controller above; the mmio address is on
  // the controller, and the port itself carries a virtio-serial address.
  xmlNodePtr ca = Child(ch, "address");
  Attr(ca, "type", "virtio-serial");
  Attr(ca, "controller", "0");
  Attr(ca, "bus", "0");
  Attr(ca, "port", "1");

  if (spec.dac_label) {
    // Static, so every tenant's QEMU gets the uid Nest chose instead of the
    // qemu.conf user shared by all; relabel='no', because Nest owns the
    // VM's files itself and libvirt must not chown (and later "restore")
    // shared ones such as the boot set. libvirt still labels its own
    // per-domain directories (monitor, channel sockets) with this uid.
    // The "+" makes libvirt read numbers, never look up names.
    xmlNodePtr sec = Child(dom, "seclabel");
    Attr(sec, "type", "static");
    Attr(sec, "model", "dac");
    Attr(sec, "relabel", "no");
    Text(sec, "label", DacLabelText(*spec.dac_label));
  }

  return SerializeXml(doc.get(), dom);
}

}  // namespace nest::vmm

#include "vmm/domain_xml.h"

#include <libxml/parser.h>
#include <libxml/xpath.h>
#include <libxml/xpathInternals.h>

#include <fstream>
#include <memory>
#include <sstream>
#include <string>

#include "doctest/doctest.h"

namespace nest::vmm {
namespace {

VmSpec FullSpec() {
  VmSpec s;
  s.id = VmId("web-1");
  s.tenant = TenantId("acme");
  s.group = GroupId("web");
  s.vcpus = 2;
  s.memory_mib = 512;
  s.kernel_path = "/var/lib/nest/images/guest/abc/vmlinuz";
  s.initrd_path = "/var/lib/nest/images/guest/abc/initrd";
  s.extra_cmdline = "nest.vm=web-1";
  s.data_disk = DiskSpec{"/var/lib/nest/vms/web-1/data.qcow2", "qcow2", false};
  s.nic = NicSpec{"nestbr0", "52:54:00:12:34:56", "nest-tenant-0123456789ab"};
  s.console_log_path = "/var/lib/nest/vms/web-1/console.log";
  s.on_crash = CrashPolicy::kPreserve;
  return s;
}

// Parses XML and answers XPath queries, so tests check structure rather
// than substrings.
class Parsed {
 public:
  explicit Parsed(const std::string& xml)
      : doc_(xmlReadMemory(xml.data(), static_cast<int>(xml.size()), "d.xml",
                           nullptr, XML_PARSE_NONET),
             &xmlFreeDoc) {
    REQUIRE(doc_ != nullptr);
    ctx_.reset(xmlXPathNewContext(doc_.get()));
    xmlXPathRegisterNs(ctx_.get(), BAD_CAST "nest", BAD_CAST kNestXmlNs);
  }
  std::string Str(const std::string& xpath) {
    auto* r = xmlXPathEvalExpression(BAD_CAST("string(" + xpath + ")").c_str(),
                                     ctx_.get());
    std::string out = r && r->stringval ? (const char*)r->stringval : "";
    xmlXPathFreeObject(r);
    return out;
  }
  double Num(const std::string& xpath) {
    auto* r = xmlXPathEvalExpression(BAD_CAST xpath.c_str(), ctx_.get());
    double v = xmlXPathCastToNumber(r);
    xmlXPathFreeObject(r);
    return v;
  }

 private:
  std::unique_ptr<xmlDoc, decltype(&xmlFreeDoc)> doc_;
  struct CtxFree {
    void operator()(xmlXPathContextPtr c) { xmlXPathFreeContext(c); }
  };
  std::unique_ptr<xmlXPathContext, CtxFree> ctx_;
};

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

TEST_CASE("domain XML matches the golden file") {
  auto xml = BuildDomainXml(FullSpec(), Accel::kTcg);
  REQUIRE(xml.ok());
  std::string golden_path =
      std::string(NEST_VMM_TESTDATA) + "/microvm_golden.xml";
  if (getenv("NEST_UPDATE_GOLDEN")) std::ofstream(golden_path) << *xml;
  CHECK(*xml == ReadFile(golden_path));
}

TEST_CASE("domain XML parses back to the spec") {
  VmSpec s = FullSpec();
  auto xml = BuildDomainXml(s, Accel::kKvm);
  REQUIRE(xml.ok());
  Parsed p(*xml);
  CHECK(p.Str("/domain/@type") == "kvm");
  CHECK(p.Str("/domain/name") == "nest-web-1");
  CHECK(p.Str("/domain/memory") == "512");
  CHECK(p.Str("/domain/memory/@unit") == "MiB");
  CHECK(p.Str("/domain/vcpu") == "2");
  CHECK(p.Str("/domain/os/type/@machine") == "microvm");
  CHECK(p.Str("/domain/os/kernel") == s.kernel_path);
  CHECK(p.Str("/domain/os/initrd") == s.initrd_path);
  CHECK(p.Str("/domain/os/cmdline") == KernelCmdline(s));
  CHECK(p.Str("/domain/os/cmdline").find("tsc_early_khz=2000000") !=
        std::string::npos);
  CHECK(p.Num("count(/domain/features/acpi)") == 1);
  CHECK(p.Str("/domain/on_poweroff") == "destroy");
  CHECK(p.Str("/domain/on_crash") == "preserve");
  CHECK(p.Str("/domain/devices/controller[@type='usb']/@model") == "none");
  CHECK(p.Str("/domain/devices/memballoon/@model") == "none");
  CHECK(p.Str("/domain/devices/disk/source/@file") == s.data_disk->path);
  CHECK(p.Str("/domain/devices/disk/driver/@type") == "qcow2");
  CHECK(p.Str("/domain/devices/disk/target/@dev") == "vda");
  CHECK(p.Str("/domain/devices/interface/source/@bridge") == "nestbr0");
  CHECK(p.Str("/domain/devices/interface/mac/@address") == s.nic->mac);
  CHECK(p.Str("/domain/devices/interface/filterref/@filter") ==
        "nest-tenant-0123456789ab");
  CHECK(p.Str("/domain/devices/serial/source/@path") == s.console_log_path);
  CHECK(p.Str("/domain/devices/serial/target/@type") == "isa-serial");
  CHECK(p.Str("/domain/devices/channel/target/@name") == kAgentChannel);
  CHECK(p.Str("/domain/metadata/nest:vm/nest:id") == "web-1");
  CHECK(p.Str("/domain/metadata/nest:vm/nest:tenant") == "acme");
  CHECK(p.Str("/domain/metadata/nest:vm/nest:group") == "web");
}

TEST_CASE("every virtio device sits on virtio-mmio") {
  auto xml = BuildDomainXml(FullSpec(), Accel::kTcg);
  REQUIRE(xml.ok());
  Parsed p(*xml);
  // Devices that are virtio: disks on bus virtio, virtio NICs and the
  // virtio-serial controller. Channels are ports on that controller.
  double virtio = p.Num(
      "count(/domain/devices/disk[target/@bus='virtio'] |"
      " /domain/devices/interface[model/@type='virtio'] |"
      " /domain/devices/controller[@type='virtio-serial'])");
  double mmio = p.Num("count(/domain/devices/*[address/@type='virtio-mmio'])");
  CHECK(virtio == 3);
  CHECK(mmio == virtio);
  CHECK(p.Num("count(/domain/devices/*[address/@type='pci'])") == 0);
  CHECK(p.Str("/domain/devices/channel/address/@type") == "virtio-serial");
}

TEST_CASE("minimal spec has no disk, nic or console") {
  VmSpec s;
  s.id = VmId("a");
  s.kernel_path = "/k";
  auto xml = BuildDomainXml(s, Accel::kTcg);
  REQUIRE(xml.ok());
  Parsed p(*xml);
  CHECK(p.Str("/domain/@type") == "qemu");
  CHECK(p.Num("count(/domain/devices/disk)") == 0);
  CHECK(p.Num("count(/domain/devices/interface)") == 0);
  CHECK(p.Num("count(/domain/devices/serial)") == 0);
  CHECK(p.Num("count(/domain/os/initrd)") == 0);
  CHECK(p.Num("count(/domain/devices/channel)") == 1);
}

TEST_CASE("hostile values are escaped and parse back unchanged") {
  VmSpec s = FullSpec();
  s.extra_cmdline = "a<b c&d e'f g\"h ]]> <!-- x -->";
  s.kernel_path = "/var/lib/nest/k<&'\"]]>";
  auto xml = BuildDomainXml(s, Accel::kTcg);
  REQUIRE(xml.ok());
  CHECK(xml->find("]]>") == std::string::npos);
  CHECK(xml->find("<!--") == std::string::npos);
  Parsed p(*xml);
  CHECK(p.Str("/domain/os/cmdline") == KernelCmdline(s));
  CHECK(p.Str("/domain/os/kernel") == s.kernel_path);
  CHECK(p.Num("count(/domain/devices/*)") ==
        Parsed(*BuildDomainXml(FullSpec(), Accel::kTcg))
            .Num("count(/domain/devices/*)"));
}

TEST_CASE("hostile names are rejected with the field named") {
  for (std::string bad :
       {std::string("a<b"), std::string("a&b"), std::string("a'b"),
        std::string("x]]>"), std::string("a\0b", 3), std::string(64, 'a'),
        std::string(""), std::string("Upper"), std::string("-lead")}) {
    VmSpec s = FullSpec();
    s.id = VmId(bad);
    auto xml = BuildDomainXml(s, Accel::kTcg);
    CHECK_FALSE(xml.ok());
    CHECK(xml.status().message().find("vm.id") != std::string::npos);
  }
  VmSpec s = FullSpec();
  s.id = VmId(std::string(63, 'a'));
  CHECK(BuildDomainXml(s, Accel::kTcg).ok());
  s.tenant = TenantId("t<x");
  CHECK(BuildDomainXml(s, Accel::kTcg).status().message().find("vm.tenant") !=
        std::string::npos);
}

TEST_CASE("control characters and NUL in strings are rejected") {
  VmSpec s = FullSpec();
  s.extra_cmdline = std::string("quiet\0init=/bin/sh", 18);
  CHECK(absl::IsInvalidArgument(BuildDomainXml(s, Accel::kTcg).status()));
  s = FullSpec();
  s.extra_cmdline = "a\nb";
  CHECK(absl::IsInvalidArgument(BuildDomainXml(s, Accel::kTcg).status()));
  s = FullSpec();
  s.console_log_path = "relative/console.log";
  CHECK(BuildDomainXml(s, Accel::kTcg)
            .status()
            .message()
            .find("vm.console_log_path") != std::string::npos);
  s = FullSpec();
  s.data_disk->path = "/var/lib/nest/../../etc/shadow";
  CHECK_FALSE(BuildDomainXml(s, Accel::kTcg).ok());
  s = FullSpec();
  s.data_disk->format = "vmdk";
  CHECK_FALSE(BuildDomainXml(s, Accel::kTcg).ok());
  s = FullSpec();
  s.nic->bridge = "br0;rm -rf /";
  CHECK_FALSE(BuildDomainXml(s, Accel::kTcg).ok());
  s = FullSpec();
  s.nic->mac = "zz:zz";
  CHECK_FALSE(BuildDomainXml(s, Accel::kTcg).ok());
  s = FullSpec();
  s.nic->filter = "x'/><evil/>";
  CHECK(
      BuildDomainXml(s, Accel::kTcg).status().message().find("vm.nic.filter") !=
      std::string::npos);
  s = FullSpec();
  s.memory_mib = 0;
  CHECK(
      BuildDomainXml(s, Accel::kTcg).status().message().find("vm.memory_mib") !=
      std::string::npos);
}

TEST_CASE("a DAC label becomes one static seclabel that relabels nothing") {
  VmSpec s = FullSpec();
  s.dac_label = DacLabel{200017, 200018};
  auto xml = BuildDomainXml(s, Accel::kTcg);
  REQUIRE(xml.ok());
  Parsed p(*xml);
  CHECK(p.Num("count(/domain/seclabel)") == 1);
  CHECK(p.Str("/domain/seclabel/@type") == "static");
  CHECK(p.Str("/domain/seclabel/@model") == "dac");
  CHECK(p.Str("/domain/seclabel/@relabel") == "no");
  CHECK(p.Str("/domain/seclabel/label") == "+200017:+200018");
  CHECK(DacLabelText(*s.dac_label) == "+200017:+200018");
  // No device-level seclabel overrides the domain's (none disables DAC).
  CHECK(p.Num("count(//devices//seclabel)") == 0);
  CHECK(p.Num("count(//seclabel[@type='none'])") == 0);
}

TEST_CASE("without a DAC label the domain carries no seclabel") {
  auto xml = BuildDomainXml(FullSpec(), Accel::kTcg);
  REQUIRE(xml.ok());
  CHECK(Parsed(*xml).Num("count(//seclabel)") == 0);
}

TEST_CASE("a DAC label never names root or the unchanged id") {
  for (auto [label, field] :
       {std::pair{DacLabel{0, 200000}, "vm.dac_label.uid"},
        std::pair{DacLabel{200000, 0}, "vm.dac_label.gid"},
        std::pair{DacLabel{0xffffffffu, 200000}, "vm.dac_label.uid"},
        std::pair{DacLabel{200000, 0xffffffffu}, "vm.dac_label.gid"}}) {
    VmSpec s = FullSpec();
    s.dac_label = label;
    absl::Status st = BuildDomainXml(s, Accel::kTcg).status();
    CHECK(absl::IsInvalidArgument(st));
    CHECK(st.message().find(field) != std::string::npos);
  }
  CHECK(ValidateDacLabel(std::nullopt).ok());
  CHECK(ValidateDacLabel(DacLabel{1, 1}).ok());
}

TEST_CASE("accel must be resolved") {
  CHECK(absl::IsInvalidArgument(
      BuildDomainXml(FullSpec(), Accel::kAuto).status()));
  CHECK(*ParseAccel("accel", "tcg") == Accel::kTcg);
  CHECK_FALSE(ParseAccel("accel", "xen").ok());
}

TEST_CASE("metadata round-trips, with or without the namespace") {
  NestMetadata md{VmId("v1"), TenantId("t"), GroupId("g"), "/var/log/c"};
  auto xml = BuildMetadataXml(md);
  REQUIRE(xml.ok());
  auto back = ParseMetadataXml(*xml);
  REQUIRE(back.ok());
  CHECK(back->id == md.id);
  CHECK(back->tenant == md.tenant);
  CHECK(back->group == md.group);
  CHECK(back->console_log_path == md.console_log_path);
  // libvirt strips the namespace when it hands the element back.
  auto bare = ParseMetadataXml("<vm><id>v2</id></vm>");
  REQUIRE(bare.ok());
  CHECK(bare->id == VmId("v2"));
  CHECK_FALSE(ParseMetadataXml("<vm xmlns='urn:other'><id>v</id></vm>").ok());
  CHECK_FALSE(ParseMetadataXml("<vm><tenant>t</tenant></vm>").ok());
  CHECK_FALSE(ParseMetadataXml("<vm>").ok());
}

}  // namespace
}  // namespace nest::vmm

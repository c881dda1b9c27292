#include "cli/documents.h"

#include <functional>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "absl/strings/str_join.h"
#include "absl/time/time.h"
#include "cli/spec.h"
#include "cli/table.h"

namespace nest::cli {
namespace {

template <typename T>
std::string EnumName(T value, const google::protobuf::EnumDescriptor* type) {
  const auto* v = type->FindValueByNumber(static_cast<int>(value));
  return v == nullptr ? absl::StrCat(static_cast<int>(value))
                      : EnumShortName(v);
}

// `{kind, name, labels?}` then every field of `msg` but `meta`, in order.
Json Generic(absl::string_view kind, const nest::v1::ObjectMeta& meta,
             const google::protobuf::Message& msg) {
  Json doc = Json::object();
  doc["kind"] = kind;
  doc["name"] = meta.name();
  if (!meta.labels().empty()) {
    doc["labels"] = MessageToJson(meta)["labels"];
  }
  Json fields = MessageToJson(msg);
  for (auto it = fields.begin(); it != fields.end(); ++it) {
    if (it.key() != "meta") doc[it.key()] = it.value();
  }
  return doc;
}

Json WithStatus(absl::string_view kind, const nest::v1::ObjectMeta& meta,
                const google::protobuf::Message& spec,
                const google::protobuf::Message& status) {
  Json doc = Json::object();
  doc["kind"] = kind;
  doc["name"] = meta.name();
  doc["spec"] = MessageToJson(spec);
  Json st = Json::object();
  if (meta.generation() != 0) st["generation"] = meta.generation();
  Json rest = MessageToJson(status);
  for (auto it = rest.begin(); it != rest.end(); ++it)
    st[it.key()] = it.value();
  if (!st.empty()) doc["status"] = std::move(st);
  return doc;
}

// A table described by its columns; wide-only columns come last.
template <typename T>
struct Column {
  const char* header;
  bool wide_only;
  std::function<std::string(const T&)> cell;
};

template <typename T>
std::string Render(const std::vector<T>& items,
                   const std::vector<Column<T>>& columns, bool wide) {
  std::vector<std::string> header;
  for (const auto& c : columns) {
    if (wide || !c.wide_only) header.push_back(c.header);
  }
  Table table(std::move(header));
  for (const T& item : items) {
    std::vector<std::string> row;
    for (const auto& c : columns) {
      if (wide || !c.wide_only) row.push_back(c.cell(item));
    }
    table.AddRow(std::move(row));
  }
  return table.Render();
}

std::string Or(const std::string& s, absl::string_view fallback = "-") {
  return s.empty() ? std::string(fallback) : s;
}

std::string Labels(const nest::v1::ObjectMeta& meta) {
  std::map<std::string, std::string> sorted(meta.labels().begin(),
                                            meta.labels().end());
  return Or(absl::StrJoin(sorted, ",", absl::PairFormatter("=")));
}

std::string Pair(const std::string& allocated, const std::string& capacity) {
  return absl::StrCat(allocated.empty() ? "0" : allocated, "/",
                      capacity.empty() ? "?" : capacity);
}

}  // namespace

absl::StatusOr<Format> ParseFormat(absl::string_view text) {
  if (text == "table" || text.empty()) return Format::kTable;
  if (text == "wide") return Format::kWide;
  if (text == "json") return Format::kJson;
  if (text == "yaml") return Format::kYaml;
  return absl::InvalidArgumentError(
      absl::StrCat("-o must be table, wide, json or yaml, got \"", text, "\""));
}

std::string FormatTime(const google::protobuf::Timestamp& t) {
  if (t.seconds() == 0 && t.nanos() == 0) return "";
  absl::Time at = absl::FromUnixSeconds(t.seconds());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%SZ", at, absl::UTCTimeZone());
}

std::string FormatBytes(int64_t bytes) {
  constexpr const char* kUnits[] = {"Ki", "Mi", "Gi", "Ti"};
  if (bytes < 1024) return absl::StrCat(bytes, " B");
  double v = static_cast<double>(bytes);
  int unit = -1;
  while (v >= 1024 && unit < 3) {
    v /= 1024;
    ++unit;
  }
  return absl::StrFormat("%.1f%s", v, kUnits[unit]);
}

Json ToDocument(const nest::v1::Workload& w) {
  return WithStatus(kKindWorkload, w.meta(), w.spec(), w.status());
}
Json ToDocument(const nest::v1::VmGroup& g) {
  return WithStatus(kKindVmGroup, g.meta(), g.spec(), g.status());
}
Json ToDocument(const nest::v1::Host& h) {
  return Generic("Host", h.meta(), h);
}
Json ToDocument(const nest::v1::Vm& v) { return Generic("Vm", v.meta(), v); }
Json ToDocument(const nest::v1::Container& c) {
  return Generic("Container", c.meta(), c);
}
Json ToDocument(const nest::v1::Image& i) {
  return Generic("Image", i.meta(), i);
}
Json ToDocument(const nest::v1::Event& e) {
  Json doc = MessageToJson(e);
  Json out = Json::object();
  out["kind"] = "Event";
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    out[it.key() == "kind" ? "object_kind" : it.key()] = it.value();
  }
  return out;
}
Json ToDocument(const nest::v1::ApplyObject& o) {
  Json doc = Json::object();
  doc["kind"] = KindOf(o);
  doc["name"] = NameOf(o);
  doc["spec"] = o.has_group() ? MessageToJson(o.group().spec())
                              : MessageToJson(o.workload().spec());
  return doc;
}

std::string RenderDocuments(const std::vector<Json>& docs, Format format,
                            bool single) {
  if (format == Format::kJson) {
    if (single && docs.size() == 1) return docs[0].dump(2) + "\n";
    Json list = Json::array();
    for (const Json& d : docs) list.push_back(d);
    return list.dump(2) + "\n";
  }
  std::string out;
  for (size_t i = 0; i < docs.size(); ++i) {
    if (i > 0) out += "---\n";
    out += JsonToYaml(docs[i]);
  }
  return out;
}

std::string RenderTable(const std::vector<nest::v1::Workload>& items,
                        bool wide) {
  using W = nest::v1::Workload;
  return Render<W>(
      items,
      {{"NAME", false, [](const W& w) { return w.meta().name(); }},
       {"IMAGE", false, [](const W& w) { return w.spec().image(); }},
       {"READY", false,
        [](const W& w) {
          return absl::StrCat(w.status().ready(), "/", w.spec().replicas());
        }},
       {"PENDING", false,
        [](const W& w) { return absl::StrCat(w.status().pending()); }},
       {"FAILED", false,
        [](const W& w) { return absl::StrCat(w.status().failed()); }},
       {"GROUP", false, [](const W& w) { return Or(w.spec().group()); }},
       {"CPU", true, [](const W& w) { return Or(w.spec().resources().cpu()); }},
       {"MEMORY", true,
        [](const W& w) { return Or(w.spec().resources().memory()); }},
       {"PORTS", true,
        [](const W& w) {
          std::vector<std::string> ports;
          for (const auto& p : w.spec().ports()) {
            ports.push_back(
                p.host_port() != 0
                    ? absl::StrCat(p.host_port(), ":", p.container_port())
                    : absl::StrCat(p.container_port()));
          }
          return Or(absl::StrJoin(ports, ","));
        }},
       {"VIP", true, [](const W& w) { return Or(w.status().vip()); }},
       {"GEN", true,
        [](const W& w) { return absl::StrCat(w.meta().generation()); }},
       {"MESSAGE", true, [](const W& w) { return w.status().message(); }}},
      wide);
}

std::string RenderTable(const std::vector<nest::v1::VmGroup>& items,
                        bool wide) {
  using G = nest::v1::VmGroup;
  return Render<G>(
      items,
      {{"NAME", false, [](const G& g) { return g.meta().name(); }},
       {"SHAPE", false,
        [](const G& g) {
          return absl::StrCat(g.spec().shape().vcpus(), "cpu/",
                              g.spec().shape().memory());
        }},
       {"MIN", false,
        [](const G& g) { return absl::StrCat(g.spec().min_vms()); }},
       {"MAX", false,
        [](const G& g) { return absl::StrCat(g.spec().max_vms()); }},
       {"RUNNING", false,
        [](const G& g) { return absl::StrCat(g.status().vms_running()); }},
       {"PENDING", false,
        [](const G& g) { return absl::StrCat(g.status().vms_pending()); }},
       {"CONTAINERS", false,
        [](const G& g) { return absl::StrCat(g.status().containers()); }},
       {"POLICY", true,
        [](const G& g) {
          return g.spec().policy() == 0
                     ? std::string("-")
                     : EnumName(g.spec().policy(),
                                nest::v1::PlacementPolicy_descriptor());
        }},
       {"DESIRED", true,
        [](const G& g) { return absl::StrCat(g.spec().desired_vms()); }},
       {"GEN", true,
        [](const G& g) { return absl::StrCat(g.meta().generation()); }},
       {"MESSAGE", true, [](const G& g) { return g.status().message(); }}},
      wide);
}

std::string RenderTable(const std::vector<nest::v1::Host>& items, bool wide) {
  using H = nest::v1::Host;
  return Render<H>(
      items,
      {{"NAME", false, [](const H& h) { return h.meta().name(); }},
       {"STATE", false,
        [](const H& h) {
          return EnumName(h.state(), nest::v1::HostState_descriptor());
        }},
       {"VMS", false, [](const H& h) { return absl::StrCat(h.vm_count()); }},
       {"CPU", false,
        [](const H& h) {
          return Pair(h.allocated().cpu(), h.capacity().cpu());
        }},
       {"MEMORY", false,
        [](const H& h) {
          return Pair(h.allocated().memory(), h.capacity().memory());
        }},
       {"ACCEL", true, [](const H& h) { return Or(h.accel()); }},
       {"URI", true, [](const H& h) { return h.uri(); }},
       {"POOL", true, [](const H& h) { return Or(h.pool()); }},
       {"LABELS", true, [](const H& h) { return Labels(h.meta()); }},
       {"MESSAGE", true, [](const H& h) { return h.message(); }}},
      wide);
}

std::string RenderTable(const std::vector<nest::v1::Vm>& items, bool wide) {
  using V = nest::v1::Vm;
  return Render<V>(
      items,
      {{"NAME", false, [](const V& v) { return v.meta().name(); }},
       {"GROUP", false, [](const V& v) { return Or(v.group()); }},
       {"HOST", false, [](const V& v) { return Or(v.host()); }},
       {"STATE", false,
        [](const V& v) {
          return EnumName(v.state(), nest::v1::VmState_descriptor());
        }},
       {"CONTAINERS", false,
        [](const V& v) { return absl::StrCat(v.containers()); }},
       {"VCPUS", true, [](const V& v) { return absl::StrCat(v.vcpus()); }},
       {"MEMORY", true, [](const V& v) { return Or(v.memory()); }},
       {"ADDRESS", true, [](const V& v) { return Or(v.address()); }},
       {"BOOTS", true,
        [](const V& v) { return absl::StrCat(v.boot_attempts()); }},
       {"MESSAGE", true, [](const V& v) { return v.message(); }}},
      wide);
}

std::string RenderTable(const std::vector<nest::v1::Container>& items,
                        bool wide) {
  using C = nest::v1::Container;
  return Render<C>(
      items,
      {{"NAME", false, [](const C& c) { return c.meta().name(); }},
       {"WORKLOAD", false, [](const C& c) { return Or(c.workload()); }},
       {"STATE", false,
        [](const C& c) {
          return EnumName(c.state(), nest::v1::ContainerState_descriptor());
        }},
       {"VM", false, [](const C& c) { return Or(c.vm()); }},
       {"HOST", false, [](const C& c) { return Or(c.host()); }},
       {"RESTARTS", false,
        [](const C& c) { return absl::StrCat(c.restarts()); }},
       {"IMAGE", true, [](const C& c) { return Or(c.image()); }},
       {"IP", true, [](const C& c) { return Or(c.address()); }},
       {"HEALTH", true, [](const C& c) { return Or(c.health()); }},
       {"EXIT", true,
        [](const C& c) {
          if (c.state() != nest::v1::CONTAINER_STATE_SUCCEEDED &&
              c.state() != nest::v1::CONTAINER_STATE_FAILED) {
            return std::string("-");
          }
          return absl::StrCat(c.exit_code(), c.oom_killed() ? " (oom)" : "");
        }},
       {"STARTED", true,
        [](const C& c) { return Or(FormatTime(c.start_time())); }},
       {"MESSAGE", true, [](const C& c) { return c.message(); }}},
      wide);
}

std::string RenderTable(const std::vector<nest::v1::Image>& items, bool wide) {
  using I = nest::v1::Image;
  return Render<I>(
      items,
      {{"NAME", false, [](const I& i) { return i.meta().name(); }},
       {"DIGEST", false,
        [](const I& i) {
          // "sha256:" plus 12 hex digits, as docker shows ids.
          return i.digest().substr(0, 19);
        }},
       {"SIZE", false, [](const I& i) { return FormatBytes(i.size_bytes()); }},
       {"LAYERS", false, [](const I& i) { return absl::StrCat(i.layers()); }},
       {"IMPORTED", true,
        [](const I& i) { return Or(FormatTime(i.import_time())); }},
       {"FULL DIGEST", true, [](const I& i) { return i.digest(); }}},
      wide);
}

std::string RenderTable(const std::vector<nest::v1::Event>& items, bool wide) {
  using E = nest::v1::Event;
  return Render<E>(
      items,
      {{"SEQ", false, [](const E& e) { return absl::StrCat(e.seq()); }},
       {"TIME", false, [](const E& e) { return FormatTime(e.time()); }},
       {"OBJECT", false,
        [](const E& e) { return absl::StrCat(e.kind(), "/", e.name()); }},
       {"REASON", false, [](const E& e) { return e.reason(); }},
       {"TENANT", true, [](const E& e) { return Or(e.tenant()); }},
       {"MESSAGE", false, [](const E& e) { return e.message(); }}},
      wide);
}

namespace {
std::string Cores(double c) { return absl::StrFormat("%.2f", c); }
std::string Seconds(double s) { return absl::StrFormat("%.1f", s); }
}  // namespace

std::string RenderTable(const std::vector<nest::v1::HostUsage>& items,
                        bool wide) {
  using H = nest::v1::HostUsage;
  return Render<H>(
      items,
      {{"NAME", false, [](const H& h) { return h.host(); }},
       {"STATE", false, [](const H& h) { return h.state(); }},
       {"VMS", false, [](const H& h) { return absl::StrCat(h.vms()); }},
       {"CPU USED", false, [](const H& h) { return Cores(h.cpu_cores()); }},
       {"CPU ALLOC", false,
        [](const H& h) {
          return absl::StrCat(Or(h.allocated().cpu()), "/",
                              Or(h.capacity().cpu()));
        }},
       {"MEM USED", false,
        [](const H& h) { return FormatBytes(h.memory_bytes()); }},
       {"MEM ALLOC", false,
        [](const H& h) {
          return absl::StrCat(Or(h.allocated().memory()), "/",
                              Or(h.capacity().memory()));
        }}},
      wide);
}

std::string RenderTable(const std::vector<nest::v1::VmUsage>& items,
                        bool wide) {
  using V = nest::v1::VmUsage;
  return Render<V>(
      items,
      {{"NAME", false, [](const V& v) { return v.vm(); }},
       {"GROUP", false, [](const V& v) { return v.group(); }},
       {"HOST", false, [](const V& v) { return v.host(); }},
       {"CPU", false, [](const V& v) { return Cores(v.cpu_cores()); }},
       {"CPU(s)", false, [](const V& v) { return Seconds(v.cpu_seconds()); }},
       {"MEMORY", false,
        [](const V& v) { return FormatBytes(v.memory_bytes()); }},
       {"DISK R/W", true,
        [](const V& v) {
          return absl::StrCat(FormatBytes(v.block_read_bytes()), "/",
                              FormatBytes(v.block_write_bytes()));
        }},
       {"NET RX/TX", true,
        [](const V& v) {
          return absl::StrCat(FormatBytes(v.net_receive_bytes()), "/",
                              FormatBytes(v.net_transmit_bytes()));
        }}},
      wide);
}

std::string RenderTable(const std::vector<nest::v1::ContainerUsage>& items,
                        bool wide) {
  using C = nest::v1::ContainerUsage;
  return Render<C>(
      items,
      {{"NAME", false, [](const C& c) { return c.container(); }},
       {"WORKLOAD", false, [](const C& c) { return c.workload(); }},
       {"VM", false, [](const C& c) { return c.vm(); }},
       {"CPU", false, [](const C& c) { return Cores(c.cpu_cores()); }},
       {"CPU(s)", false, [](const C& c) { return Seconds(c.cpu_seconds()); }},
       {"MEMORY", false,
        [](const C& c) { return FormatBytes(c.memory_bytes()); }},
       {"PIDS", false, [](const C& c) { return absl::StrCat(c.pids()); }}},
      wide);
}

std::string EventLine(const nest::v1::Event& e) {
  return absl::StrFormat(
      "%-6d %s  %-24s %-14s %s", e.seq(), FormatTime(e.time()),
      absl::StrCat(e.kind(), "/", e.name()), e.reason(), e.message());
}

}  // namespace nest::cli

// get, describe, delete, scale, events and top.
#include <algorithm>
#include <deque>

#include "absl/strings/ascii.h"
#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/errors.h"

namespace nest::cli {
namespace {

constexpr int kPageSize = 500;
constexpr size_t kDescribeEvents = 10;

absl::string_view Plural(Kind kind) {
  switch (kind) {
    case Kind::kHost:
      return "hosts";
    case Kind::kGroup:
      return "groups";
    case Kind::kVm:
      return "vms";
    case Kind::kWorkload:
      return "workloads";
    case Kind::kContainer:
      return "containers";
    case Kind::kImage:
      return "images";
    case Kind::kEvent:
      return "events";
  }
  return "objects";
}

// The kind name events and documents use.
absl::string_view KindName(Kind kind) {
  switch (kind) {
    case Kind::kHost:
      return "Host";
    case Kind::kGroup:
      return "VmGroup";
    case Kind::kVm:
      return "Vm";
    case Kind::kWorkload:
      return "Workload";
    case Kind::kContainer:
      return "Container";
    case Kind::kImage:
      return "Image";
    case Kind::kEvent:
      return "Event";
  }
  return "";
}

absl::string_view Singular(Kind kind) {
  switch (kind) {
    case Kind::kGroup:
      return "group";
    default: {
      absl::string_view p = Plural(kind);
      return p.substr(0, p.size() - 1);
    }
  }
}

// Calls a paginated List RPC until the server stops returning a token.
template <typename Resp, typename Call, typename Items>
absl::Status ListAll(Call call, Items items, absl::string_view what) {
  std::string token;
  for (;;) {
    Resp resp;
    NEST_RETURN_IF_ERROR(FromGrpc(call(token, &resp), what));
    items(resp);
    if (resp.next_page_token().empty() || resp.next_page_token() == token) {
      return absl::OkStatus();
    }
    token = resp.next_page_token();
  }
}

template <typename T>
absl::Status Show(const Context& ctx, const std::vector<T>& items, bool single,
                  Kind kind) {
  if (ctx.format == Format::kTable || ctx.format == Format::kWide) {
    if (items.empty()) {
      *ctx.err << "No " << Plural(kind) << " found.\n";
      return absl::OkStatus();
    }
    *ctx.out << RenderTable(items, ctx.format == Format::kWide);
    return absl::OkStatus();
  }
  std::vector<Json> docs;
  for (const T& item : items) docs.push_back(ToDocument(item));
  *ctx.out << RenderDocuments(docs, ctx.format, single);
  return absl::OkStatus();
}

absl::Status NotFound(Kind kind, const std::string& name) {
  return absl::NotFoundError(
      absl::StrCat(Singular(kind), " \"", name, "\" not found"));
}

template <typename T>
absl::Status Filter(std::vector<T>* items, Kind kind, const std::string& name) {
  if (name.empty()) return absl::OkStatus();
  std::erase_if(*items, [&](const T& t) { return t.meta().name() != name; });
  if (items->empty()) return NotFound(kind, name);
  return absl::OkStatus();
}

absl::Status ListEvents(const Context& ctx, const std::string& name,
                        int64_t after, std::vector<nest::v1::Event>* out) {
  // Pages forward by sequence: each page starts after the last one seen.
  for (int page = 0; page < 1000; ++page) {
    nest::v1::ListEventsRequest req;
    req.set_after_seq(after);
    req.set_limit(kPageSize);
    req.set_name(name);
    nest::v1::ListEventsResponse resp;
    NEST_RETURN_IF_ERROR(FromGrpc(ctx.client->events().ListEvents(
                                      ctx.client->Context().get(), req, &resp),
                                  "list events"));
    if (resp.events().empty()) break;
    for (const auto& e : resp.events()) {
      if (e.seq() > after) after = e.seq();
      out->push_back(e);
    }
    if (resp.events_size() < kPageSize) break;
  }
  return absl::OkStatus();
}

// Fetches and prints one kind; `single` when a name was given.
absl::Status GetOnce(const Context& ctx, Kind kind, const std::string& name) {
  Client& c = *ctx.client;
  bool single = !name.empty();
  switch (kind) {
    case Kind::kHost: {
      std::vector<nest::v1::Host> items;
      if (single) {
        nest::v1::GetHostRequest req;
        req.set_name(name);
        nest::v1::GetHostResponse resp;
        NEST_RETURN_IF_ERROR(FromGrpc(
            c.hosts().GetHost(c.Context().get(), req, &resp), "get host"));
        items.push_back(resp.host());
      } else {
        NEST_RETURN_IF_ERROR(ListAll<nest::v1::ListHostsResponse>(
            [&](const std::string& token, auto* resp) {
              nest::v1::ListHostsRequest req;
              req.mutable_page()->set_page_token(token);
              return c.hosts().ListHosts(c.Context().get(), req, resp);
            },
            [&](const auto& resp) {
              items.insert(items.end(), resp.hosts().begin(),
                           resp.hosts().end());
            },
            "list hosts"));
      }
      return Show(ctx, items, single, kind);
    }
    case Kind::kGroup: {
      std::vector<nest::v1::VmGroup> items;
      if (single) {
        nest::v1::GetVmGroupRequest req;
        req.set_name(name);
        nest::v1::GetVmGroupResponse resp;
        NEST_RETURN_IF_ERROR(FromGrpc(
            c.groups().GetVmGroup(c.Context().get(), req, &resp), "get group"));
        items.push_back(resp.group());
      } else {
        NEST_RETURN_IF_ERROR(ListAll<nest::v1::ListVmGroupsResponse>(
            [&](const std::string& token, auto* resp) {
              nest::v1::ListVmGroupsRequest req;
              req.mutable_page()->set_page_token(token);
              return c.groups().ListVmGroups(c.Context().get(), req, resp);
            },
            [&](const auto& resp) {
              items.insert(items.end(), resp.groups().begin(),
                           resp.groups().end());
            },
            "list groups"));
      }
      return Show(ctx, items, single, kind);
    }
    case Kind::kVm: {
      std::vector<nest::v1::Vm> items;
      if (single) {
        nest::v1::GetVmRequest req;
        req.set_name(name);
        nest::v1::GetVmResponse resp;
        NEST_RETURN_IF_ERROR(
            FromGrpc(c.vms().GetVm(c.Context().get(), req, &resp), "get vm"));
        items.push_back(resp.vm());
      } else {
        NEST_RETURN_IF_ERROR(ListAll<nest::v1::ListVmsResponse>(
            [&](const std::string& token, auto* resp) {
              nest::v1::ListVmsRequest req;
              req.mutable_page()->set_page_token(token);
              return c.vms().ListVms(c.Context().get(), req, resp);
            },
            [&](const auto& resp) {
              items.insert(items.end(), resp.vms().begin(), resp.vms().end());
            },
            "list vms"));
      }
      return Show(ctx, items, single, kind);
    }
    case Kind::kWorkload: {
      std::vector<nest::v1::Workload> items;
      if (single) {
        nest::v1::GetWorkloadRequest req;
        req.set_name(name);
        nest::v1::GetWorkloadResponse resp;
        NEST_RETURN_IF_ERROR(
            FromGrpc(c.workloads().GetWorkload(c.Context().get(), req, &resp),
                     "get workload"));
        items.push_back(resp.workload());
      } else {
        NEST_RETURN_IF_ERROR(ListAll<nest::v1::ListWorkloadsResponse>(
            [&](const std::string& token, auto* resp) {
              nest::v1::ListWorkloadsRequest req;
              req.mutable_page()->set_page_token(token);
              return c.workloads().ListWorkloads(c.Context().get(), req, resp);
            },
            [&](const auto& resp) {
              items.insert(items.end(), resp.workloads().begin(),
                           resp.workloads().end());
            },
            "list workloads"));
      }
      return Show(ctx, items, single, kind);
    }
    case Kind::kContainer: {
      std::vector<nest::v1::Container> items;
      if (single) {
        nest::v1::GetContainerRequest req;
        req.set_name(name);
        nest::v1::GetContainerResponse resp;
        NEST_RETURN_IF_ERROR(
            FromGrpc(c.containers().GetContainer(c.Context().get(), req, &resp),
                     "get container"));
        items.push_back(resp.container());
      } else {
        NEST_RETURN_IF_ERROR(ListAll<nest::v1::ListContainersResponse>(
            [&](const std::string& token, auto* resp) {
              nest::v1::ListContainersRequest req;
              req.mutable_page()->set_page_token(token);
              return c.containers().ListContainers(c.Context().get(), req,
                                                   resp);
            },
            [&](const auto& resp) {
              items.insert(items.end(), resp.containers().begin(),
                           resp.containers().end());
            },
            "list containers"));
      }
      return Show(ctx, items, single, kind);
    }
    case Kind::kImage: {
      std::vector<nest::v1::Image> items;
      NEST_RETURN_IF_ERROR(ListAll<nest::v1::ListImagesResponse>(
          [&](const std::string& token, auto* resp) {
            nest::v1::ListImagesRequest req;
            req.mutable_page()->set_page_token(token);
            return c.images().ListImages(c.Context().get(), req, resp);
          },
          [&](const auto& resp) {
            items.insert(items.end(), resp.images().begin(),
                         resp.images().end());
          },
          "list images"));
      NEST_RETURN_IF_ERROR(Filter(&items, kind, name));
      return Show(ctx, items, single, kind);
    }
    case Kind::kEvent: {
      std::vector<nest::v1::Event> items;
      NEST_RETURN_IF_ERROR(ListEvents(ctx, name, 0, &items));
      return Show(ctx, items, false, kind);
    }
  }
  return absl::InternalError("unknown kind");
}

}  // namespace

absl::StatusOr<Kind> ParseKind(absl::string_view text) {
  std::string k = absl::AsciiStrToLower(text);
  if (k == "hosts" || k == "host") return Kind::kHost;
  if (k == "groups" || k == "group" || k == "vmgroups" || k == "vmgroup" ||
      k == "vmg") {
    return Kind::kGroup;
  }
  if (k == "vms" || k == "vm") return Kind::kVm;
  if (k == "workloads" || k == "workload" || k == "wl") return Kind::kWorkload;
  if (k == "containers" || k == "container" || k == "ct") {
    return Kind::kContainer;
  }
  if (k == "images" || k == "image" || k == "img") return Kind::kImage;
  if (k == "events" || k == "event" || k == "ev") return Kind::kEvent;
  return absl::InvalidArgumentError(absl::StrCat(
      "unknown kind \"", text,
      "\" (expected hosts, groups, vms, workloads, containers, images or "
      "events)"));
}

absl::Status Get(const Context& ctx, Kind kind, const std::string& name,
                 bool watch) {
  NEST_RETURN_IF_ERROR(GetOnce(ctx, kind, name));
  if (!watch) return absl::OkStatus();
  // Level-triggered: any event re-reads the whole list, so a missed or
  // unrelated event costs one extra list and never a stale screen.
  nest::v1::WatchEventsRequest req;
  auto watch_ctx = ctx.client->Context(/*streaming=*/true);
  auto reader = ctx.client->events().Watch(watch_ctx.get(), req);
  nest::v1::Event event;
  while (reader->Read(&event)) {
    if (ctx.tty) {
      *ctx.out << "\033[H\033[2J";
    } else {
      *ctx.out << "\n";
    }
    NEST_RETURN_IF_ERROR(GetOnce(ctx, kind, name));
    ctx.out->flush();
  }
  return FromGrpc(reader->Finish(), "watch events");
}

absl::Status Describe(const Context& ctx, Kind kind, const std::string& name) {
  if (kind == Kind::kEvent) {
    return absl::InvalidArgumentError(
        "describe needs an object kind (events are listed with `nestctl "
        "events`)");
  }
  Context doc_ctx = ctx;
  if (doc_ctx.format != Format::kJson) doc_ctx.format = Format::kYaml;
  NEST_RETURN_IF_ERROR(GetOnce(doc_ctx, kind, name));
  std::vector<nest::v1::Event> events;
  NEST_RETURN_IF_ERROR(ListEvents(ctx, name, 0, &events));
  std::erase_if(events, [&](const nest::v1::Event& e) {
    return !absl::EqualsIgnoreCase(e.kind(), KindName(kind)) &&
           !absl::EqualsIgnoreCase(e.kind(), Singular(kind));
  });
  if (events.size() > kDescribeEvents) {
    events.erase(events.begin(), events.end() - kDescribeEvents);
  }
  if (ctx.format == Format::kJson) return absl::OkStatus();
  *ctx.out << "\nEvents:\n";
  if (events.empty()) {
    *ctx.out << "  <none>\n";
  } else {
    std::string table = RenderTable(events, false);
    for (absl::string_view line : absl::StrSplit(table, '\n')) {
      if (!line.empty()) *ctx.out << "  " << line << "\n";
    }
  }
  return absl::OkStatus();
}

absl::Status Delete(const Context& ctx, Kind kind, const std::string& name) {
  Client& c = *ctx.client;
  grpc::Status s;
  switch (kind) {
    case Kind::kHost: {
      nest::v1::DeleteHostRequest req;
      req.set_name(name);
      nest::v1::DeleteHostResponse resp;
      s = c.hosts().DeleteHost(c.Context().get(), req, &resp);
      break;
    }
    case Kind::kGroup: {
      nest::v1::DeleteVmGroupRequest req;
      req.set_name(name);
      nest::v1::DeleteVmGroupResponse resp;
      s = c.groups().DeleteVmGroup(c.Context().get(), req, &resp);
      break;
    }
    case Kind::kVm: {
      nest::v1::DeleteVmRequest req;
      req.set_name(name);
      nest::v1::DeleteVmResponse resp;
      s = c.vms().DeleteVm(c.Context().get(), req, &resp);
      break;
    }
    case Kind::kWorkload: {
      nest::v1::DeleteWorkloadRequest req;
      req.set_name(name);
      nest::v1::DeleteWorkloadResponse resp;
      s = c.workloads().DeleteWorkload(c.Context().get(), req, &resp);
      break;
    }
    case Kind::kImage: {
      nest::v1::DeleteImageRequest req;
      req.set_name(name);
      nest::v1::DeleteImageResponse resp;
      s = c.images().DeleteImage(c.Context().get(), req, &resp);
      break;
    }
    case Kind::kContainer:
      return absl::InvalidArgumentError(
          "containers belong to their workload: scale or delete the workload "
          "instead");
    case Kind::kEvent:
      return absl::InvalidArgumentError("events cannot be deleted");
  }
  NEST_RETURN_IF_ERROR(
      FromGrpc(s, absl::StrCat("delete ", Singular(kind), " ", name)));
  *ctx.out << Singular(kind) << " \"" << name << "\" deleted\n";
  return absl::OkStatus();
}

absl::Status Scale(const Context& ctx, Kind kind, const std::string& name,
                   int count) {
  if (count < 0) {
    return absl::InvalidArgumentError(
        absl::StrCat("the count must be 0 or more, got ", count));
  }
  Client& c = *ctx.client;
  if (kind == Kind::kWorkload) {
    nest::v1::ScaleWorkloadRequest req;
    req.set_name(name);
    req.set_replicas(count);
    nest::v1::ScaleWorkloadResponse resp;
    NEST_RETURN_IF_ERROR(
        FromGrpc(c.workloads().ScaleWorkload(c.Context().get(), req, &resp),
                 absl::StrCat("scale workload ", name)));
    *ctx.out << "workload \"" << name << "\" scaled to " << count
             << (count == 1 ? " replica\n" : " replicas\n");
    return absl::OkStatus();
  }
  if (kind == Kind::kGroup) {
    nest::v1::ScaleVmGroupRequest req;
    req.set_name(name);
    req.set_desired_vms(count);
    nest::v1::ScaleVmGroupResponse resp;
    NEST_RETURN_IF_ERROR(
        FromGrpc(c.groups().ScaleVmGroup(c.Context().get(), req, &resp),
                 absl::StrCat("scale group ", name)));
    *ctx.out << "group \"" << name << "\" scaled to " << count
             << (count == 1 ? " VM\n" : " VMs\n");
    return absl::OkStatus();
  }
  return absl::InvalidArgumentError(
      "scale works on workloads (replicas) and groups (VMs)");
}

absl::Status Events(const Context& ctx, bool follow, int64_t after) {
  std::vector<nest::v1::Event> events;
  NEST_RETURN_IF_ERROR(ListEvents(ctx, "", after, &events));
  bool docs = ctx.format == Format::kJson || ctx.format == Format::kYaml;
  if (!follow) return Show(ctx, events, false, Kind::kEvent);
  bool first = true;
  auto print = [&](const nest::v1::Event& e) {
    if (ctx.format == Format::kJson) {
      *ctx.out << ToDocument(e).dump() << "\n";  // one JSON object per line
    } else if (docs) {
      if (!first) *ctx.out << "---\n";
      *ctx.out << JsonToYaml(ToDocument(e));
    } else {
      *ctx.out << EventLine(e) << "\n";
    }
    first = false;
    ctx.out->flush();
  };
  int64_t last = after;
  for (const auto& e : events) {
    print(e);
    last = std::max(last, e.seq());
  }
  nest::v1::WatchEventsRequest req;
  req.set_after_seq(last);
  // Nothing seen yet: replaying from the oldest closes the gap between the
  // list above and the watch below.
  req.set_from_oldest(last == 0);
  auto watch_ctx = ctx.client->Context(/*streaming=*/true);
  auto reader = ctx.client->events().Watch(watch_ctx.get(), req);
  nest::v1::Event e;
  while (reader->Read(&e)) {
    if (e.seq() <= last) continue;
    last = e.seq();
    print(e);
  }
  return FromGrpc(reader->Finish(), "watch events");
}

namespace {

// Rows as a table, or as JSON/YAML documents; a note on stderr when empty.
template <typename T>
void PrintUsage(const Context& ctx, std::vector<T> rows, const char* empty) {
  if (ctx.format == Format::kJson || ctx.format == Format::kYaml) {
    std::vector<Json> docs;
    for (const auto& r : rows) docs.push_back(MessageToJson(r));
    *ctx.out << RenderDocuments(docs, ctx.format, false);
    return;
  }
  if (rows.empty()) {
    *ctx.err << empty << "\n";
    return;
  }
  *ctx.out << RenderTable(rows, ctx.format == Format::kWide);
}

}  // namespace

absl::Status Top(const Context& ctx, const std::string& what) {
  if (what != "hosts" && what != "vms" && what != "containers") {
    return absl::InvalidArgumentError(
        absl::StrCat("top: want hosts, vms or containers, got \"", what, "\""));
  }
  nest::v1::GetUsageRequest req;
  nest::v1::GetUsageResponse resp;
  NEST_RETURN_IF_ERROR(FromGrpc(
      ctx.client->usage().GetUsage(ctx.client->Context().get(), req, &resp),
      "usage"));
  if (!resp.has_sampled_at()) {
    *ctx.err << "No usage sampled yet; nestd samples every --usage-interval "
                "seconds.\n";
    return absl::OkStatus();
  }
  if (what == "hosts") {
    PrintUsage(ctx, std::vector(resp.hosts().begin(), resp.hosts().end()),
               "No hosts.");
  } else if (what == "vms") {
    PrintUsage(ctx, std::vector(resp.vms().begin(), resp.vms().end()),
               "No running VMs.");
  } else {
    PrintUsage(ctx,
               std::vector(resp.containers().begin(), resp.containers().end()),
               "No running containers.");
  }
  return absl::OkStatus();
}

}  // namespace nest::cli

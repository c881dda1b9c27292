#include "api/dashboard_json.h"

#include <nlohmann/json.hpp>

namespace nest::api::dashboard {
namespace {

using nlohmann::json;

json Time(absl::Time t) {
  if (t == absl::InfinitePast() || t == absl::InfiniteFuture()) return nullptr;
  return absl::ToUnixMillis(t) / 1000.0;
}

json Res(const Resources& r) {
  return json::array({r.milli_cpu(), r.memory_mib(), r.disk_mib()});
}

// Every page of a list: the views are few enough (a 200-host cluster has
// thousands, not millions) to send whole, and the packing view needs all.
template <typename View, typename Fn>
absl::StatusOr<std::vector<View>> All(Fn list) {
  std::vector<View> out;
  control::ListOptions page;
  page.page_size = control::kMaxPageSize;
  do {
    absl::StatusOr<store::Page<View>> p = list(page);
    if (!p.ok()) return p.status();
    for (auto& v : p->items) out.push_back(std::move(v));
    page.page_token = p->next_page_token;
  } while (!page.page_token.empty());
  return out;
}

json HostJson(const control::HostView& v) {
  return {{"name", v.host.name.str()},
          {"state", std::string(store::Name(v.host.state))},
          {"cap", Res(v.host.capacity)},
          {"alloc", Res(v.allocated)},
          {"vms", v.vm_count},
          {"heartbeat", Time(v.host.last_heartbeat)}};
}

json GroupViewJson(const control::GroupView& v) {
  const store::VmGroup& g = v.group;
  return {{"name", g.name.str()},
          {"tenant", g.tenant.str()},
          {"shape", json::array({g.vcpus * 1000, g.memory_mib, g.disk_mib})},
          {"min", g.min_size},
          {"max", g.max_size},
          {"desired", g.desired_size},
          {"vms", v.vms},
          {"running", v.vms_running},
          {"pending", v.vms_pending},
          {"containers", v.containers},
          {"message", v.message},
          {"created", Time(g.meta.created_at)}};
}

json VmJson(const control::VmView& v) {
  return {{"id", v.vm.id.str()},
          {"tenant", v.vm.tenant.str()},
          {"group", v.vm.group.str()},
          {"host", v.vm.host.str()},
          {"state", std::string(store::Name(v.vm.observed))},
          {"desired", std::string(store::Name(v.vm.desired))},
          {"shape", json::array({v.vcpus * 1000, v.memory_mib, 0})},
          {"containers", v.containers},
          {"ip", v.vm.ip},
          {"message", v.vm.message},
          {"created", Time(v.vm.meta.created_at)}};
}

json WorkloadViewJson(const control::WorkloadView& v) {
  const store::Workload& w = v.workload;
  return {{"name", w.name.str()},
          {"tenant", w.tenant.str()},
          {"group", w.target_group.str()},
          {"image", w.image},
          {"req", Res(w.requests)},
          {"replicas", w.replicas},
          {"running", v.running},
          {"pending", v.pending},
          {"ready", v.ready},
          {"failed", v.failed},
          {"message", v.message},
          {"created", Time(w.meta.created_at)}};
}

json ContainerJson(const control::ContainerView& v) {
  const store::Container& c = v.container;
  json out = {{"id", c.id.str()},
              {"tenant", c.tenant.str()},
              {"workload", c.workload.str()},
              {"vm", c.vm.str()},
              {"host", v.host.str()},
              {"state", std::string(store::Name(c.observed))},
              {"desired", std::string(store::Name(c.desired))},
              {"restarts", c.restarts},
              {"message", c.message},
              {"created", Time(c.meta.created_at)},
              {"started", Time(c.started_at)}};
  if (c.exit_code) out["exit_code"] = *c.exit_code;
  return out;
}

json EventValue(const store::Event& e) {
  return {
      {"seq", e.seq},        {"time", Time(e.time)},     {"kind", e.kind},
      {"name", e.name},      {"tenant", e.tenant.str()}, {"reason", e.reason},
      {"message", e.message}};
}

absl::StatusOr<json> Events(control::Commands& c, const std::string& kind,
                            const std::string& name) {
  // The newest 50: the oldest retained seq, then forward.
  control::EventFilter f;
  f.kind = kind;
  f.name = name;
  f.limit = 1000;
  auto oldest = c.OldestEventSeq();
  if (!oldest.ok()) return oldest.status();
  f.after_seq = *oldest - 1;
  json out = json::array();
  std::vector<store::Event> all;
  while (true) {
    auto batch = c.ListEvents(f);
    if (!batch.ok()) return batch.status();
    for (auto& e : *batch) all.push_back(std::move(e));
    if (batch->size() < static_cast<size_t>(f.limit)) break;
    f.after_seq = all.back().seq;
  }
  size_t from = all.size() > 50 ? all.size() - 50 : 0;
  for (size_t i = from; i < all.size(); ++i) out.push_back(EventValue(all[i]));
  return out;
}

}  // namespace

absl::StatusOr<std::string> ClusterJson(std::vector<control::Commands>& scopes,
                                        control::Commands* hosts, int64_t seq) {
  json out;
  out["seq"] = seq;
  out["operator"] = hosts != nullptr;
  json& host_list = out["hosts"] = json::array();
  if (hosts != nullptr) {
    NEST_ASSIGN_OR_RETURN(auto hs, All<control::HostView>([&](auto& p) {
                            return hosts->ListHosts(p);
                          }));
    for (const auto& h : hs) host_list.push_back(HostJson(h));
  }
  json& groups = out["groups"] = json::array();
  json& vm_list = out["vms"] = json::array();
  json& workloads = out["workloads"] = json::array();
  json& containers = out["containers"] = json::array();
  for (control::Commands& c : scopes) {
    NEST_ASSIGN_OR_RETURN(auto gs, All<control::GroupView>([&](auto& p) {
                            return c.ListGroups(p);
                          }));
    for (const auto& g : gs) groups.push_back(GroupViewJson(g));
    NEST_ASSIGN_OR_RETURN(auto vms, All<control::VmView>([&](auto& p) {
                            return c.ListVms(p, "", "");
                          }));
    for (const auto& v : vms) vm_list.push_back(VmJson(v));
    NEST_ASSIGN_OR_RETURN(auto ws, All<control::WorkloadView>([&](auto& p) {
                            return c.ListWorkloads(p);
                          }));
    for (const auto& w : ws) workloads.push_back(WorkloadViewJson(w));
    NEST_ASSIGN_OR_RETURN(auto cs, All<control::ContainerView>([&](auto& p) {
                            return c.ListContainers(p, "", "");
                          }));
    for (const auto& x : cs) containers.push_back(ContainerJson(x));
  }
  return out.dump();
}

absl::StatusOr<std::string> WorkloadJson(control::Commands& c,
                                         const std::string& name,
                                         absl::Time now) {
  NEST_ASSIGN_OR_RETURN(control::WorkloadView w, c.GetWorkload(name));
  json out;
  out["now"] = Time(now);
  out["workload"] = WorkloadViewJson(w);
  NEST_ASSIGN_OR_RETURN(auto cs, All<control::ContainerView>([&](auto& p) {
                          return c.ListContainers(p, name, "");
                        }));
  json& replicas = out["replicas"] = json::array();
  for (const auto& x : cs) replicas.push_back(ContainerJson(x));
  NEST_ASSIGN_OR_RETURN(out["events"], Events(c, "workload", name));
  out["explain"] = nullptr;
  if (w.pending > 0) {
    NEST_ASSIGN_OR_RETURN(control::ExplainView e, c.Explain(name));
    json reasons = json::array();
    for (const auto& r : e.reasons) {
      reasons.push_back(
          {{"reason", r.reason}, {"count", r.count}, {"unit", r.unit}});
    }
    out["explain"] = {{"pending", e.pending},
                      {"reasons", reasons},
                      {"suggestion", e.suggestion}};
  }
  return out.dump();
}

absl::StatusOr<std::string> GroupJson(control::Commands& c,
                                      const std::string& name,
                                      const std::vector<GroupSample>& history,
                                      absl::Time now) {
  NEST_ASSIGN_OR_RETURN(control::GroupView g, c.GetGroup(name));
  json out;
  out["now"] = Time(now);
  out["group"] = GroupViewJson(g);
  NEST_ASSIGN_OR_RETURN(auto vms, All<control::VmView>([&](auto& p) {
                          return c.ListVms(p, name, "");
                        }));
  json& vm_list = out["vms"] = json::array();
  for (const auto& v : vms) vm_list.push_back(VmJson(v));
  NEST_ASSIGN_OR_RETURN(out["events"], Events(c, "group", name));
  json& points = out["history"] = json::array();
  for (const GroupSample& s : history) {
    points.push_back({{"t", Time(s.time)},
                      {"vms", s.vms},
                      {"running", s.vms_running},
                      {"desired", s.desired},
                      {"pending", s.pending_containers}});
  }
  return out.dump();
}

std::string EventJson(const store::Event& e) { return EventValue(e).dump(); }

std::string WithNow(const std::string& doc, absl::Time now) {
  std::string out = "{\"now\":" + Time(now).dump();
  if (doc.size() > 2) out += ",";
  out.append(doc, 1);
  return out;
}

}  // namespace nest::api::dashboard

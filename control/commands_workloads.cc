// Commands for workloads, declarative Apply and images.
#include <set>
#include <utility>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "control/commands.h"
#include "core/validate.h"

namespace nest::control {

using namespace commands_internal;  // NOLINT: shared helpers

namespace {

absl::Status Stale(absl::string_view kind, absl::string_view name,
                   int64_t current, int64_t expected) {
  return absl::FailedPreconditionError(
      absl::StrCat(kind, " \"", name, "\" is at generation ", current,
                   ", but the request expected generation ", expected,
                   "; read it again and retry"));
}

// Whether `before` and `after` differ at most in what does not change a
// replica: how many there are and how a rollout proceeds.
bool SameReplicaSpec(const store::Workload& before,
                     const store::Workload& after) {
  store::Workload b = before;
  b.replicas = after.replicas;
  b.max_unavailable = after.max_unavailable;
  b.max_surge = after.max_surge;
  b.meta = after.meta;
  return b == after;
}

// After `before` became `after` (one generation later) in this
// transaction: when the change leaves replicas as they are, the replicas
// that ran `before` run `after` too, and are stamped with its generation.
// Without this a scale would look like a rollout that never finishes
// (observed_generation would stay behind).
absl::Status CarryReplicas(store::WriteTx& tx, const store::Workload& before,
                           const store::Workload& after) {
  if (!SameReplicaSpec(before, after)) return absl::OkStatus();
  store::ListQuery q;
  q.tenant = after.tenant;
  q.workload = after.name;
  NEST_ASSIGN_OR_RETURN(auto cs, tx.ListContainers(q));
  for (store::Container& c : cs.items) {
    if (c.desired == store::ContainerDesiredState::kDeleted ||
        c.spec_generation != before.meta.generation) {
      continue;
    }
    c.spec_generation = after.meta.generation;
    NEST_RETURN_IF_ERROR(
        tx.UpdateContainer(
              c, 0,
              {"SpecUnchanged",
               absl::StrCat("workload generation ", after.meta.generation,
                            " changes only replicas; runs it as it is")})
            .status());
  }
  return absl::OkStatus();
}

}  // namespace

// Published host ports are one namespace on the host where nestd runs:
// a (protocol, host port) is held by one workload of any tenant. `claimed`
// carries the claims of earlier workloads of the same request.
using PortClaims = std::map<std::pair<std::string, int64_t>, std::string>;
static absl::Status CheckHostPorts(store::ReadTx& tx, const store::Workload& w,
                                   PortClaims& claimed,
                                   const std::string& prefix,
                                   FieldErrors& errors) {
  bool any = false;
  for (const auto& p : w.ports) any = any || p.host_port > 0;
  if (!any) return absl::OkStatus();
  const std::string self = absl::StrCat(w.tenant.str(), "/", w.name.str());
  PortClaims stored;
  NEST_ASSIGN_OR_RETURN(auto all, tx.ListWorkloads({}));
  for (const auto& o : all.items) {
    const std::string who = absl::StrCat(o.tenant.str(), "/", o.name.str());
    if (who == self) continue;
    for (const auto& p : o.ports) {
      if (p.host_port > 0) stored[{p.protocol, p.host_port}] = who;
    }
  }
  for (size_t i = 0; i < w.ports.size(); ++i) {
    const auto& p = w.ports[i];
    if (p.host_port <= 0) continue;
    const std::pair<std::string, int64_t> key{p.protocol, p.host_port};
    const std::string field =
        absl::StrCat(prefix, "spec.ports[", i, "].host_port");
    std::string holder;
    if (auto it = stored.find(key); it != stored.end()) {
      holder = it->second;
    } else if (auto c = claimed.find(key);
               c != claimed.end() && c->second != self) {
      holder = c->second;
    }
    if (!holder.empty()) {
      // Tenants do not see each other's names: say only that it is taken.
      const std::string mine = w.tenant.str() + "/";
      const std::string by =
          holder.rfind(mine, 0) == 0
              ? absl::StrCat("workload ", holder.substr(mine.size()))
              : std::string("another tenant");
      errors.Add(field, absl::StrCat(p.protocol, " host port ", p.host_port,
                                     " is already published by ", by,
                                     "; choose another host port"));
      continue;
    }
    claimed[key] = self;
  }
  return absl::OkStatus();
}

// References a workload makes to other objects: its group (which must
// exist and not be deleting, or be created by the same Apply) and its image
// (imported into the store, or known to the image source).
static void CheckWorkloadRefs(store::ReadTx& tx, ImageSource& images,
                              const store::Workload& w,
                              const std::set<std::string>& groups_in_request,
                              const std::string& prefix, FieldErrors& errors) {
  if (!w.target_group.empty() &&
      !groups_in_request.count(w.target_group.str())) {
    auto g = tx.GetGroup(w.tenant, w.target_group);
    if (!g.ok()) {
      errors.Add(prefix + "spec.group",
                 absl::StrCat("VM group \"", w.target_group.str(),
                              "\" does not exist; create it first"));
    } else if (g->max_size == 0) {
      errors.Add(prefix + "spec.group",
                 absl::StrCat("VM group \"", w.target_group.str(),
                              "\" is being deleted"));
    }
  }
  if (!w.image.empty()) {
    auto row = tx.GetImage(w.tenant, ImageId(w.image));
    if (!row.ok() && !images.Get(w.tenant, w.image).ok()) {
      errors.Add(prefix + "spec.image",
                 absl::StrCat("image \"", w.image,
                              "\" is not imported (nestctl image import)"));
    }
  }
}

absl::StatusOr<Written> Commands::CreateWorkload(
    const WriteMeta& m, const std::string& name, const WorkloadSpecInput& spec,
    const Encoder<WorkloadView>& enc) {
  FieldErrors errors;
  store::Workload w = BuildWorkload(tenant_, name, spec, "", errors);
  NEST_RETURN_IF_ERROR(errors.ToStatus());
  NEST_RETURN_IF_ERROR(RejectSecretPlaceholders(w, ""));
  return Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
    FieldErrors refs;
    CheckWorkloadRefs(tx, images_, w, {}, "", refs);
    PortClaims claims;
    NEST_RETURN_IF_ERROR(CheckHostPorts(tx, w, claims, "", refs));
    NEST_RETURN_IF_ERROR(refs.ToStatus());
    NEST_ASSIGN_OR_RETURN(store::Workload created, tx.CreateWorkload(w));
    NEST_ASSIGN_OR_RETURN(WorkloadView v, ViewWorkload(tx, created));
    return enc(v);
  });
}

absl::StatusOr<Written> Commands::UpdateWorkload(
    const WriteMeta& m, const std::string& name, const WorkloadSpecInput& spec,
    const Encoder<WorkloadView>& enc) {
  FieldErrors errors;
  store::Workload w = BuildWorkload(tenant_, name, spec, "", errors);
  NEST_RETURN_IF_ERROR(errors.ToStatus());
  return Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
    NEST_ASSIGN_OR_RETURN(store::Workload cur,
                          tx.GetWorkload(tenant_, WorkloadId(name)));
    store::Workload next = cur;
    CopyWorkloadSpec(w, next);
    NEST_ASSIGN_OR_RETURN(
        store::Workload updated,
        ReplaceWorkload(tx, cur, next, m.expected_generation, {}));
    NEST_ASSIGN_OR_RETURN(WorkloadView v, ViewWorkload(tx, updated));
    return enc(v);
  });
}

absl::StatusOr<store::Workload> Commands::ReplaceWorkload(
    store::WriteTx& tx, const store::Workload& cur, const store::Workload& next,
    int64_t expected_generation, const store::EventNote& note) {
  FieldErrors refs;
  CheckWorkloadRefs(tx, images_, next, {}, "", refs);
  PortClaims claims;
  NEST_RETURN_IF_ERROR(CheckHostPorts(tx, next, claims, "", refs));
  NEST_RETURN_IF_ERROR(refs.ToStatus());
  // A "<secret>" left after copying had no stored value to keep.
  NEST_RETURN_IF_ERROR(RejectSecretPlaceholders(next, ""));
  if (next == cur) {
    if (expected_generation != 0 &&
        expected_generation != cur.meta.generation) {
      return Stale("workload", cur.name.str(), cur.meta.generation,
                   expected_generation);
    }
    return cur;
  }
  NEST_ASSIGN_OR_RETURN(store::Workload updated,
                        tx.UpdateWorkload(next, expected_generation, note));
  NEST_RETURN_IF_ERROR(CarryReplicas(tx, cur, updated));
  return updated;
}

absl::StatusOr<WorkloadView> Commands::GetWorkload(const std::string& name) {
  WorkloadView out;
  NEST_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> absl::Status {
    NEST_ASSIGN_OR_RETURN(store::Workload w,
                          tx.GetWorkload(tenant_, WorkloadId(name)));
    NEST_ASSIGN_OR_RETURN(out, ViewWorkload(tx, w));
    return absl::OkStatus();
  }));
  return out;
}

absl::StatusOr<store::Page<WorkloadView>> Commands::ListWorkloads(
    const ListOptions& page) {
  return ListPage<WorkloadView>(
      page, [this](store::ListQuery& q) { q.tenant = tenant_; },
      [](store::ReadTx& tx, const store::ListQuery& q) {
        return tx.ListWorkloads(q);
      },
      ViewWorkload);
}

absl::StatusOr<Written> Commands::DeleteWorkload(const WriteMeta& m,
                                                 const std::string& name) {
  return Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
    NEST_ASSIGN_OR_RETURN(store::Workload w,
                          tx.GetWorkload(tenant_, WorkloadId(name)));
    if (m.expected_generation != 0 &&
        m.expected_generation != w.meta.generation) {
      return Stale("workload", name, w.meta.generation, m.expected_generation);
    }
    store::ListQuery q;
    q.tenant = tenant_;
    q.workload = w.name;
    NEST_ASSIGN_OR_RETURN(auto cs, tx.ListContainers(q));
    for (const auto& c : cs.items) {
      NEST_RETURN_IF_ERROR(tx.DeleteContainer(
          c.id, 0,
          {"Deleted", absl::StrCat("workload \"", name, "\" deleted")}));
    }
    NEST_RETURN_IF_ERROR(tx.DeleteWorkload(tenant_, w.name, 0));
    return std::string();
  });
}

absl::StatusOr<Written> Commands::ScaleWorkload(
    const WriteMeta& m, const std::string& name, int64_t replicas,
    const Encoder<WorkloadView>& enc) {
  if (replicas < 0 || replicas > 10000) {
    FieldErrors errors;
    errors.Add("replicas",
               absl::StrCat("must be between 0 and 10000, got ", replicas));
    return errors.ToStatus();
  }
  return Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
    NEST_ASSIGN_OR_RETURN(store::Workload w,
                          tx.GetWorkload(tenant_, WorkloadId(name)));
    if (w.replicas != replicas) {
      store::Workload before = w;
      w.replicas = replicas;
      NEST_ASSIGN_OR_RETURN(
          w, tx.UpdateWorkload(
                 w, m.expected_generation,
                 {"Scaled", absl::StrCat("replicas ", before.replicas, " -> ",
                                         replicas)}));
      NEST_RETURN_IF_ERROR(CarryReplicas(tx, before, w));
    } else if (m.expected_generation != 0 &&
               m.expected_generation != w.meta.generation) {
      return Stale("workload", name, w.meta.generation, m.expected_generation);
    }
    NEST_ASSIGN_OR_RETURN(WorkloadView v, ViewWorkload(tx, w));
    return enc(v);
  });
}

// ---- Apply
// -------------------------------------------------------------------

absl::StatusOr<Written> Commands::Apply(
    const WriteMeta& m, const std::vector<ApplyItem>& items, bool dry_run,
    const Encoder<std::vector<ApplyChange>>& enc) {
  FieldErrors errors;
  if (items.empty()) errors.Add("objects", "must name at least one object");
  std::vector<store::VmGroup> groups(items.size());
  std::vector<store::Workload> workloads(items.size());
  std::set<std::string> seen_groups, seen_workloads;
  for (size_t i = 0; i < items.size(); ++i) {
    const ApplyItem& it = items[i];
    bool group = it.kind == ApplyItem::Kind::kGroup;
    std::string prefix =
        absl::StrCat("objects[", i, "].", group ? "group." : "workload.");
    auto& seen = group ? seen_groups : seen_workloads;
    if (!seen.insert(it.name).second) {
      errors.Add(
          prefix + "name",
          absl::StrCat("\"", it.name, "\" appears twice in this request"));
    }
    if (group) {
      NEST_ASSIGN_OR_RETURN(
          groups[i], BuildGroup(tenant_, it.name, it.group, prefix, errors));
    } else {
      workloads[i] =
          BuildWorkload(tenant_, it.name, it.workload, prefix, errors);
    }
  }
  NEST_RETURN_IF_ERROR(errors.ToStatus());

  // Groups first, so workloads of this request can target them.
  std::vector<size_t> order;
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].kind == ApplyItem::Kind::kGroup) order.push_back(i);
  }
  for (size_t i = 0; i < items.size(); ++i) {
    if (items[i].kind == ApplyItem::Kind::kWorkload) order.push_back(i);
  }

  // The transaction computes the changes; a dry run rolls it back.
  // (CANCELLED is only a rollback signal; `dry_done` says it was ours.)
  bool dry_done = false;
  std::string dry_response;
  auto run = [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
    FieldErrors refs;
    PortClaims claims;
    for (size_t i : order) {
      if (items[i].kind != ApplyItem::Kind::kWorkload) continue;
      const std::string prefix = absl::StrCat("objects[", i, "].workload.");
      CheckWorkloadRefs(tx, images_, workloads[i], seen_groups, prefix, refs);
      NEST_RETURN_IF_ERROR(
          CheckHostPorts(tx, workloads[i], claims, prefix, refs));
    }
    NEST_RETURN_IF_ERROR(refs.ToStatus());
    std::vector<ApplyChange> changes(items.size());
    for (size_t i : order) {
      ApplyChange& ch = changes[i];
      ch.kind = items[i].kind;
      ch.name = items[i].name;
      if (items[i].kind == ApplyItem::Kind::kGroup) {
        auto cur = tx.GetGroup(tenant_, GroupId(ch.name));
        if (!cur.ok() && !absl::IsNotFound(cur.status())) return cur.status();
        if (!cur.ok()) {
          ch.action = ApplyAction::kCreate;
          NEST_RETURN_IF_ERROR(RejectSecretPlaceholders(
              workloads[i], absl::StrCat("objects[", i, "].workload.")));
          if (!dry_run) {
            NEST_ASSIGN_OR_RETURN(auto g,
                                  tx.CreateGroup(groups[i], {"Applied", ""}));
            ch.generation = g.meta.generation;
          }
          continue;
        }
        if (cur->max_size == 0) {
          return absl::FailedPreconditionError(
              absl::StrCat("VM group \"", ch.name,
                           "\" is being deleted; apply it again "
                           "once it is gone"));
        }
        store::VmGroup next = *cur;
        CopyGroupSpec(groups[i], next);
        ch.generation = cur->meta.generation;
        if (next == *cur) {
          ch.action = ApplyAction::kUnchanged;
          continue;
        }
        ch.action = ApplyAction::kUpdate;
        ch.diff = DiffGroups(*cur, next);
        if (!dry_run) {
          NEST_ASSIGN_OR_RETURN(auto g,
                                tx.UpdateGroup(next, 0, {"Applied", ""}));
          ch.generation = g.meta.generation;
        }
      } else {
        auto cur = tx.GetWorkload(tenant_, WorkloadId(ch.name));
        if (!cur.ok() && !absl::IsNotFound(cur.status())) return cur.status();
        if (!cur.ok()) {
          ch.action = ApplyAction::kCreate;
          NEST_RETURN_IF_ERROR(RejectSecretPlaceholders(
              workloads[i], absl::StrCat("objects[", i, "].workload.")));
          if (!dry_run) {
            NEST_ASSIGN_OR_RETURN(
                auto w, tx.CreateWorkload(workloads[i], {"Applied", ""}));
            ch.generation = w.meta.generation;
          }
          continue;
        }
        store::Workload next = *cur;
        CopyWorkloadSpec(workloads[i], next);
        NEST_RETURN_IF_ERROR(RejectSecretPlaceholders(
            next, absl::StrCat("objects[", i, "].workload.")));
        ch.generation = cur->meta.generation;
        if (next == *cur) {
          ch.action = ApplyAction::kUnchanged;
          continue;
        }
        ch.action = ApplyAction::kUpdate;
        ch.diff = DiffWorkloads(*cur, next);
        if (!dry_run) {
          NEST_ASSIGN_OR_RETURN(auto w,
                                tx.UpdateWorkload(next, 0, {"Applied", ""}));
          NEST_RETURN_IF_ERROR(CarryReplicas(tx, *cur, w));
          ch.generation = w.meta.generation;
        }
      }
    }
    if (dry_run) {
      dry_response = enc(changes);
      dry_done = true;
      return absl::CancelledError("dry run: roll back");
    }
    return enc(changes);
  };
  if (dry_run) {
    // Nothing is written, so nothing is recorded for idempotency either: a
    // dry run is safe to repeat as it is.
    absl::Status st = store_.Write(
        [&](store::WriteTx& tx) -> absl::Status { return run(tx).status(); });
    if (dry_done) return Written{dry_response, false};
    NEST_RETURN_IF_ERROR(st);
    return absl::InternalError("dry run did not finish");
  }
  return Mutate(m, run);
}

// ---- Images
// ------------------------------------------------------------------

absl::StatusOr<Written> Commands::ImportImage(const WriteMeta& m,
                                              const std::string& name,
                                              const std::string& source,
                                              const Encoder<ImageView>& enc) {
  FieldErrors errors;
  if (name.empty() || name.size() > 255) {
    errors.Add("name", "must be 1-255 characters, such as \"busybox:1.36\"");
  }
  for (char c : name) {
    if (static_cast<unsigned char>(c) <= ' ' || c == 0x7f || c == '/') {
      errors.Add("name", absl::StrCat("must not contain whitespace, control "
                                      "characters or '/', got ",
                                      QuoteForMessage(name)));
      break;
    }
  }
  if (source.empty()) {
    errors.Add("source",
               "is required: a path on the nestd machine to an OCI "
               "layout directory or an image archive");
  } else if (source.find('\0') != std::string::npos) {
    errors.Add("source", "must not contain NUL characters");
  }
  NEST_RETURN_IF_ERROR(errors.ToStatus());
  // The import is slow, so it runs before the write transaction, never
  // inside it. It is skipped when the name is taken: importing would repoint
  // the name in the image source; the transaction then answers
  // ALREADY_EXISTS, or replays the stored response of the same request.
  bool exists = false;
  NEST_RETURN_IF_ERROR(store_.Read([&](store::ReadTx& tx) -> absl::Status {
    auto img = tx.GetImage(tenant_, ImageId(name));
    exists = img.ok();
    return img.ok() || absl::IsNotFound(img.status()) ? absl::OkStatus()
                                                      : img.status();
  }));
  ImportedImage im;
  if (!exists) {
    NEST_ASSIGN_OR_RETURN(im, images_.Import(tenant_, name, source));
  }
  return Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
    auto existing = tx.GetImage(tenant_, ImageId(name));
    if (existing.ok() || exists) {
      return absl::AlreadyExistsError(absl::StrCat(
          "image \"", name, "\" already exists",
          existing.ok() ? absl::StrCat(" (digest ", existing->digest, ")") : "",
          "; delete it first to import it again"));
    }
    store::Image img;
    img.tenant = tenant_;
    img.name = ImageId(name);
    img.digest = im.digest;
    img.size_bytes = im.size_bytes;
    NEST_ASSIGN_OR_RETURN(store::Image created,
                          tx.CreateImage(img, {"Imported", source}));
    return enc(ImageView{created, im.layers});
  });
}

absl::StatusOr<store::Page<ImageView>> Commands::ListImages(
    const ListOptions& page) {
  return ListPage<ImageView>(
      page, [this](store::ListQuery& q) { q.tenant = tenant_; },
      [](store::ReadTx& tx, const store::ListQuery& q) {
        return tx.ListImages(q);
      },
      [](store::ReadTx&, store::Image& image) -> absl::StatusOr<ImageView> {
        return ImageView{std::move(image), 0};
      });
}

absl::StatusOr<Written> Commands::DeleteImage(const WriteMeta& m,
                                              const std::string& name) {
  NEST_ASSIGN_OR_RETURN(
      Written w,
      Mutate(m, [&](store::WriteTx& tx) -> absl::StatusOr<std::string> {
        NEST_ASSIGN_OR_RETURN(store::Image img,
                              tx.GetImage(tenant_, ImageId(name)));
        store::ListQuery q;
        q.tenant = tenant_;
        NEST_ASSIGN_OR_RETURN(auto ws, tx.ListWorkloads(q));
        std::vector<std::string> users;
        for (const auto& wl : ws.items) {
          if (wl.image == name) users.push_back(wl.name.str());
        }
        if (!users.empty()) {
          return absl::FailedPreconditionError(absl::StrCat(
              "image \"", name, "\" is used by workload",
              users.size() == 1 ? " " : "s ", absl::StrJoin(users, ", "),
              "; delete them or change their image first"));
        }
        NEST_RETURN_IF_ERROR(
            tx.DeleteImage(tenant_, img.name, m.expected_generation));
        return std::string();
      }));
  if (!w.replayed) {
    // After the commit: a failed Remove leaves blobs for the next GC, never
    // a row pointing at nothing.
    absl::Status removed = images_.Remove(tenant_, name);
    if (!removed.ok() && !absl::IsNotFound(removed) &&
        !absl::IsUnimplemented(removed)) {
      return removed;
    }
  }
  return w;
}

}  // namespace nest::control

// nestctl rollout history|undo: a workload's earlier templates, and putting
// one back. (rollout status lives with apply, whose wait it shares.)
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/documents.h"
#include "cli/errors.h"
#include "cli/proto_doc.h"
#include "cli/table.h"

namespace nest::cli {

absl::Status RolloutHistory(const Context& ctx, const std::string& workload) {
  nest::v1::ListWorkloadRevisionsRequest req;
  req.set_name(workload);
  nest::v1::ListWorkloadRevisionsResponse resp;
  NEST_RETURN_IF_ERROR(FromGrpc(ctx.client->workloads().ListWorkloadRevisions(
                                    ctx.client->Context().get(), req, &resp),
                                absl::StrCat("rollout history ", workload)));
  if (ctx.format == Format::kJson || ctx.format == Format::kYaml) {
    std::vector<Json> docs;
    for (const auto& r : resp.revisions()) {
      Json doc = Json::object();
      doc["kind"] = "WorkloadRevision";
      doc["workload"] = workload;
      Json fields = MessageToJson(r);
      for (auto it = fields.begin(); it != fields.end(); ++it) {
        doc[it.key()] = it.value();
      }
      doc["current"] = r.revision() == resp.current_revision();
      docs.push_back(std::move(doc));
    }
    *ctx.out << RenderDocuments(docs, ctx.format, false);
    return absl::OkStatus();
  }
  Table table({"REVISION", "REPLACED", "SUMMARY"});
  for (const auto& r : resp.revisions()) {
    const bool current = r.revision() == resp.current_revision();
    table.AddRow({absl::StrCat(r.revision()),
                  current ? "current" : FormatTime(r.replace_time()),
                  r.summary()});
  }
  *ctx.out << table.Render();
  if (resp.revisions_size() <= 1) {
    *ctx.err << "workload " << workload
             << " has no earlier revision yet: an update of its template "
                "(image, command, env, ...) keeps one\n";
  }
  return absl::OkStatus();
}

absl::Status RolloutUndo(const Context& ctx, const std::string& workload,
                         int64_t to_revision) {
  nest::v1::RollbackWorkloadRequest req;
  req.set_name(workload);
  req.set_to_revision(to_revision);
  nest::v1::RollbackWorkloadResponse resp;
  NEST_RETURN_IF_ERROR(FromGrpc(ctx.client->workloads().RollbackWorkload(
                                    ctx.client->Context().get(), req, &resp),
                                absl::StrCat("rollout undo ", workload)));
  if (ctx.format == Format::kJson || ctx.format == Format::kYaml) {
    *ctx.out << RenderDocuments({ToDocument(resp.workload())}, ctx.format,
                                true);
    return absl::OkStatus();
  }
  if (resp.unchanged()) {
    *ctx.out << "workload " << workload << " already runs revision "
             << resp.rolled_back_to() << "; nothing changed\n";
    return absl::OkStatus();
  }
  *ctx.out << "workload " << workload << " rolled back to revision "
           << resp.rolled_back_to() << "\n";
  *ctx.err << "follow it with: nestctl rollout status " << workload << "\n";
  return absl::OkStatus();
}

}  // namespace nest::cli

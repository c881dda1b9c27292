// logs, exec, explain, host and image administration, shell completion.
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "cli/commands.h"
#include "cli/errors.h"
#include "cli/table.h"
#include "core/validate.h"

namespace nest::cli {
namespace {

constexpr int kExecTimeoutS = 300;

absl::string_view kCommands =
    "apply get describe delete scale logs console exec events explain "
    "rollout top "
    "token host "
    "cordon uncordon drain image completion";
absl::string_view kKinds =
    "hosts groups vms workloads containers images events";

}  // namespace

absl::Status Logs(const Context& ctx, const std::string& container, bool follow,
                  int tail) {
  nest::v1::StreamLogsRequest req;
  req.set_name(container);
  req.set_follow(follow);
  req.set_tail_lines(tail);
  // A follow stream has no deadline; a plain read of kept logs does.
  auto call = ctx.client->Context(/*streaming=*/follow);
  auto reader = ctx.client->containers().StreamLogs(call.get(), req);
  nest::v1::StreamLogsResponse chunk;
  while (reader->Read(&chunk)) {
    std::ostream& to = chunk.stream() == "stderr" ? *ctx.err : *ctx.out;
    to << chunk.data();
    to.flush();
  }
  return FromGrpc(reader->Finish(), absl::StrCat("logs ", container));
}

absl::Status Console(const Context& ctx, const std::string& vm,
                     int64_t tail_bytes) {
  nest::v1::GetConsoleLogRequest req;
  req.set_name(vm);
  req.set_tail_bytes(tail_bytes);
  nest::v1::GetConsoleLogResponse resp;
  NEST_RETURN_IF_ERROR(FromGrpc(
      ctx.client->vms().GetConsoleLog(ctx.client->Context().get(), req, &resp),
      absl::StrCat("console of vm ", vm)));
  *ctx.out << resp.data();
  if (!resp.data().empty() && resp.data().back() != '\n') *ctx.out << "\n";
  return absl::OkStatus();
}

absl::StatusOr<int> Exec(const Context& ctx, const std::string& container,
                         const std::vector<std::string>& command) {
  if (command.empty()) {
    return absl::InvalidArgumentError(
        "exec needs a command after --, e.g. nestctl exec web-0 -- ls /");
  }
  nest::v1::ExecRequest req;
  req.set_name(container);
  for (const auto& arg : command) req.add_command(arg);
  int timeout_s =
      static_cast<int>(absl::ToInt64Seconds(ctx.client->options().timeout));
  req.set_timeout_s(timeout_s > 0 ? timeout_s : kExecTimeoutS);
  nest::v1::ExecResponse resp;
  NEST_RETURN_IF_ERROR(FromGrpc(
      ctx.client->containers().Exec(ctx.client->Context().get(), req, &resp),
      absl::StrCat("exec in ", container)));
  *ctx.out << resp.stdout();
  *ctx.err << resp.stderr();
  return resp.exit_code();
}

absl::Status Explain(const Context& ctx, const std::string& workload) {
  nest::v1::ExplainRequest req;
  req.set_workload(workload);
  nest::v1::ExplainResponse resp;
  NEST_RETURN_IF_ERROR(FromGrpc(
      ctx.client->placement().Explain(ctx.client->Context().get(), req, &resp),
      absl::StrCat("explain ", workload)));
  if (ctx.format == Format::kJson || ctx.format == Format::kYaml) {
    *ctx.out << RenderDocuments({MessageToJson(resp)}, ctx.format, true);
    return absl::OkStatus();
  }
  *ctx.out << "workload " << workload << ": " << resp.pending()
           << (resp.pending() == 1 ? " container pending\n"
                                   : " containers pending\n");
  if (resp.reasons_size() > 0) {
    Table t({"REASON", "COUNT", "UNIT"});
    for (const auto& r : resp.reasons()) {
      t.AddRow({r.reason(), absl::StrCat(r.count()), r.unit()});
    }
    *ctx.out << "\n" << t.Render();
  }
  if (!resp.suggestion().empty()) {
    *ctx.out << "\nsuggestion: " << resp.suggestion() << "\n";
  }
  return absl::OkStatus();
}

absl::Status HostAdd(const Context& ctx, const std::string& name,
                     const std::string& uri, const std::string& pool,
                     const std::vector<std::string>& labels) {
  std::vector<FieldViolation> bad;
  if (absl::Status s = ValidateName("name", name); !s.ok()) {
    bad.push_back({"name", std::string(s.message())});
  }
  if (uri.empty()) bad.push_back({"uri", "is required, e.g. qemu:///system"});
  nest::v1::CreateHostRequest req;
  req.set_name(name);
  req.set_uri(uri);
  req.set_pool(pool);
  for (const std::string& label : labels) {
    std::pair<std::string, std::string> kv =
        absl::StrSplit(label, absl::MaxSplits('=', 1));
    if (kv.first.empty() || label.find('=') == std::string::npos) {
      bad.push_back(
          {"labels", absl::StrCat("must be KEY=VALUE, got \"", label, "\"")});
      continue;
    }
    (*req.mutable_labels())[kv.first] = kv.second;
  }
  if (!bad.empty()) return InvalidWithViolations("invalid host", bad);
  nest::v1::CreateHostResponse resp;
  NEST_RETURN_IF_ERROR(FromGrpc(
      ctx.client->hosts().CreateHost(ctx.client->Context().get(), req, &resp),
      absl::StrCat("add host ", name)));
  *ctx.out << "host \"" << name << "\" added (" << resp.host().uri()
           << (resp.host().pool().empty()
                   ? ""
                   : absl::StrCat(", pool ", resp.host().pool()))
           << ")\n";
  return absl::OkStatus();
}

absl::Status HostAction(const Context& ctx, const std::string& verb,
                        const std::string& name) {
  Client& c = *ctx.client;
  grpc::Status s;
  std::string done;
  if (verb == "cordon") {
    nest::v1::CordonHostRequest req;
    req.set_name(name);
    nest::v1::CordonHostResponse resp;
    s = c.hosts().CordonHost(c.Context().get(), req, &resp);
    done = "cordoned";
  } else if (verb == "uncordon") {
    nest::v1::UncordonHostRequest req;
    req.set_name(name);
    nest::v1::UncordonHostResponse resp;
    s = c.hosts().UncordonHost(c.Context().get(), req, &resp);
    done = "uncordoned";
  } else if (verb == "drain") {
    nest::v1::DrainHostRequest req;
    req.set_name(name);
    nest::v1::DrainHostResponse resp;
    s = c.hosts().DrainHost(c.Context().get(), req, &resp);
    done = "draining";
  } else {
    return absl::InvalidArgumentError(absl::StrCat("unknown verb ", verb));
  }
  NEST_RETURN_IF_ERROR(FromGrpc(s, absl::StrCat(verb, " host ", name)));
  *ctx.out << "host \"" << name << "\" " << done << "\n";
  return absl::OkStatus();
}

absl::Status ImageImport(const Context& ctx, const std::string& name,
                         const std::string& source) {
  nest::v1::ImportImageRequest req;
  req.set_name(name);
  req.set_source(source);
  nest::v1::ImportImageResponse resp;
  NEST_RETURN_IF_ERROR(FromGrpc(
      ctx.client->images().ImportImage(ctx.client->Context().get(), req, &resp),
      absl::StrCat("import image ", name)));
  const auto& img = resp.image();
  *ctx.out << "image \"" << name << "\" imported (" << img.digest() << ", "
           << FormatBytes(img.size_bytes()) << ", " << img.layers()
           << (img.layers() == 1 ? " layer)\n" : " layers)\n");
  return absl::OkStatus();
}

absl::StatusOr<std::string> CompletionScript(absl::string_view shell) {
  if (shell == "bash") {
    return absl::StrCat(
        "# nestctl bash completion: source <(nestctl completion bash)\n"
        "_nestctl() {\n"
        "  local cur=${COMP_WORDS[COMP_CWORD]}\n"
        "  local cmd=${COMP_WORDS[1]}\n"
        "  if [[ $COMP_CWORD -eq 1 ]]; then\n"
        "    COMPREPLY=($(compgen -W \"",
        kCommands,
        " --help --version\" -- \"$cur\"))\n"
        "    return\n"
        "  fi\n"
        "  case $cmd in\n"
        "    get|describe|delete)\n"
        "      [[ $COMP_CWORD -eq 2 ]] && COMPREPLY=($(compgen -W \"",
        kKinds,
        "\" -- \"$cur\")) ;;\n"
        "    scale) [[ $COMP_CWORD -eq 2 ]] && "
        "COMPREPLY=($(compgen -W \"workload group\" -- \"$cur\")) ;;\n"
        "    completion) COMPREPLY=($(compgen -W \"bash zsh\" -- \"$cur\")) "
        ";;\n"
        "    host) [[ $COMP_CWORD -eq 2 ]] && "
        "COMPREPLY=($(compgen -W \"add\" -- \"$cur\")) ;;\n"
        "    rollout) [[ $COMP_CWORD -eq 2 ]] && "
        "COMPREPLY=($(compgen -W \"status history undo\" -- \"$cur\")) ;;\n"
        "    image) [[ $COMP_CWORD -eq 2 ]] && "
        "COMPREPLY=($(compgen -W \"import\" -- \"$cur\")) ;;\n"
        "    apply) COMPREPLY=($(compgen -f -- \"$cur\")) ;;\n"
        "  esac\n"
        "}\n"
        "complete -F _nestctl nestctl\n");
  }
  if (shell == "zsh") {
    return absl::StrCat(
        "#compdef nestctl\n"
        "# nestctl zsh completion: source <(nestctl completion zsh)\n"
        "_nestctl() {\n"
        "  if (( CURRENT == 2 )); then\n"
        "    compadd -- ",
        kCommands,
        "\n"
        "    return\n"
        "  fi\n"
        "  case ${words[2]} in\n"
        "    get|describe|delete) (( CURRENT == 3 )) && compadd -- ",
        kKinds,
        " ;;\n"
        "    scale) (( CURRENT == 3 )) && compadd -- workload group ;;\n"
        "    completion) compadd -- bash zsh ;;\n"
        "    host) (( CURRENT == 3 )) && compadd -- add ;;\n"
        "    rollout) (( CURRENT == 3 )) && compadd -- status history undo ;;\n"
        "    image) (( CURRENT == 3 )) && compadd -- import ;;\n"
        "    apply) _files ;;\n"
        "  esac\n"
        "}\n"
        "if [[ $zsh_eval_context[-1] == loadautofunc ]]; then\n"
        "  _nestctl \"$@\"\n"
        "else\n"
        "  compdef _nestctl nestctl\n"
        "fi\n");
  }
  return absl::InvalidArgumentError(
      absl::StrCat("completion supports bash and zsh, got \"", shell, "\""));
}

}  // namespace nest::cli

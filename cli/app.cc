#include "cli/app.h"

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "cli/commands.h"
#include "cli/errors.h"

namespace nest::cli {
namespace {

constexpr const char* kFooter = R"(
Output (-o): table (default), wide (more columns), json, yaml. json and yaml
print objects as {kind, name, spec, status}, the shape `apply` reads, so
`nestctl get workloads -o yaml | nestctl apply -f -` changes nothing.

Environment: NEST_SERVER (--server), NEST_TOKEN (--token), NEST_TLS_CA
(--tls-ca), NEST_TLS_CERT (--tls-cert), NEST_TLS_KEY (--tls-key). Without a
token, nestctl reads $NEST_TOKEN_FILE or /var/lib/nest/operator.token (the
operator token nestd writes at its first start).

Exit codes:
  0  success
  1  server-side failure (internal, no capacity, permission, ...)
  2  usage or validation error (bad flag, bad spec, INVALID_ARGUMENT)
  3  not found
  4  conflict (already exists, stale generation)
  5  server unavailable or timed out
  exec passes the command's own exit code through.)";

// "30s", "2m", "1h30m"; a bare number is seconds.
absl::StatusOr<absl::Duration> ParseTimeout(const std::string& flag,
                                            std::string text) {
  if (!text.empty() && absl::ascii_isdigit(text.back())) text += "s";
  absl::Duration d;
  if (!absl::ParseDuration(text, &d) || d <= absl::ZeroDuration()) {
    return absl::InvalidArgumentError(absl::StrCat(
        flag, " must be a positive duration such as 30s or 5m, got \"", text,
        "\""));
  }
  return d;
}

}  // namespace

int RunNestctl(int argc, char** argv, std::istream& in, std::ostream& out,
               std::ostream& err, bool tty) {
  CLI::App app{
      "nestctl: run VMs and containers on Nest (a nest.v1 gRPC "
      "client)"};
  app.footer(kFooter);
  app.set_version_flag("--version", std::string("nestctl ") + NEST_VERSION);
  app.require_subcommand(1);
  app.fallthrough();

  ClientOptions copts;
  std::string timeout = "30s";
  std::string output = "table";
  app.add_option("--server", copts.server, "nestd address HOST:PORT")
      ->envname("NEST_SERVER")
      ->capture_default_str();
  app.add_option("--token", copts.token, "bearer token for the API")
      ->envname("NEST_TOKEN");
  app.add_option("--tls-ca", copts.tls_ca,
                 "PEM CA that signed nestd's certificate: connect with TLS "
                 "(default: plaintext)")
      ->envname("NEST_TLS_CA");
  app.add_option("--tls-cert", copts.tls_cert,
                 "PEM client certificate, for a nestd with --client-ca")
      ->envname("NEST_TLS_CERT");
  app.add_option("--tls-key", copts.tls_key, "PEM private key of --tls-cert")
      ->envname("NEST_TLS_KEY");
  app.add_option("--tls-server-name", copts.tls_server_name,
                 "name nestd's certificate must carry (default: the host of "
                 "--server)");
  app.add_option("--timeout", timeout, "deadline of each API call (30s, 2m)")
      ->capture_default_str();
  app.add_option("-o,--output", output, "table|wide|json|yaml")
      ->check(CLI::IsMember({"table", "wide", "json", "yaml"}))
      ->capture_default_str();

  Context ctx;
  // Set by the chosen subcommand's callback; runs after the client exists.
  std::function<absl::StatusOr<int>()> run;
  auto ok = [](absl::Status s) -> absl::StatusOr<int> {
    if (!s.ok()) return s;
    return 0;
  };

  // apply
  ApplyOptions apply_opts;
  std::string wait_timeout = "5m";
  auto* apply = app.add_subcommand(
      "apply", "create or update VM groups and workloads from YAML documents");
  apply->add_option("-f,--filename", apply_opts.file, "spec file, - for stdin")
      ->required();
  apply->add_flag("--dry-run", apply_opts.dry_run,
                  "show what would change, change nothing");
  apply->add_flag("--wait,!--no-wait", apply_opts.wait,
                  "wait until changed objects converge (default: wait)");
  apply->add_option("--wait-timeout", wait_timeout, "how long to wait")
      ->capture_default_str();
  apply->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      NEST_ASSIGN_OR_RETURN(apply_opts.wait_timeout,
                            ParseTimeout("--wait-timeout", wait_timeout));
      return ok(Apply(ctx, apply_opts));
    };
  });

  // get / describe / delete
  std::string kind, name;
  bool watch = false;
  auto* get = app.add_subcommand(
      "get",
      "list objects: hosts|groups|vms|workloads|containers|images|events");
  get->add_option("kind", kind, "what to list")->required();
  get->add_option("name", name, "only this object");
  get->add_flag("-w,--watch", watch, "print again on every event");
  get->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      NEST_ASSIGN_OR_RETURN(Kind k, ParseKind(kind));
      return ok(Get(ctx, k, name, watch));
    };
  });
  auto* describe =
      app.add_subcommand("describe", "show one object and its recent events");
  describe->add_option("kind", kind, "object kind")->required();
  describe->add_option("name", name, "object name")->required();
  describe->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      NEST_ASSIGN_OR_RETURN(Kind k, ParseKind(kind));
      return ok(Describe(ctx, k, name));
    };
  });
  auto* del = app.add_subcommand("delete",
                                 "delete a host, group, vm, workload or image");
  del->add_option("kind", kind, "object kind")->required();
  del->add_option("name", name, "object name")->required();
  del->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      NEST_ASSIGN_OR_RETURN(Kind k, ParseKind(kind));
      return ok(Delete(ctx, k, name));
    };
  });

  // scale
  int count = 0;
  auto* scale = app.add_subcommand(
      "scale", "set a workload's replicas or a group's desired VMs");
  scale->add_option("kind", kind, "workload or group")->required();
  scale->add_option("name", name, "object name")->required();
  scale->add_option("count", count, "replicas or VMs")->required();
  scale->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      NEST_ASSIGN_OR_RETURN(Kind k, ParseKind(kind));
      return ok(Scale(ctx, k, name, count));
    };
  });

  // logs / exec
  bool follow = false;
  int tail = 0;
  auto* logs = app.add_subcommand("logs", "print a container's output");
  logs->add_option("container", name, "container name")->required();
  logs->add_flag("-f,--follow", follow, "keep printing new output");
  logs->add_option("--tail", tail, "last N lines only (0: all kept)");
  logs->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      return ok(Logs(ctx, name, follow, tail));
    };
  });
  int64_t console_tail = 0;
  auto* console =
      app.add_subcommand("console", "print the tail of a VM's serial console");
  console->add_option("vm", name, "VM name")->required();
  console
      ->add_option("--tail-bytes", console_tail,
                   "last N bytes (0: the server's default, 64 KiB)")
      ->check(CLI::NonNegativeNumber);
  console->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      return ok(Console(ctx, name, console_tail));
    };
  });
  std::vector<std::string> command;
  auto* exec = app.add_subcommand(
      "exec", "run a command in a container: exec CONTAINER -- CMD [ARGS...]");
  exec->add_option("container", name, "container name")->required();
  exec->add_option("command", command, "command and arguments (after --)")
      ->required();
  exec->callback([&] {
    run = [&]() -> absl::StatusOr<int> { return Exec(ctx, name, command); };
  });

  // events / explain / top
  int64_t after = 0;
  auto* events = app.add_subcommand("events", "list events, or follow them");
  events->add_flag("-f,--follow", follow, "keep printing new events");
  events->add_option("--after", after, "only events after this sequence");
  events->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      return ok(Events(ctx, follow, after));
    };
  });
  auto* explain =
      app.add_subcommand("explain", "why a workload's containers are pending");
  explain->add_option("workload", name, "workload name")->required();
  explain->callback([&] {
    run = [&]() -> absl::StatusOr<int> { return ok(Explain(ctx, name)); };
  });
  auto* rollout = app.add_subcommand(
      "rollout", "follow, list or undo a workload's rolling updates");
  rollout->require_subcommand(1);
  auto* rollout_status = rollout->add_subcommand(
      "status", "wait until every replica runs the newest spec");
  rollout_status->add_option("workload", name, "workload name")->required();
  std::string rollout_timeout = "5m";
  rollout_status->add_option("--timeout", rollout_timeout, "how long to wait")
      ->capture_default_str();
  rollout_status->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      NEST_ASSIGN_OR_RETURN(absl::Duration timeout,
                            ParseTimeout("--timeout", rollout_timeout));
      return ok(RolloutStatus(ctx, name, timeout));
    };
  });
  auto* rollout_history = rollout->add_subcommand(
      "history", "list a workload's earlier templates and its current one");
  rollout_history->add_option("workload", name, "workload name")->required();
  rollout_history->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      return ok(RolloutHistory(ctx, name));
    };
  });
  auto* rollout_undo = rollout->add_subcommand(
      "undo",
      "put a workload's previous template back (returns at once; follow it "
      "with rollout status)");
  rollout_undo->add_option("workload", name, "workload name")->required();
  int64_t to_revision = 0;
  rollout_undo
      ->add_option("--to-revision", to_revision,
                   "the revision to put back (see rollout history); "
                   "default: the previous one")
      ->check([](const std::string& v) {
        return v.rfind('-', 0) == 0
                   ? "must be a revision number from rollout history, or 0 "
                     "for the previous one, got " +
                         v
                   : std::string();
      });
  rollout_undo->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      return ok(RolloutUndo(ctx, name, to_revision));
    };
  });
  auto* top = app.add_subcommand(
      "top", "CPU and memory usage of hosts, VMs or containers");
  std::string top_what = "containers";
  top->add_option("what", top_what, "hosts|vms|containers")
      ->check(CLI::IsMember({"hosts", "vms", "containers"}))
      ->capture_default_str();
  top->callback([&] {
    run = [&]() -> absl::StatusOr<int> { return ok(Top(ctx, top_what)); };
  });

  // hosts
  std::string uri;
  std::string pool;
  std::vector<std::string> labels;
  auto* host = app.add_subcommand("host", "manage hypervisor hosts");
  host->require_subcommand(1);
  auto* host_add = host->add_subcommand("add", "register a libvirt host");
  host_add->add_option("name", name, "host name")->required();
  host_add->add_option("--uri", uri, "libvirt URI, e.g. qemu:///system")
      ->required();
  host_add->add_option("--pool", pool,
                       "IPv4 CIDR for this host's VMs and containers, routed "
                       "to it (default: nestd's net.pool)");
  host_add->add_option("--label", labels, "KEY=VALUE (repeatable)");
  host_add->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      return ok(HostAdd(ctx, name, uri, pool, labels));
    };
  });
  for (const char* verb : {"cordon", "uncordon", "drain"}) {
    std::string help = std::string(verb) == "cordon"
                           ? "stop placing new VMs on a host"
                       : std::string(verb) == "uncordon"
                           ? "allow placing VMs on a host again"
                           : "cordon a host and move its VMs away";
    auto* sub = app.add_subcommand(verb, help);
    sub->add_option("host", name, "host name")->required();
    sub->callback([&, verb] {
      run = [&, verb]() -> absl::StatusOr<int> {
        return ok(HostAction(ctx, verb, name));
      };
    });
  }

  // images
  std::string source;
  auto* image = app.add_subcommand("image", "manage container images");
  image->require_subcommand(1);
  auto* image_import = image->add_subcommand(
      "import",
      "import an OCI layout or archive (a path on the nestd machine)");
  image_import->add_option("name", name, "image name")->required();
  image_import->add_option("source", source, "path on the server")->required();
  image_import->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      return ok(ImageImport(ctx, name, source));
    };
  });

  // tokens
  std::string token_tenant, token_role, token_description;
  auto* token = app.add_subcommand("token", "manage API tokens (operators)");
  token->require_subcommand(1);
  auto* token_create = token->add_subcommand(
      "create", "create a token; its secret is printed once");
  token_create->add_option("--tenant", token_tenant, "tenant it acts for")
      ->required();
  token_create
      ->add_option("--role", token_role,
                   "operator, tenant-admin or tenant-reader")
      ->required()
      ->check(CLI::IsMember({"operator", "tenant-admin", "tenant-reader"}));
  token_create->add_option("--description", token_description,
                           "what the token is for");
  token_create->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      return ok(TokenCreate(ctx, token_tenant, token_role, token_description));
    };
  });
  token->add_subcommand("list", "list tokens (never their secrets)")
      ->callback([&] {
        run = [&]() -> absl::StatusOr<int> { return ok(TokenList(ctx)); };
      });
  auto* token_revoke = token->add_subcommand("revoke", "revoke a token");
  token_revoke->add_option("id", name, "token id (tok-...)")->required();
  token_revoke->callback([&] {
    run = [&]() -> absl::StatusOr<int> { return ok(TokenRevoke(ctx, name)); };
  });

  // quotas
  QuotaFlags quota_flags;
  auto* quota = app.add_subcommand(
      "quota", "per-tenant limits on vCPUs, memory, VMs, containers, images");
  quota->require_subcommand(1);
  auto* quota_set = quota->add_subcommand(
      "set",
      "change a tenant's limits (operators); unnamed limits stay as they are");
  quota_set->add_option("tenant", name, "tenant")->required();
  quota_set->add_option("--vcpus", quota_flags.vcpus,
                        "vCPUs of the tenant's VMs, or \"unlimited\"");
  quota_set->add_option(
      "--memory", quota_flags.memory,
      "memory of its VMs with VMM overhead (e.g. 16Gi), or \"unlimited\"");
  quota_set->add_option("--vms", quota_flags.vms, "VMs, or \"unlimited\"");
  quota_set->add_option("--containers", quota_flags.containers,
                        "workload replicas, or \"unlimited\"");
  quota_set->add_option("--images", quota_flags.images,
                        "imported images, or \"unlimited\"");
  quota_set->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      return ok(QuotaSet(ctx, name, quota_flags));
    };
  });
  auto* quota_get = quota->add_subcommand(
      "get", "a tenant's limits and use (default: the caller's tenant)");
  quota_get->add_option("tenant", name, "tenant");
  quota_get->callback([&] {
    run = [&]() -> absl::StatusOr<int> { return ok(QuotaGet(ctx, name)); };
  });
  quota->add_subcommand("list", "every tenant's limits and use (operators)")
      ->callback([&] {
        run = [&]() -> absl::StatusOr<int> { return ok(QuotaList(ctx)); };
      });

  // completion
  std::string shell;
  auto* completion =
      app.add_subcommand("completion", "print a bash or zsh completion script");
  completion->add_option("shell", shell, "bash or zsh")
      ->required()
      ->check(CLI::IsMember({"bash", "zsh"}));
  completion->callback([&] {
    run = [&]() -> absl::StatusOr<int> {
      NEST_ASSIGN_OR_RETURN(std::string script, CompletionScript(shell));
      out << script;
      return 0;
    };
  });

  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, out, err);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e, out, err);
  } catch (const CLI::ParseError& e) {
    err << "error: " << e.what() << "\n"
        << "Run 'nestctl --help' for usage.\n";
    return kExitUsage;
  }

  absl::StatusOr<int> code = [&]() -> absl::StatusOr<int> {
    NEST_ASSIGN_OR_RETURN(copts.timeout, ParseTimeout("--timeout", timeout));
    NEST_ASSIGN_OR_RETURN(ctx.format, ParseFormat(output));
    if (!run) return absl::InvalidArgumentError("no command given");
    // No token given: the operator token nestd keeps on this machine.
    if (copts.token.empty()) copts.token = LocalOperatorToken();
    NEST_ASSIGN_OR_RETURN(std::unique_ptr<Client> client,
                          Client::Create(copts));
    ctx.client = client.get();
    ctx.in = &in;
    ctx.out = &out;
    ctx.err = &err;
    ctx.tty = tty;
    absl::StatusOr<int> result = run();
    if (!result.ok()) return ExplainTransportError(result.status(), copts);
    return result;
  }();
  out.flush();
  if (!code.ok()) {
    PrintError(code.status(), err);
    return ExitCodeFor(code.status());
  }
  return *code;
}

}  // namespace nest::cli

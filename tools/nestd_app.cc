#include "tools/nestd_app.h"

#include <fcntl.h>
#include <limits.h>
#include <pthread.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <set>

#include "absl/strings/ascii.h"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "api/http_server.h"
#include "api/server.h"
#include "api/services.h"
#include "control/commands.h"
#include "control/controller.h"
#include "control/host_ports.h"
#include "control/sim.h"
#include "control/store_images.h"
#include "control/telemetry.h"
#include "core/metrics.h"
#include "core/sha256.h"
#include "images/guest/initramfs.h"
#include "images/guest/kernel.h"
#include "images/image_store.h"
#include "images/subprocess.h"
#include "net/ipv4.h"
#include "net/tenant_network.h"
#include "spdlog/spdlog.h"
#include "store/store.h"
#include "vmm/boot.h"
#include "vmm/libvirt_bootstrap.h"
#include "vmm/libvirt_driver.h"
#include "vmm/libvirt_network.h"
#include "vmm/libvirt_pool.h"
#include "vmm/libvirt_volumes.h"

namespace nest::tools {
std::string NetInstallation(const DaemonConfig& cfg) {
  // Keyed by the pool, not the state dir: a backup restored into another
  // state dir takes over the same networks, and two installations on one
  // host must use disjoint pools anyway (their subnets would collide).
  return absl::StrCat("pool/", cfg.net_pool);
}

std::string NetTable(const DaemonConfig& cfg) {
  // "nest-<12 hex>" -> "nest_<12 hex>": nft table names take no '-'.
  std::string name = vmm::NetworkNameFor(NetInstallation(cfg));
  std::replace(name.begin(), name.end(), '-', '_');
  return name;
}

namespace {

constexpr char kDevTenant[] = "default";
constexpr char kLocalHost[] = "local";
constexpr char kLocalUri[] = "qemu:///system";

// The first start creates an operator token for the default tenant, prints
// it once and keeps it in <state>/operator.token (0600, root's) so that
// nestctl on this machine finds it; later starts only say where it is.
absl::Status EnsureOperatorToken(control::Commands& commands,
                                 const std::string& state_dir) {
  NEST_ASSIGN_OR_RETURN(auto tokens, commands.ListTokens());
  std::string path = state_dir + "/operator.token";
  for (const auto& t : tokens) {
    if (t.token.role == "operator" &&
        t.token.revoked_at == absl::InfinitePast()) {
      spdlog::info("API tokens: {} (operator token of the first start in {})",
                   tokens.size(), path);
      return absl::OkStatus();
    }
  }
  NEST_ASSIGN_OR_RETURN(
      control::TokenView t,
      commands.CreateToken("", std::string(control::kDefaultTenant), "operator",
                           "created by nestd at first start"));
  std::string tmp = path + ".tmp";
  int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
  if (fd < 0) {
    return absl::InternalError(absl::StrCat("cannot write ", tmp));
  }
  std::string line = t.secret + "\n";
  bool ok = ::write(fd, line.data(), line.size()) ==
                static_cast<ssize_t>(line.size()) &&
            ::fsync(fd) == 0;
  ::close(fd);
  if (!ok || ::rename(tmp.c_str(), path.c_str()) != 0) {
    return absl::InternalError(absl::StrCat("cannot write ", path));
  }
  // On stdout: the log (stderr) stays one format, JSON lines included.
  std::fprintf(stdout,
               "\noperator token %s (shown once; also in %s):\n  %s\n"
               "nestctl on this machine reads that file; elsewhere use "
               "NEST_TOKEN=... or --token\n\n",
               t.token.id.c_str(), path.c_str(), t.secret.c_str());
  std::fflush(stdout);
  return absl::OkStatus();
}

std::string SelfDir() {
  char buf[PATH_MAX];
  ssize_t n = ::readlink("/proc/self/exe", buf, sizeof(buf) - 1);
  if (n <= 0) return ".";
  buf[n] = '\0';
  return std::filesystem::path(buf).parent_path().string();
}

absl::Status MakeDir(const std::string& dir) {
  std::error_code ec;
  std::filesystem::create_directories(dir, ec);
  if (ec) {
    return absl::FailedPreconditionError(
        absl::StrCat("cannot create ", dir, ": ", ec.message()));
  }
  // QEMU runs as libvirt-qemu and must traverse into the state dir.
  ::chmod(dir.c_str(), 0755);
  return absl::OkStatus();
}

// Creates the tenant and hosts --dev/--sim manage, when missing.
// The libvirt URI of a host, read from the store.
control::BootSetProvisioner::HostUri HostUriFrom(store::Store& st) {
  return [&st](const HostId& h) -> absl::StatusOr<std::string> {
    std::string uri;
    NEST_RETURN_IF_ERROR(st.Read([&](store::ReadTx& tx) -> absl::Status {
      NEST_ASSIGN_OR_RETURN(store::Host row, tx.GetHost(h));
      uri = row.libvirt_uri;
      return absl::OkStatus();
    }));
    return uri;
  };
}

absl::Status Bootstrap(store::Store& store, const DaemonConfig& cfg) {
  return store.Write([&](store::WriteTx& tx) -> absl::Status {
    tx.SetActor("nestd", "");
    if (absl::IsNotFound(tx.GetTenant(TenantId(kDevTenant)).status())) {
      store::Tenant t;
      t.name = TenantId(kDevTenant);
      NEST_RETURN_IF_ERROR(tx.CreateTenant(t).status());
    }
    auto ensure_host = [&](const std::string& name,
                           const std::string& uri) -> absl::Status {
      if (!absl::IsNotFound(tx.GetHost(HostId(name)).status())) {
        return absl::OkStatus();
      }
      store::Host h;
      h.name = HostId(name);
      h.libvirt_uri = uri;
      return tx.CreateHost(h).status();
    };
    if (cfg.sim_hosts > 0) {
      for (int i = 0; i < cfg.sim_hosts; ++i) {
        char name[32];
        std::snprintf(name, sizeof(name), "sim-%05d", i);
        NEST_RETURN_IF_ERROR(ensure_host(name, absl::StrCat("sim://", name)));
      }
      return absl::OkStatus();
    }
    return ensure_host(kLocalHost, kLocalUri);
  });
}

// Blocks SIGINT/SIGTERM in every thread started after this, so sigwait in
// the main thread is the one place that sees them.
sigset_t BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  return set;
}

}  // namespace

absl::StatusOr<images::GuestBootSet> EnsureGuestBootSet(
    const DaemonConfig& cfg) {
  NEST_RETURN_IF_ERROR(MakeDir(cfg.state_dir));
  images::KernelFetchOptions kopts;
  kopts.cache_dir = cfg.state_dir + "/cache/kernel";
  spdlog::info("guest kernel: resolving {} (cached under {})",
               kopts.meta_package, kopts.cache_dir);
  NEST_ASSIGN_OR_RETURN(images::GuestKernel kernel,
                        images::FetchGuestKernel(kopts));
  images::InitramfsSpec spec;
  spec.kernel = kernel;
  spec.extra_binaries = images::DefaultGuestBinaries();
  std::string agent = SelfDir() + "/nest-agent";
  if (::access(agent.c_str(), X_OK) != 0) {
    return absl::FailedPreconditionError(
        absl::StrCat("nest-agent not found next to nestd (", agent,
                     "): build the nest-agent target"));
  }
  spec.agent_path = agent;
  spdlog::info("guest boot set: kernel {}, agent {}", kernel.release, agent);
  NEST_ASSIGN_OR_RETURN(
      images::GuestBootSet set,
      images::BuildGuestBootSet(spec, cfg.state_dir + "/images/guest"));
  spdlog::info("guest boot set {}: {}", set.built ? "built" : "reused",
               set.dir);
  return set;
}

absl::Status BackupState(const DaemonConfig& cfg, const std::string& file) {
  // Opening a missing database would create an empty one and back that up.
  if (!std::filesystem::exists(cfg.state_dir + "/nest.db")) {
    return absl::NotFoundError(absl::StrCat(
        "no state database in ", cfg.state_dir, " (is --state-dir right?)"));
  }
  NEST_ASSIGN_OR_RETURN(
      auto store,
      store::Store::Open({cfg.state_dir + "/nest.db"}, RealClock()));
  NEST_RETURN_IF_ERROR(store->Backup(file));
  std::printf("backup written to %s\n", file.c_str());
  return absl::OkStatus();
}

absl::Status TearDownDev(const DaemonConfig& cfg) {
  // Only the VMs this state knows are removed: another nestd's domains on
  // the same libvirt are not ours to delete.
  std::set<VmId> ours;
  std::vector<std::string> networks;  // tenant networks holding a subnet
  std::string db = cfg.state_dir + "/nest.db";
  if (std::filesystem::exists(db)) {
    NEST_ASSIGN_OR_RETURN(auto store, store::Store::Open({db}, RealClock()));
    NEST_ASSIGN_OR_RETURN(store::Snapshot snap, store->ReadSnapshot());
    for (const auto& vm : snap.vms) ours.insert(vm.id);
    NEST_RETURN_IF_ERROR(store->Read([&](store::ReadTx& tx) -> absl::Status {
      NEST_ASSIGN_OR_RETURN(auto rows, tx.ListIpAllocations());
      for (const auto& r : rows) {
        if (r.kind == "network") networks.push_back(r.owner);
      }
      return absl::OkStatus();
    }));
  }
  int removed = 0;
  if (!ours.empty() && vmm::LibvirtAnswers(kLocalUri)) {
    vmm::LibvirtOptions opts;
    opts.uri = kLocalUri;
    opts.accel = vmm::Accel::kTcg;  // no probe needed to delete
    NEST_ASSIGN_OR_RETURN(auto driver, vmm::LibvirtDriver::Open(opts));
    NEST_ASSIGN_OR_RETURN(auto vms, driver->List(false));
    for (const auto& vm : vms) {
      if (!vm.owned || !ours.count(vm.id)) continue;
      absl::Status s = driver->Undefine(vm.id);
      if (!s.ok() && !absl::IsNotFound(s)) return s;
      std::printf("removed domain %s\n", vm.name.c_str());
      ++removed;
    }
  } else if (!ours.empty()) {
    std::printf("libvirtd is not running: no domains to remove\n");
  }
  if (vmm::LibvirtAnswers(kLocalUri)) {
    // Tenant networks and filters, now that no domain of ours uses them.
    const std::string inst = NetInstallation(cfg);
    for (const auto& n : networks) {
      const std::string nkey = net::NetworkObjectKey(inst, n);
      const std::string tkey = net::TenantObjectKey(inst, n);
      absl::Status s = vmm::RemoveNetwork(kLocalUri, vmm::NetworkNameFor(nkey),
                                          vmm::OwnerUuid("network", nkey));
      if (!s.ok())
        std::printf("network of %s: %s\n", n.c_str(), s.ToString().c_str());
      s = vmm::RemoveNwFilter(kLocalUri, vmm::FilterNameFor(tkey),
                              vmm::OwnerUuid("nwfilter", tkey));
      if (!s.ok())
        std::printf("filter of %s: %s\n", n.c_str(), s.ToString().c_str());
      std::printf("removed network and filter of tenant %s\n", n.c_str());
    }
  }
  if (!networks.empty()) {
    auto r =
        images::RunCommand({"nft", "delete", "table", "ip", NetTable(cfg)});
    if (r.ok() && r->exit_code == 0) {
      std::printf("removed nftables table ip %s\n", NetTable(cfg).c_str());
    }
  }
  if (vmm::LibvirtAnswers(kLocalUri)) {
    std::string vms_dir = cfg.state_dir + "/vms";
    NEST_RETURN_IF_ERROR(vmm::RemoveDirPool(kLocalUri, vms_dir));
    std::printf("removed storage pool %s\n", vmm::DirPoolName(vms_dir).c_str());
  }
  std::error_code ec;
  if (std::filesystem::exists(cfg.state_dir)) {
    std::filesystem::remove_all(cfg.state_dir, ec);
    if (ec) {
      return absl::InternalError(
          absl::StrCat("cannot remove ", cfg.state_dir, ": ", ec.message()));
    }
    std::printf("removed %s\n", cfg.state_dir.c_str());
  }
  std::printf("nestd --dev --down: %d domain(s) removed, state gone\n",
              removed);
  return absl::OkStatus();
}

namespace {

// The start-up line's word on the API transport.
std::string TransportNote(const DaemonConfig& cfg, api::Transport t) {
  switch (t) {
    case api::Transport::kPlaintext:
      return cfg.insecure ? "plaintext, --insecure"
                          : "plaintext: loopback only, for this machine";
    case api::Transport::kTls:
      return "TLS";
    case api::Transport::kMutualTls:
      return absl::StrCat("mutual TLS: clients need a certificate from ",
                          cfg.tls.client_ca);
  }
  return "";
}

}  // namespace

absl::Status RunDaemon(const DaemonConfig& cfg) {
  // Flag and certificate mistakes surface before any state is touched.
  NEST_ASSIGN_OR_RETURN(api::Transport transport,
                        api::CheckTransport(cfg.listen, cfg.tls, cfg.insecure));
  NEST_ASSIGN_OR_RETURN(auto api_credentials,
                        api::LoadServerCredentials(cfg.tls));
  sigset_t stop_signals = BlockStopSignals();
  NEST_RETURN_IF_ERROR(MakeDir(cfg.state_dir));
  Clock& clock = RealClock();
  NEST_ASSIGN_OR_RETURN(
      auto store, store::Store::Open({cfg.state_dir + "/nest.db"}, clock));
  NEST_RETURN_IF_ERROR(Bootstrap(*store, cfg));

  std::unique_ptr<control::HostConnector> hosts;
  std::unique_ptr<control::VmProvisioner> provisioner;
  std::unique_ptr<control::AgentConnector> agents;
  std::unique_ptr<control::ImageSource> images;
  std::unique_ptr<control::RemoteFiles> remote_files;
  control::ControllerOptions copts;
  std::string vms_dir = cfg.state_dir + "/vms";
  control::LibvirtNetworkOps net_ops;
  std::unique_ptr<control::Networking> network;
  net::IpamConfig ipam;  // what CreateHost checks a host's pool against
  if (cfg.sim_hosts == 0 && !cfg.net_pool.empty()) {
    control::NetworkOptions nopts;
    NEST_ASSIGN_OR_RETURN(nopts.ipam.pool,
                          net::ParseIpv4Prefix("--net-pool", cfg.net_pool));
    nopts.installation = NetInstallation(cfg);
    nopts.host_table = NetTable(cfg);
    ipam = nopts.ipam;
    NEST_ASSIGN_OR_RETURN(
        network, control::Networking::Create(*store, net_ops, clock, nopts));
    copts.network = network.get();
    spdlog::info("tenant networks from {} (nftables table ip {})", cfg.net_pool,
                 nopts.host_table);
  }
  if (cfg.sim_hosts > 0) {
    hosts = std::make_unique<control::SimHostConnector>(vmm::SimHostConfig{});
    provisioner = std::make_unique<control::SimProvisioner>();
    agents = std::make_unique<control::SimAgentConnector>();
    images = std::make_unique<control::StaticImageSource>();
  } else {
    NEST_RETURN_IF_ERROR(vmm::EnsureLibvirtd(kLocalUri));
    NEST_ASSIGN_OR_RETURN(images::GuestBootSet boot, EnsureGuestBootSet(cfg));
    NEST_RETURN_IF_ERROR(MakeDir(vms_dir));
    vmm::LibvirtOptions lopts;
    lopts.accel = cfg.accel;
    lopts.probe_kernel = boot.kernel_path;
    lopts.probe_initrd = boot.initrd_path;
    lopts.probe_cache_dir = cfg.state_dir + "/cache";
    // Hosts reached only through libvirt get the same files as volumes
    // of a pool at the same path.
    remote_files = std::make_unique<control::RemoteFiles>(
        boot.kernel_path, boot.initrd_path, vms_dir,
        cfg.state_dir + "/staging");
    hosts = std::make_unique<control::LibvirtHostConnector>(lopts,
                                                            remote_files.get());
    // The per-VM files form a libvirt storage pool (`virsh vol-list`).
    NEST_RETURN_IF_ERROR(vmm::EnsureDirPool(kLocalUri, vms_dir));
    auto boot_set = std::make_unique<control::BootSetProvisioner>(
        boot.kernel_path, boot.initrd_path, vms_dir, [vms_dir] {
          absl::Status s = vmm::RefreshDirPool(kLocalUri, vms_dir);
          if (!s.ok()) spdlog::warn("storage pool refresh: {}", s.ToString());
        });
    boot_set->EnableRemoteHosts(remote_files.get(), HostUriFrom(*store));
    provisioner = std::move(boot_set);
    agents = std::make_unique<control::ChannelAgentConnector>();
    NEST_ASSIGN_OR_RETURN(auto image_store,
                          images::ImageStore::Open(cfg.state_dir));
    images =
        std::make_unique<control::StoreImageSource>(std::move(image_store));
  }

  metrics::Registry registry;
  NEST_ASSIGN_OR_RETURN(control::ControlMetrics control_metrics,
                        control::ControlMetrics::Register(registry));
  NEST_ASSIGN_OR_RETURN(api::ApiMetrics api_metrics,
                        api::ApiMetrics::Register(registry));
  copts.metrics = &control_metrics;
  copts.host_down_grace = cfg.host_down_grace;
  // The sampler reads VMs through the controller, and the controller's
  // utilization targets read the sampler's last sample: set before the
  // loop starts; the sampler object outlives the loop (Stop below).
  std::atomic<const control::UsageSampler*> sampler{nullptr};
  copts.usage = [&sampler] {
    const control::UsageSampler* s = sampler.load();
    return s == nullptr ? control::UsageSample{} : s->Latest();
  };
  control::Controller controller(*store, *hosts, *provisioner, *agents, *images,
                                 clock, copts);
  control::UsageSampler usage(*store, controller, clock, cfg.usage_interval);
  sampler = &usage;
  control::AddClusterCollector(registry, *store, &usage,
                               {copts.vmm_overhead_mib, copts.host_reserved});
  control::CommandsOptions cmd_opts;
  cmd_opts.placement = {copts.vmm_overhead_mib, copts.host_reserved};
  cmd_opts.ipam = ipam;
  if (cfg.sim_hosts == 0) {
    cmd_opts.console_log_path = [vms_dir](const VmId& vm) {
      return control::BootSetProvisioner::ConsoleLogPath(vms_dir, vm);
    };
    cmd_opts.remote_console_tail =
        [uri_of = HostUriFrom(*store), rf = remote_files.get()](
            const HostId& h, const VmId& vm,
            int64_t tail) -> std::optional<absl::StatusOr<std::string>> {
      absl::StatusOr<std::string> uri = uri_of(h);
      if (!uri.ok() || vmm::IsLocalUri(*uri)) return std::nullopt;
      return rf->ConsoleTail(*uri, vm, static_cast<uint64_t>(tail));
    };
  }
  cmd_opts.metrics = &control_metrics;
  cmd_opts.usage = &usage;
  control::Commands commands(*store, &controller, *images, clock, cmd_opts);
  NEST_RETURN_IF_ERROR(EnsureOperatorToken(commands, cfg.state_dir));
  api::Services services = api::MakeServices(commands);
  api::ServerOptions sopts;
  sopts.listen_address = cfg.listen;
  sopts.credentials = api_credentials;
  sopts.metrics = &api_metrics;
  NEST_ASSIGN_OR_RETURN(auto server, api::StartServer(sopts, services.raw()));
  std::unique_ptr<api::HttpServer> http;
  if (!cfg.http_listen.empty()) {
    api::HttpOptions hopts;
    hopts.listen_address = cfg.http_listen;
    hopts.registry = &registry;
    hopts.dashboard.commands = &commands;
    hopts.dashboard.clock = &clock;
    NEST_ASSIGN_OR_RETURN(api::HostPort where,
                          api::SplitHostPort("--http-listen", cfg.http_listen));
    // Off this machine, /metrics (every tenant's objects) is for operators.
    if (!api::IsLoopbackHost(where.host)) {
      hopts.authorize = [&commands](absl::string_view token) -> absl::Status {
        NEST_ASSIGN_OR_RETURN(store::ApiTokenRow t,
                              commands.Authenticate(token));
        if (t.role != "operator") {
          return absl::PermissionDeniedError(
              absl::StrCat("a ", t.role, " token may not read /metrics"));
        }
        return absl::OkStatus();
      };
    }
    NEST_ASSIGN_OR_RETURN(http, api::StartHttpServer(hopts));
    spdlog::info("metrics on http://{}:{}/metrics{}", where.host, http->port(),
                 hopts.authorize ? " (operator token required)" : "");
    spdlog::info("dashboard on http://{}:{}/ (log in with an API token)",
                 where.host, http->port());
  }
  controller.Start();
  usage.Start();

  spdlog::info("nestd {}: state in {}, API on {} ({})",
               cfg.sim_hosts > 0 ? absl::StrCat("--sim ", cfg.sim_hosts)
                                 : std::string("--dev"),
               cfg.state_dir, cfg.listen, TransportNote(cfg, transport));
  if (transport == api::Transport::kPlaintext && cfg.insecure) {
    spdlog::warn(
        "--insecure: the API is served in PLAINTEXT on {}; anyone on the "
        "network path can read and forge API calls, bearer tokens included. "
        "Give --tls-cert and --tls-key to fix this.",
        cfg.listen);
  }
  spdlog::info(
      "try: nestctl apply -f examples/demo.yaml && nestctl get "
      "containers");

  // Waits for a stop signal, pruning old events once a minute meanwhile.
  int sig = -1;
  while (sig < 0) {
    auto pruned = store->PruneEvents(clock.Now() - cfg.event_retention);
    if (!pruned.ok()) {
      spdlog::warn("pruning events: {}", pruned.status().ToString());
    } else if (*pruned > 0) {
      spdlog::info("pruned {} events older than {}", *pruned,
                   absl::FormatDuration(cfg.event_retention));
    }
    timespec minute{60, 0};
    sig = sigtimedwait(&stop_signals, nullptr, &minute);
  }
  spdlog::info("signal {}: stopping (VMs keep running)", sig);
  if (http) http->Shutdown();
  server->Shutdown();
  usage.Stop();
  controller.Stop();
  return absl::OkStatus();
}

}  // namespace nest::tools

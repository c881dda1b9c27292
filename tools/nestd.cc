// nestd: the Nest control plane.
//
//   nestd --dev               the embedded default: local libvirt, state under
//                             --state-dir, API on 127.0.0.1
//   nestd --dev --down        remove everything --dev created
//   nestd --sim HOSTS         the real control plane on simulated hosts
//   nestd image build-guest   build (or reuse) the microVM boot set
//   nestd backup FILE         online backup of the state database
//
// Every option can also come from a TOML file (--config FILE), keyed by the
// long option name without dashes in front (`state-dir = "/srv/nest"`);
// the command line wins over the file.
#include <signal.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "core/log.h"
#include "spdlog/spdlog.h"
#include "tools/nestd_app.h"

namespace {

int Fail(const absl::Status& s) {
  std::fprintf(stderr, "nestd: %s\n", std::string(s.message()).c_str());
  return s.code() == absl::StatusCode::kInvalidArgument ? 2 : 1;
}

}  // namespace

int main(int argc, char** argv) {
  // Agent channels and sockets report a closed peer as EPIPE; never die of
  // SIGPIPE for it.
  signal(SIGPIPE, SIG_IGN);
  CLI::App app{
      "nestd: the Nest control plane (gRPC API, state, placement, "
      "reconcilers)"};
  app.set_version_flag("--version", std::string("nestd ") + NEST_VERSION);
  nest::tools::DaemonConfig cfg;
  std::string log_format = "text", log_level = "info", accel = "auto";
  app.add_flag("--dev", cfg.dev,
               "embedded default: local qemu:///system (libvirtd started if "
               "needed), state under --state-dir, API on 127.0.0.1");
  app.add_flag("--down", cfg.down,
               "with --dev: remove every domain, file and state Nest created");
  app.add_option("--sim", cfg.sim_hosts,
                 "run on this many simulated hosts (no hypervisor)")
      ->check(CLI::Range(1, 100000));
  app.add_option("--state-dir", cfg.state_dir,
                 "state, images and VM files (QEMU must be able to read it)")
      ->capture_default_str();
  app.add_option("--listen", cfg.listen,
                 "gRPC listen address; off loopback it needs --tls-cert and "
                 "--tls-key (or --insecure)")
      ->capture_default_str();
  app.add_option("--tls-cert", cfg.tls.cert,
                 "PEM certificate (chain) for TLS on the gRPC port; needs "
                 "--tls-key");
  app.add_option("--tls-key", cfg.tls.key,
                 "PEM private key of --tls-cert (unencrypted)");
  app.add_option("--client-ca", cfg.tls.client_ca,
                 "PEM CA certificate(s): mutual TLS, every client must present "
                 "a certificate they signed; needs --tls-cert");
  app.add_flag("--insecure", cfg.insecure,
               "allow plaintext gRPC on a non-loopback --listen address "
               "(anyone on the network can read and forge API calls)");
  app.add_option("--accel", accel, "auto|kvm|tcg")->capture_default_str();
  app.add_option("--net-pool", cfg.net_pool,
                 "address pool of tenant networks (CIDR); empty: no "
                 "networking")
      ->capture_default_str();
  app.add_option("--http-listen", cfg.http_listen,
                 "HTTP address of /metrics; empty: none")
      ->capture_default_str();
  int usage_interval_s = 10, event_retention_h = 24 * 7;
  app.add_option("--usage-interval", usage_interval_s,
                 "seconds between samples of VM and container usage")
      ->check(CLI::Range(1, 3600))
      ->capture_default_str();
  int host_down_grace_s = 30;
  app.add_option("--host-down-grace", host_down_grace_s,
                 "seconds a host may be unreachable before it is down and "
                 "its VMs are recreated elsewhere")
      ->check(CLI::Range(5, 24 * 3600))
      ->capture_default_str();
  app.add_option("--event-retention", event_retention_h,
                 "hours events are kept before they are pruned")
      ->check(CLI::Range(1, 24 * 365))
      ->capture_default_str();
  app.add_option("--log-format", log_format, "text|json")
      ->capture_default_str();
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
      ->capture_default_str();
  // CLI11 reads the file (TOML) into the same options; a key that names no
  // option is an error, so a typo never silently falls back to a default.
  app.set_config("--config", "",
                 "TOML file of options (e.g. state-dir = \"/srv/nest\"); "
                 "flags override it");
  app.allow_config_extras(CLI::config_extras_mode::error);

  auto* image = app.add_subcommand("image", "guest image commands");
  auto* build_guest = image->add_subcommand(
      "build-guest", "build (or reuse) the microVM kernel + initramfs");
  image->require_subcommand(1);
  auto* backup = app.add_subcommand(
      "backup", "write an online backup of the state database to FILE");
  std::string backup_file;
  backup->add_option("FILE", backup_file, "where to write the backup")
      ->required();
  CLI11_PARSE(app, argc, argv);

  auto format = nest::ParseLogFormat("--log-format", log_format);
  if (!format.ok()) return Fail(format.status());
  if (auto s = nest::SetupLogging("nestd", *format, log_level); !s.ok()) {
    return Fail(s);
  }
  auto parsed_accel = nest::vmm::ParseAccel("--accel", accel);
  if (!parsed_accel.ok()) return Fail(parsed_accel.status());
  cfg.accel = *parsed_accel;
  cfg.usage_interval = absl::Seconds(usage_interval_s);
  cfg.event_retention = absl::Hours(event_retention_h);
  cfg.host_down_grace = absl::Seconds(host_down_grace_s);

  absl::Status result;
  if (build_guest->parsed()) {
    auto set = nest::tools::EnsureGuestBootSet(cfg);
    if (set.ok()) {
      std::printf("%s\n%s\n", set->kernel_path.c_str(),
                  set->initrd_path.c_str());
    }
    result = set.status();
  } else if (backup->parsed()) {
    result = nest::tools::BackupState(cfg, backup_file);
  } else if (cfg.down) {
    if (!cfg.dev) {
      return Fail(absl::InvalidArgumentError("--down requires --dev"));
    }
    result = nest::tools::TearDownDev(cfg);
  } else if (cfg.dev || cfg.sim_hosts > 0) {
    result = nest::tools::RunDaemon(cfg);
  } else {
    std::fprintf(stderr,
                 "nestd: nothing to do: pass --dev (local libvirt), --sim "
                 "HOSTS, or a subcommand (see --help)\n");
    return 2;
  }
  if (!result.ok()) return Fail(result);
  return 0;
}

// nest-image: the images library from the command line. Errors are one line
// on stderr and exit status 1.
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <cstdio>
#include <iostream>
#include <string>
#include <vector>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_format.h"
#include "images/disk.h"
#include "images/fs.h"
#include "images/image_store.h"
#include "images/runtime_config.h"

namespace {

using nest::images::ImageStore;

int Fail(const absl::Status& st) {
  std::cerr << "nest-image: " << st.message() << "\n";
  return 1;
}

std::string Short(const std::string& digest) {
  return digest.substr(0, std::min<size_t>(digest.size(), 7 + 12));
}

std::string Human(uint64_t bytes) {
  if (bytes >= (1ull << 30))
    return absl::StrFormat("%.1fGi", bytes / double(1ull << 30));
  if (bytes >= (1ull << 20))
    return absl::StrFormat("%.1fMi", bytes / double(1ull << 20));
  return absl::StrFormat("%.1fKi", bytes / 1024.0);
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"nest-image: Nest image store, OCI import and VM disks"};
  app.set_version_flag("--version", NEST_VERSION);
  app.require_subcommand(1);
  std::string store = "/var/lib/nest";

  // import
  auto* imp = app.add_subcommand(
      "import", "import an OCI layout, oci-archive or docker-archive");
  std::string src, name, ref;
  bool no_unpack = false, quiet = false;
  imp->add_option("--store", store, "state dir holding images/")
      ->capture_default_str();
  imp->add_option("--ref", ref,
                  "image ref inside the source (when it holds several)");
  imp->add_flag("--no-unpack", no_unpack,
                "store blobs only; do not unpack the rootfs");
  imp->add_flag("-q,--quiet", quiet, "no progress output");
  imp->add_option("SRC", src, "layout dir or archive")->required();
  imp->add_option("NAME", name, "image name (DNS label)")->required();

  auto* list = app.add_subcommand("list", "list images");
  std::string output = "table";
  list->add_option("--store", store)->capture_default_str();
  list->add_option("-o,--output", output, "table|json")
      ->check(CLI::IsMember({"table", "json"}));

  auto* del =
      app.add_subcommand("delete", "delete an image name (blobs freed by gc)");
  del->add_option("--store", store)->capture_default_str();
  del->add_option("NAME", name)->required();

  auto* gc =
      app.add_subcommand("gc", "remove unreferenced blobs and rootfs trees");
  gc->add_option("--store", store)->capture_default_str();

  auto* unpack = app.add_subcommand(
      "unpack", "unpack an image's rootfs into a new directory");
  std::string dest;
  unpack->add_option("--store", store)->capture_default_str();
  unpack->add_option("NAME", name)->required();
  unpack->add_option("DEST", dest)->required();

  auto* bundle = app.add_subcommand(
      "bundle", "make an OCI runtime bundle (DEST/rootfs + DEST/config.json)");
  std::vector<std::string> env, command;
  std::string user, workdir;
  int64_t cpu_milli = 0, memory_mib = 0, pids = 0;
  bool host_network = false;
  bundle->add_option("--store", store)->capture_default_str();
  bundle->add_option("--env", env, "KEY=VALUE (repeatable)");
  bundle->add_option("--user", user);
  bundle->add_option("--workdir", workdir);
  bundle->add_option("--cpu-milli", cpu_milli);
  bundle->add_option("--memory-mib", memory_mib);
  bundle->add_option("--pids-limit", pids);
  bundle->add_flag("--host-network", host_network);
  bundle->add_option("NAME", name)->required();
  bundle->add_option("DEST", dest)->required();
  bundle->add_option("COMMAND", command,
                     "replaces the image entrypoint and cmd");

  auto* insp =
      app.add_subcommand("inspect-disk", "check a user-supplied disk image");
  std::string path, format = "qcow2", base;
  insp->add_option("--format", format, "raw|qcow2")->capture_default_str();
  insp->add_option("PATH", path)->required();

  auto* ovl =
      app.add_subcommand("overlay", "create a qcow2 overlay on a base image");
  ovl->add_option("--base", base)->required();
  ovl->add_option("--base-format", format)->capture_default_str();
  ovl->add_option("OVERLAY", path)->required();

  auto* data =
      app.add_subcommand("data-disk", "create a qcow2 data disk with ext4");
  data->add_option("--size-mib", memory_mib)->required();
  data->add_option("PATH", path)->required();

  CLI11_PARSE(app, argc, argv);

  if (*insp || *ovl) {
    auto fmt = nest::images::ParseDiskFormat(format);
    if (!fmt.ok()) return Fail(fmt.status());
    if (*insp) {
      auto info = nest::images::InspectUserDisk(path, *fmt);
      if (!info.ok()) return Fail(info.status());
      std::cout << "format=" << format << " virtual_size=" << info->virtual_size
                << " actual_size=" << info->actual_size << "\n";
      return 0;
    }
    auto st = nest::images::CreateOverlay(base, *fmt, path);
    return st.ok() ? 0 : Fail(st);
  }
  if (*data) {
    auto st = nest::images::CreateDataDisk(path, memory_mib);
    return st.ok() ? 0 : Fail(st);
  }

  auto s = ImageStore::Open(store);
  if (!s.ok()) return Fail(s.status());
  ImageStore& st = **s;

  if (*imp) {
    nest::images::ImportOptions opts;
    opts.ref = ref;
    opts.unpack = !no_unpack;
    const bool tty = ::isatty(2) && !quiet;
    if (tty) {
      opts.progress = [](absl::string_view step) {
        std::cerr << "\r\033[K" << step << std::flush;
        return absl::OkStatus();
      };
    }
    auto r = st.Import(src, name, opts);
    if (tty) std::cerr << "\r\033[K";
    if (!r.ok()) return Fail(r.status());
    std::cout << (r->already_present ? "present " : "imported ")
              << r->image.name << " " << r->image.manifest_digest << "\n";
    return 0;
  }
  if (*list) {
    auto images = st.List();
    if (!images.ok()) return Fail(images.status());
    if (output == "json") {
      std::cout << "[";
      for (size_t i = 0; i < images->size(); ++i) {
        const auto& r = (*images)[i];
        std::cout << (i ? "," : "") << "\n  {\"name\": \"" << r.name
                  << "\", \"manifest_digest\": \"" << r.manifest_digest
                  << "\", \"config_digest\": \"" << r.config_digest
                  << "\", \"layers\": " << r.layers.size()
                  << ", \"size_bytes\": " << r.size_bytes << "}";
      }
      std::cout << (images->empty() ? "]\n" : "\n]\n");
      return 0;
    }
    std::cout << absl::StrFormat("%-20s %-20s %6s %9s  %s\n", "NAME",
                                 "MANIFEST", "LAYERS", "SIZE", "SOURCE");
    for (const auto& r : *images) {
      std::cout << absl::StrFormat("%-20s %-20s %6d %9s  %s\n", r.name,
                                   Short(r.manifest_digest), r.layers.size(),
                                   Human(r.size_bytes), r.source_kind);
    }
    return 0;
  }
  if (*del) {
    auto d = st.Delete(name);
    return d.ok() ? 0 : Fail(d);
  }
  if (*gc) {
    auto r = st.Gc();
    if (!r.ok()) return Fail(r.status());
    std::cout << "removed " << r->blobs_removed << " blobs ("
              << Human(r->bytes_freed) << "), " << r->rootfs_removed
              << " rootfs trees\n";
    return 0;
  }
  if (*unpack) {
    auto u = st.UnpackTo(name, dest);
    return u.ok() ? 0 : Fail(u);
  }
  if (*bundle) {
    auto cfg_text = st.ImageConfig(name);
    if (!cfg_text.ok()) return Fail(cfg_text.status());
    auto cfg = nest::images::ParseImageConfig(*cfg_text);
    if (!cfg.ok()) return Fail(cfg.status());
    nest::images::WorkloadOverrides o;
    if (!command.empty()) o.command = command;
    for (const auto& kv : env) {
      auto eq = kv.find('=');
      if (eq == std::string::npos) {
        return Fail(
            absl::InvalidArgumentError("--env must be KEY=VALUE, got " + kv));
      }
      o.env.emplace_back(kv.substr(0, eq), kv.substr(eq + 1));
    }
    if (!user.empty()) o.user = user;
    if (!workdir.empty()) o.working_dir = workdir;
    o.milli_cpu = cpu_milli;
    o.memory_mib = memory_mib;
    o.pids_limit = pids;
    o.host_network = host_network;
    auto mk = nest::images::MakeDirs(dest);
    if (!mk.ok()) return Fail(mk);
    auto u = st.UnpackTo(name, dest + "/rootfs");
    if (!u.ok()) return Fail(u);
    auto users = nest::images::ReadRootfsUsers(dest + "/rootfs");
    if (!users.ok()) return Fail(users.status());
    auto json = nest::images::BuildRuntimeConfig(*cfg, o, &*users);
    if (!json.ok()) return Fail(json.status());
    auto w = nest::images::AtomicWriteFile(dest + "/config.json", *json);
    return w.ok() ? 0 : Fail(w);
  }
  return 0;
}

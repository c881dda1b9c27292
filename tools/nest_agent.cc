// nest-agent: runs inside each microVM and starts containers with crun.
//
// With no arguments it finds the virtio-serial port org.nest.agent.0 and
// serves the host over it forever, reopening the port whenever the host
// disconnects. --device, --listen and --connection-fd are for tests and
// debugging.
#include <fcntl.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <filesystem>
#include <string>

#include "CLI/CLI.hpp"
#include "absl/strings/str_cat.h"
#include "absl/time/clock.h"
#include "agent/containers.h"
#include "agent/crun_runtime.h"
#include "agent/guest.h"
#include "agent/image_store.h"
#include "agent/network.h"
#include "agent/server.h"
#include "core/byte_stream.h"
#include "core/clock.h"
#include "core/log.h"
#include "spdlog/spdlog.h"

namespace {

using nest::agent::AgentServer;

// /var/lib/nest is the per-VM data disk when the init mounted one; without
// it images are cached on tmpfs and lost at power off.
std::string DefaultStateDir() {
  struct stat st;
  if (::stat("/var/lib/nest", &st) == 0 && S_ISDIR(st.st_mode) &&
      ::access("/var/lib/nest", W_OK) == 0) {
    return "/var/lib/nest";
  }
  return "/run/nest/state";
}

absl::StatusOr<std::unique_ptr<nest::ByteStream>> OpenDevice(
    const std::string& path) {
  int fd = ::open(path.c_str(), O_RDWR | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return absl::UnavailableError(
        absl::StrCat("open ", path, ": ", std::strerror(errno)));
  }
  return nest::FdByteStream(fd);
}

// Serves the port until a power-off was requested. Reopening after EOF is
// what makes host reconnects work: a virtio port reads EOF while the host
// side is closed.
int ServeDevice(AgentServer& server, const std::string& fixed_device) {
  bool reported = false;
  while (!server.shutdown_requested()) {
    std::string device = fixed_device;
    if (device.empty()) {
      absl::StatusOr<std::string> found = nest::agent::FindVirtioPort(
          "/sys/class/virtio-ports", nest::agent::kAgentPortName);
      if (!found.ok()) {
        if (!reported) spdlog::warn("{}; waiting", found.status().ToString());
        reported = true;
        absl::SleepFor(absl::Milliseconds(500));
        continue;
      }
      device = *found;
    }
    absl::StatusOr<std::unique_ptr<nest::ByteStream>> stream =
        OpenDevice(device);
    if (!stream.ok()) {
      if (!reported) spdlog::warn("{}; retrying", stream.status().ToString());
      reported = true;
      absl::SleepFor(absl::Milliseconds(500));
      continue;
    }
    if (!reported) spdlog::info("serving the host on {}", device);
    reported = true;
    absl::Status s = server.Serve(*std::move(stream));
    if (!s.ok() && !server.shutdown_requested()) {
      spdlog::warn("connection ended: {}", s.ToString());
    }
    // The host is gone; do not spin on EOF until it comes back.
    absl::SleepFor(absl::Milliseconds(200));
  }
  return 0;
}

int ServeUnixSocket(AgentServer& server, const std::string& path) {
  int fd = ::socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_un addr{};
  addr.sun_family = AF_UNIX;
  if (fd < 0 || path.size() >= sizeof(addr.sun_path)) {
    spdlog::error("--listen path must be shorter than {} bytes",
                  sizeof(addr.sun_path));
    return 2;
  }
  std::strncpy(addr.sun_path, path.c_str(), sizeof(addr.sun_path) - 1);
  ::unlink(path.c_str());
  if (::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) != 0 ||
      ::listen(fd, 4) != 0) {
    spdlog::error("listen on {}: {}", path, std::strerror(errno));
    return 1;
  }
  spdlog::info("listening on {}", path);
  while (!server.shutdown_requested()) {
    int c = ::accept4(fd, nullptr, nullptr, SOCK_CLOEXEC);
    if (c < 0) {
      if (errno == EINTR) continue;
      spdlog::error("accept: {}", std::strerror(errno));
      return 1;
    }
    absl::Status s = server.Serve(nest::FdByteStream(c));
    if (!s.ok()) spdlog::warn("connection ended: {}", s.ToString());
  }
  ::close(fd);
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "nest-agent: the in-guest agent that runs containers with crun.\n"
      "Without options it serves the host on the virtio-serial port named "
      "org.nest.agent.0."};
  app.set_version_flag("--version", std::string("nest-agent ") + NEST_VERSION);
  std::string device, listen_path, state_dir, run_dir = "/run/nest",
                                              crun = "crun", log_level = "info";
  int connection_fd = -1;
  app.add_option("--device", device,
                 "serve on this character device instead of finding the "
                 "virtio port");
  app.add_option("--listen", listen_path,
                 "serve connections on this unix socket (for tests)");
  app.add_option("--connection-fd", connection_fd,
                 "serve one already-connected socket fd, then exit");
  app.add_option("--state-dir", state_dir,
                 "image cache and container bundles (default /var/lib/nest "
                 "when writable, else /run/nest/state)");
  app.add_option("--run-dir", run_dir, "container logs and crun state")
      ->capture_default_str();
  app.add_option("--crun", crun, "crun binary")->capture_default_str();
  app.add_option("--log-level", log_level, "trace|debug|info|warn|error")
      ->capture_default_str();
  CLI11_PARSE(app, argc, argv);

  absl::Status logging =
      nest::SetupLogging("nest-agent", nest::LogFormat::kText, log_level);
  if (!logging.ok()) {
    std::fprintf(stderr, "nest-agent: %s\n", logging.ToString().c_str());
    return 2;
  }
  // A host that disconnects mid-write must not kill the agent.
  ::signal(SIGPIPE, SIG_IGN);
  if (state_dir.empty()) state_dir = DefaultStateDir();
  std::error_code ec;
  for (const std::string& d :
       {state_dir + "/images", run_dir + "/containers"}) {
    std::filesystem::create_directories(d, ec);
    if (ec) {
      spdlog::error("cannot create {}: {}", d, ec.message());
      return 1;
    }
  }

  nest::agent::CrunRuntime::Options ro;
  ro.crun = crun;
  ro.state_root = run_dir + "/crun";
  // Bundles hold each container's writable layer: on the data disk with
  // the image cache, not in guest RAM.
  ro.bundle_root = state_dir + "/bundles";
  nest::agent::CrunRuntime runtime(ro);
  nest::agent::ImageStore images(state_dir + "/images");
  nest::agent::ContainerManager containers({run_dir + "/containers"}, runtime,
                                           images, nest::RealClock());
  // The hosts file lives on tmpfs: containers bind-mount it, and it is
  // rewritten at each ConfigureNetwork after a reboot anyway.
  nest::agent::LinuxNetwork::Options no;
  no.state_dir = run_dir + "/network";
  nest::agent::LinuxNetwork network(no);
  containers.SetNetwork(&network);
  std::unique_ptr<nest::agent::GuestOps> guest = nest::agent::NewLinuxGuest();
  AgentServer server({NEST_VERSION}, containers, images, *guest,
                     nest::RealClock());
  spdlog::info("nest-agent {} starting (images in {}, runtime in {})",
               NEST_VERSION, state_dir, run_dir);

  if (connection_fd >= 0) {
    absl::Status s = server.Serve(nest::FdByteStream(connection_fd));
    return s.ok() ? 0 : 1;
  }
  if (!listen_path.empty()) return ServeUnixSocket(server, listen_path);
  return ServeDevice(server, device);
}

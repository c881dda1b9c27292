// ParseImageConfig on hostile JSON: it returns a value or an error (no
// exception escapes), what it reads written back as an image config reads
// the same, and the runtime config built from it is valid JSON whose
// process runs exactly the image's entrypoint and cmd.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "absl/strings/string_view.h"
#include "fuzz/check.h"
#include "images/runtime_config.h"
#include "nlohmann/json.hpp"

namespace {

using json = nlohmann::json;
using nest::images::ImageConfig;

json Write(const ImageConfig& c) {
  json ports = json::object();
  for (const std::string& p : c.exposed_ports) ports[p] = json::object();
  return json{{"config",
               {{"Entrypoint", c.entrypoint},
                {"Cmd", c.cmd},
                {"Env", c.env},
                {"WorkingDir", c.working_dir},
                {"User", c.user},
                {"StopSignal", c.stop_signal},
                {"Labels", c.labels},
                {"ExposedPorts", ports}}}};
}

bool Same(const ImageConfig& a, const ImageConfig& b) {
  std::vector<std::string> pa = a.exposed_ports, pb = b.exposed_ports;
  std::sort(pa.begin(), pa.end());
  std::sort(pb.begin(), pb.end());
  return a.entrypoint == b.entrypoint && a.cmd == b.cmd && a.env == b.env &&
         a.working_dir == b.working_dir && a.user == b.user &&
         a.stop_signal == b.stop_signal && a.labels == b.labels && pa == pb;
}

void CheckRuntimeConfig(const ImageConfig& image) {
  absl::StatusOr<std::string> text = nest::images::BuildRuntimeConfig(
      image, nest::images::WorkloadOverrides{});
  if (!text.ok()) {
    FUZZ_CHECK(text.status().code() == absl::StatusCode::kInvalidArgument);
    return;
  }
  json spec = json::parse(*text, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(spec.is_object());
  std::vector<std::string> args = image.entrypoint;
  args.insert(args.end(), image.cmd.begin(), image.cmd.end());
  FUZZ_CHECK(spec["process"]["args"] == json(args));
  std::string cwd = image.working_dir.empty() ? "/" : image.working_dir;
  FUZZ_CHECK(spec["process"]["cwd"] == cwd);
  FUZZ_CHECK(spec["root"]["path"] == "rootfs");
  // Every variable is NAME=VALUE with a non-empty name.
  for (const json& e : spec["process"]["env"]) {
    FUZZ_CHECK(e.is_string());
    std::string s = e.get<std::string>();
    size_t eq = s.find('=');
    FUZZ_CHECK(eq != std::string::npos && eq > 0);
  }
  if (!image.labels.empty())
    FUZZ_CHECK(spec["annotations"] == json(image.labels));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  absl::string_view text(reinterpret_cast<const char*>(data), size);
  absl::StatusOr<ImageConfig> image = nest::images::ParseImageConfig(text);
  if (!image.ok()) {
    FUZZ_CHECK(image.status().code() == absl::StatusCode::kInvalidArgument);
    return 0;
  }
  absl::StatusOr<ImageConfig> again =
      nest::images::ParseImageConfig(Write(*image).dump());
  FUZZ_CHECK(again.ok() && Same(*image, *again));
  CheckRuntimeConfig(*image);
  return 0;
}

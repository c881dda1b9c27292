// The dashboard's static files (web/), embedded into nestd at build time by
// web/embed.cmake, which generates the definition into the build dir.
#pragma once

#include <cstddef>

#include "absl/strings/string_view.h"

namespace nest::api {

struct WebAsset {
  const char* path;          // "/app.js"
  const char* content_type;  // "application/javascript; charset=utf-8"
  const unsigned char* data;
  size_t size;
};

// The file served at `path`, or null.
const WebAsset* FindWebAsset(absl::string_view path);

}  // namespace nest::api

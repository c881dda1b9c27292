// libxml2 helpers shared by the XML the vmm module builds (domains,
// storage pools, networks, filters). Internal to vmm/.
#pragma once

#include <libxml/tree.h>

#include <string>

#include "core/status.h"

namespace nest::vmm {

// Makes `root` the root of `doc` and returns the document as indented
// UTF-8 text.
[[nodiscard]] absl::StatusOr<std::string> SerializeXml(xmlDocPtr doc,
                                                       xmlNodePtr root);

}  // namespace nest::vmm

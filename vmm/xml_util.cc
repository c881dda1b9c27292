#include "vmm/xml_util.h"

namespace nest::vmm {

absl::StatusOr<std::string> SerializeXml(xmlDocPtr doc, xmlNodePtr root) {
  xmlChar* mem = nullptr;
  int size = 0;
  xmlDocSetRootElement(doc, root);
  xmlDocDumpFormatMemoryEnc(doc, &mem, &size, "UTF-8", 1);
  if (mem == nullptr) return absl::InternalError("libxml2 failed to serialize");
  std::string out(reinterpret_cast<char*>(mem), size);
  xmlFree(mem);
  return out;
}

}  // namespace nest::vmm

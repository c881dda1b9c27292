#include "cli/spec_files.h"

#include <fstream>
#include <iterator>

#include "absl/strings/escaping.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "core/container_files.h"
#include "core/validate.h"

namespace nest::cli {
namespace {

int LineOf(const YAML::Node& node) {
  int line = node.Mark().line;
  return line < 0 ? 0 : line + 1;
}

// Reads at most one byte past the limit: enough to say it is too big
// without reading a huge file.
std::optional<std::string> ReadLocal(const std::string& path,
                                     std::string* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = "cannot be read";
    return std::nullopt;
  }
  std::string data(static_cast<size_t>(kMaxContainerFileBytes) + 1, '\0');
  in.read(data.data(), static_cast<std::streamsize>(data.size()));
  if (in.bad()) {
    *error = "cannot be read";
    return std::nullopt;
  }
  data.resize(static_cast<size_t>(in.gcount()));
  return data;
}

// "0400", "0o400" (octal) or "256" (decimal), at most 0777.
std::optional<uint32_t> ParseMode(const std::string& text) {
  absl::string_view digits = text;
  int base = 10;
  if (digits.size() > 2 && digits[0] == '0' &&
      (digits[1] == 'o' || digits[1] == 'O')) {
    digits.remove_prefix(2);
    base = 8;
  } else if (digits.size() > 1 && digits[0] == '0') {
    base = 8;
  }
  if (digits.empty() || digits.size() > 8) return std::nullopt;
  uint32_t v = 0;
  for (char c : digits) {
    if (c < '0' || c >= '0' + base) return std::nullopt;
    v = v * base + static_cast<uint32_t>(c - '0');
  }
  if (v > kMaxContainerFileMode) return std::nullopt;
  return v;
}

}  // namespace

std::vector<FileFields> TakeFileFields(YAML::Node spec, const std::string& path,
                                       const std::string& base_dir,
                                       std::vector<NodeViolation>* violations) {
  std::vector<FileFields> out;
  if (!spec.IsMap() || !spec["files"] || !spec["files"].IsSequence()) {
    return out;
  }
  YAML::Node files = spec["files"];
  for (size_t i = 0; i < files.size(); ++i) {
    YAML::Node entry = files[i];
    if (!entry.IsMap()) continue;  // the schema reader reports it
    std::string at = absl::StrCat(path, ".files[", i, "].");
    FileFields fields;
    fields.index = i;
    if (YAML::Node from = entry["from_file"]; from && !from.IsNull()) {
      if (!from.IsScalar() || from.Scalar().empty()) {
        violations->push_back(
            {at + "from_file", "must be a file name", LineOf(from)});
      } else if (entry["content"] && !entry["content"].IsNull()) {
        violations->push_back({at + "from_file",
                               "give content or from_file, not both",
                               LineOf(from)});
      } else {
        std::string name = from.Scalar();
        std::string local = name[0] == '/' || base_dir.empty()
                                ? name
                                : absl::StrCat(base_dir, "/", name);
        std::string error;
        fields.content = ReadLocal(local, &error);
        if (!fields.content) {
          violations->push_back(
              {at + "from_file",
               absl::StrCat("names a local file that ", error, ": ",
                            QuoteForMessage(local),
                            " (relative to the spec file's directory)"),
               LineOf(from)});
        }
      }
    }
    if (entry["from_file"]) entry.remove("from_file");
    if (YAML::Node mode = entry["mode"]; mode && !mode.IsNull()) {
      fields.mode = mode.IsScalar() ? ParseMode(mode.Scalar()) : std::nullopt;
      if (!fields.mode) {
        violations->push_back(
            {at + "mode",
             absl::StrCat("must be a permission mode between 0 and 0777, in "
                          "octal such as \"0400\" or as an integer, got ",
                          QuoteForMessage(mode.IsScalar() ? mode.Scalar()
                                                          : "a non-scalar")),
             LineOf(mode)});
      }
    }
    if (entry["mode"]) entry.remove("mode");
    out.push_back(std::move(fields));
  }
  return out;
}

void ApplyFileFields(const std::vector<FileFields>& fields,
                     nest::v1::WorkloadSpec* spec) {
  for (const FileFields& f : fields) {
    if (static_cast<int>(f.index) >= spec->files_size()) continue;
    nest::v1::WorkloadFile* file =
        spec->mutable_files(static_cast<int>(f.index));
    if (f.content) file->set_content(*f.content);
    if (f.mode) file->set_mode(*f.mode);
  }
}

void CheckUtf8(const YAML::Node& root, const std::string& root_path,
               std::vector<NodeViolation>* violations) {
  // An explicit stack, not recursion, with bounds: aliases can make a
  // document refer to itself (`spec: &s {env: *s}`) or expand
  // exponentially, and nestctl must neither overflow its stack nor loop
  // (fuzz_spec found the first).
  constexpr int kMaxDepth = 64;
  constexpr int kMaxNodes = 100000;
  struct Item {
    YAML::Node node;
    std::string path;
    int depth;
  };
  std::vector<Item> todo;
  todo.push_back({root, root_path, 0});
  int visited = 0;
  while (!todo.empty()) {
    Item item = std::move(todo.back());
    todo.pop_back();
    const YAML::Node& node = item.node;
    const std::string& path = item.path;
    if (++visited > kMaxNodes || item.depth > kMaxDepth) {
      violations->push_back(
          {path,
           absl::StrCat("nested deeper than ", kMaxDepth, " levels or over ",
                        kMaxNodes,
                        " values once aliases are expanded (does an alias "
                        "refer to itself?)"),
           LineOf(node)});
      return;
    }
    auto join = [&](absl::string_view key) {
      return path.empty() ? std::string(key) : absl::StrCat(path, ".", key);
    };
    if (node.IsScalar()) {
      if (!IsValidUtf8(node.Scalar())) {
        violations->push_back({path,
                               absl::StrCat("must be valid UTF-8 text, got ",
                                            QuoteForMessage(node.Scalar())),
                               LineOf(node)});
      }
    } else if (node.IsSequence()) {
      for (size_t i = node.size(); i-- > 0;) {
        todo.push_back(
            {node[i], absl::StrCat(path, "[", i, "]"), item.depth + 1});
      }
    } else if (node.IsMap()) {
      std::vector<Item> fields;
      for (auto it = node.begin(); it != node.end(); ++it) {
        std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
        if (!IsValidUtf8(key)) {
          violations->push_back({join(absl::CEscape(key)),
                                 "field names must be valid UTF-8",
                                 LineOf(it->first)});
          continue;
        }
        fields.push_back({it->second, join(key), item.depth + 1});
      }
      // Reversed onto the stack: reported in document order.
      for (auto f = fields.rbegin(); f != fields.rend(); ++f) {
        todo.push_back(std::move(*f));
      }
    }
  }
}

}  // namespace nest::cli

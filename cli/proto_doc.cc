#include "cli/proto_doc.h"

#include <cstdint>
#include <limits>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/escaping.h"
#include "absl/strings/match.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_replace.h"
#include "absl/time/time.h"
#include "core/container_files.h"
#include "google/protobuf/timestamp.pb.h"

namespace nest::cli {
namespace {

using google::protobuf::Descriptor;
using google::protobuf::EnumDescriptor;
using google::protobuf::EnumValueDescriptor;
using google::protobuf::FieldDescriptor;
using google::protobuf::Message;
using google::protobuf::Reflection;

constexpr absl::string_view kTimestamp = "google.protobuf.Timestamp";
constexpr absl::string_view kTextBytes = "nest.v1.WorkloadFile.content";

// "RestartPolicy" -> "RESTART_POLICY_", the buf STANDARD enum value prefix.
std::string EnumPrefix(const EnumDescriptor* type) {
  std::string out;
  for (char c : type->name()) {
    if (absl::ascii_isupper(c) && !out.empty()) out.push_back('_');
    out.push_back(absl::ascii_toupper(c));
  }
  out.push_back('_');
  return out;
}

std::string FormatTimestamp(const Message& msg) {
  google::protobuf::Timestamp ts;
  ts.CopyFrom(msg);
  absl::Time t =
      absl::FromUnixSeconds(ts.seconds()) + absl::Nanoseconds(ts.nanos());
  return absl::FormatTime("%Y-%m-%dT%H:%M:%E*SZ", t, absl::UTCTimeZone());
}

Json ScalarToJson(const Message& msg, const FieldDescriptor* f, int index) {
  const Reflection* r = msg.GetReflection();
  bool rep = index >= 0;
  switch (f->cpp_type()) {
    case FieldDescriptor::CPPTYPE_INT32:
      return rep ? r->GetRepeatedInt32(msg, f, index) : r->GetInt32(msg, f);
    case FieldDescriptor::CPPTYPE_INT64:
      return rep ? r->GetRepeatedInt64(msg, f, index) : r->GetInt64(msg, f);
    case FieldDescriptor::CPPTYPE_UINT32:
      return rep ? r->GetRepeatedUInt32(msg, f, index) : r->GetUInt32(msg, f);
    case FieldDescriptor::CPPTYPE_UINT64:
      return rep ? r->GetRepeatedUInt64(msg, f, index) : r->GetUInt64(msg, f);
    case FieldDescriptor::CPPTYPE_DOUBLE:
      return rep ? r->GetRepeatedDouble(msg, f, index) : r->GetDouble(msg, f);
    case FieldDescriptor::CPPTYPE_FLOAT:
      return rep ? r->GetRepeatedFloat(msg, f, index) : r->GetFloat(msg, f);
    case FieldDescriptor::CPPTYPE_BOOL:
      return rep ? r->GetRepeatedBool(msg, f, index) : r->GetBool(msg, f);
    case FieldDescriptor::CPPTYPE_ENUM:
      return EnumShortName(rep ? r->GetRepeatedEnum(msg, f, index)
                               : r->GetEnum(msg, f));
    case FieldDescriptor::CPPTYPE_STRING: {
      std::string s =
          rep ? r->GetRepeatedString(msg, f, index) : r->GetString(msg, f);
      if (f->type() == FieldDescriptor::TYPE_BYTES) {
        // A spec file's content is text people wrote: shown as it is, so a
        // printed spec applies again unchanged. Binary content (not UTF-8,
        // only possible through from_file) is shown base64.
        if (f->full_name() == kTextBytes && IsValidUtf8(s)) return s;
        return absl::Base64Escape(s);
      }
      return s;
    }
    case FieldDescriptor::CPPTYPE_MESSAGE: {
      const Message& sub =
          rep ? r->GetRepeatedMessage(msg, f, index) : r->GetMessage(msg, f);
      if (sub.GetDescriptor()->full_name() == kTimestamp) {
        return FormatTimestamp(sub);
      }
      return MessageToJson(sub);
    }
  }
  return nullptr;
}

std::string MapKey(const Json& key) {
  return key.is_string() ? key.get<std::string>() : key.dump();
}

// --- YAML -> message --------------------------------------------------------

int LineOf(const YAML::Node& node) {
  int line = node.Mark().line;
  return line < 0 ? 0 : line + 1;
}

class Reader {
 public:
  explicit Reader(std::vector<NodeViolation>* violations)
      : violations_(violations) {}

  void ReadMessage(const YAML::Node& node, const std::string& path,
                   Message* msg) {
    if (!node.IsMap()) {
      Add(path, "must be a mapping of field names to values", node);
      return;
    }
    const Descriptor* d = msg->GetDescriptor();
    for (auto it = node.begin(); it != node.end(); ++it) {
      std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
      std::string fpath = path.empty() ? key : absl::StrCat(path, ".", key);
      const FieldDescriptor* f = d->FindFieldByName(key);
      if (f == nullptr) {
        Add(fpath,
            absl::StrCat("unknown field (expected one of: ", FieldNames(d),
                         ")"),
            it->first);
        continue;
      }
      // A copy: it->second refers into a temporary the iterator returns.
      const YAML::Node value = it->second;
      if (value.IsNull()) continue;
      if (f->is_map()) {
        ReadMap(value, fpath, msg, f);
      } else if (f->is_repeated()) {
        if (!value.IsSequence()) {
          Add(fpath, "must be a list", value);
          continue;
        }
        for (size_t i = 0; i < value.size(); ++i) {
          ReadValue(value[i], absl::StrCat(fpath, "[", i, "]"), msg, f, true);
        }
      } else {
        ReadValue(value, fpath, msg, f, false);
      }
    }
  }

 private:
  void Add(const std::string& field, std::string description,
           const YAML::Node& node) {
    violations_->push_back({field, std::move(description), LineOf(node)});
  }

  static std::string FieldNames(const Descriptor* d) {
    std::vector<std::string> names;
    for (int i = 0; i < d->field_count(); ++i) {
      names.push_back(d->field(i)->name());
    }
    return absl::StrJoin(names, ", ");
  }

  void ReadMap(const YAML::Node& node, const std::string& path, Message* msg,
               const FieldDescriptor* f) {
    if (!node.IsMap()) {
      Add(path, "must be a mapping", node);
      return;
    }
    const Reflection* r = msg->GetReflection();
    for (auto it = node.begin(); it != node.end(); ++it) {
      Message* entry = r->AddMessage(msg, f);
      const FieldDescriptor* kf = f->message_type()->map_key();
      const FieldDescriptor* vf = f->message_type()->map_value();
      std::string key = it->first.IsScalar() ? it->first.Scalar() : "?";
      std::string epath = absl::StrCat(path, ".", key);
      ReadValue(it->first, epath, entry, kf, false);
      if (it->second.IsNull()) {
        Add(epath, "must have a value", it->second);
        continue;
      }
      ReadValue(it->second, epath, entry, vf, false);
    }
  }

  bool ScalarText(const YAML::Node& node, const std::string& path,
                  absl::string_view expected, std::string* out) {
    if (!node.IsScalar()) {
      Add(path, absl::StrCat("must be ", expected), node);
      return false;
    }
    *out = node.Scalar();
    return true;
  }

  bool Integer(const YAML::Node& node, const std::string& path, int64_t lo,
               int64_t hi, int64_t* out) {
    std::string text;
    if (!ScalarText(node, path, "an integer", &text)) return false;
    if (!absl::SimpleAtoi(text, out) || *out < lo || *out > hi) {
      Add(path,
          absl::StrCat("must be an integer between ", lo, " and ", hi,
                       ", got \"", absl::CEscape(text), "\""),
          node);
      return false;
    }
    return true;
  }

  void ReadValue(const YAML::Node& node, const std::string& path, Message* msg,
                 const FieldDescriptor* f, bool add) {
    const Reflection* r = msg->GetReflection();
    std::string text;
    int64_t i = 0;
    switch (f->cpp_type()) {
      case FieldDescriptor::CPPTYPE_INT32:
        if (!Integer(node, path, std::numeric_limits<int32_t>::min(),
                     std::numeric_limits<int32_t>::max(), &i)) {
          return;
        }
        add ? r->AddInt32(msg, f, static_cast<int32_t>(i))
            : r->SetInt32(msg, f, static_cast<int32_t>(i));
        return;
      case FieldDescriptor::CPPTYPE_INT64:
        if (!Integer(node, path, std::numeric_limits<int64_t>::min(),
                     std::numeric_limits<int64_t>::max(), &i)) {
          return;
        }
        add ? r->AddInt64(msg, f, i) : r->SetInt64(msg, f, i);
        return;
      case FieldDescriptor::CPPTYPE_UINT32:
        if (!Integer(node, path, 0, std::numeric_limits<uint32_t>::max(), &i)) {
          return;
        }
        add ? r->AddUInt32(msg, f, static_cast<uint32_t>(i))
            : r->SetUInt32(msg, f, static_cast<uint32_t>(i));
        return;
      case FieldDescriptor::CPPTYPE_UINT64:
        if (!Integer(node, path, 0, std::numeric_limits<int64_t>::max(), &i)) {
          return;
        }
        add ? r->AddUInt64(msg, f, static_cast<uint64_t>(i))
            : r->SetUInt64(msg, f, static_cast<uint64_t>(i));
        return;
      case FieldDescriptor::CPPTYPE_DOUBLE:
      case FieldDescriptor::CPPTYPE_FLOAT: {
        double d = 0;
        if (!ScalarText(node, path, "a number", &text)) return;
        if (!absl::SimpleAtod(text, &d)) {
          Add(path,
              absl::StrCat("must be a number, got \"", absl::CEscape(text),
                           "\""),
              node);
          return;
        }
        if (f->cpp_type() == FieldDescriptor::CPPTYPE_FLOAT) {
          add ? r->AddFloat(msg, f, static_cast<float>(d))
              : r->SetFloat(msg, f, static_cast<float>(d));
        } else {
          add ? r->AddDouble(msg, f, d) : r->SetDouble(msg, f, d);
        }
        return;
      }
      case FieldDescriptor::CPPTYPE_BOOL: {
        if (!ScalarText(node, path, "true or false", &text)) return;
        std::string lower = absl::AsciiStrToLower(text);
        bool b;
        if (lower == "true" || lower == "yes" || lower == "on") {
          b = true;
        } else if (lower == "false" || lower == "no" || lower == "off") {
          b = false;
        } else {
          Add(path,
              absl::StrCat("must be true or false, got \"", absl::CEscape(text),
                           "\""),
              node);
          return;
        }
        add ? r->AddBool(msg, f, b) : r->SetBool(msg, f, b);
        return;
      }
      case FieldDescriptor::CPPTYPE_ENUM: {
        if (!ScalarText(node, path, "a name", &text)) return;
        const EnumValueDescriptor* v = FindEnum(f->enum_type(), text);
        if (v == nullptr) {
          Add(path,
              absl::StrCat("must be one of ", EnumChoices(f->enum_type()),
                           ", got \"", absl::CEscape(text), "\""),
              node);
          return;
        }
        add ? r->AddEnum(msg, f, v) : r->SetEnum(msg, f, v);
        return;
      }
      case FieldDescriptor::CPPTYPE_STRING:
        if (!ScalarText(node, path, "a string", &text)) return;
        add ? r->AddString(msg, f, text) : r->SetString(msg, f, text);
        return;
      case FieldDescriptor::CPPTYPE_MESSAGE: {
        Message* sub = add ? r->AddMessage(msg, f) : r->MutableMessage(msg, f);
        if (f->message_type()->full_name() == kTimestamp) {
          ReadTimestamp(node, path, sub);
        } else {
          ReadMessage(node, path, sub);
        }
        return;
      }
    }
  }

  void ReadTimestamp(const YAML::Node& node, const std::string& path,
                     Message* msg) {
    std::string text, error;
    if (!ScalarText(node, path, "an RFC 3339 time", &text)) return;
    absl::Time t;
    if (!absl::ParseTime(absl::RFC3339_full, text, &t, &error)) {
      Add(path,
          absl::StrCat("must be an RFC 3339 time, got \"", absl::CEscape(text),
                       "\""),
          node);
      return;
    }
    google::protobuf::Timestamp ts;
    ts.set_seconds(absl::ToUnixSeconds(t));
    ts.set_nanos(static_cast<int32_t>(
        (t - absl::FromUnixSeconds(ts.seconds())) / absl::Nanoseconds(1)));
    msg->CopyFrom(ts);
  }

  // Accepts "on_failure", "on-failure", "ON_FAILURE" and the full
  // "RESTART_POLICY_ON_FAILURE"; never the _UNSPECIFIED zero value.
  static const EnumValueDescriptor* FindEnum(const EnumDescriptor* type,
                                             absl::string_view text) {
    std::string upper = absl::AsciiStrToUpper(text);
    absl::StrReplaceAll({{"-", "_"}}, &upper);
    std::string prefix = EnumPrefix(type);
    if (!absl::StartsWith(upper, prefix)) upper = prefix + upper;
    const EnumValueDescriptor* v = type->FindValueByName(upper);
    if (v != nullptr && v->number() == 0) return nullptr;
    return v;
  }

  static std::string EnumChoices(const EnumDescriptor* type) {
    std::vector<std::string> names;
    for (int i = 0; i < type->value_count(); ++i) {
      if (type->value(i)->number() == 0) continue;
      names.push_back(EnumShortName(type->value(i)));
    }
    return absl::StrJoin(names, ", ");
  }

  std::vector<NodeViolation>* violations_;
};

// --- tree -> YAML -----------------------------------------------------------

bool NeedsQuotes(const std::string& s) {
  if (s.empty()) return true;
  std::string lower = absl::AsciiStrToLower(s);
  for (absl::string_view word :
       {"null", "~", "true", "false", "yes", "no", "on", "off", "y", "n"}) {
    if (lower == word) return true;
  }
  double d;
  if (absl::SimpleAtod(s, &d)) return true;
  int64_t i;
  if (absl::SimpleHexAtoi(s, &i) && absl::StartsWithIgnoreCase(s, "0x")) {
    return true;
  }
  return s.front() == ' ' || s.back() == ' ';
}

void Emit(YAML::Emitter& out, const Json& v) {
  switch (v.type()) {
    case Json::value_t::object:
      if (v.empty()) {
        out << YAML::Flow << YAML::BeginMap << YAML::EndMap;
        return;
      }
      out << YAML::BeginMap;
      for (auto it = v.begin(); it != v.end(); ++it) {
        out << YAML::Key << it.key() << YAML::Value;
        Emit(out, it.value());
      }
      out << YAML::EndMap;
      return;
    case Json::value_t::array:
      if (v.empty()) {
        out << YAML::Flow << YAML::BeginSeq << YAML::EndSeq;
        return;
      }
      out << YAML::BeginSeq;
      for (const Json& e : v) Emit(out, e);
      out << YAML::EndSeq;
      return;
    case Json::value_t::string: {
      const std::string& s = v.get_ref<const std::string&>();
      if (NeedsQuotes(s)) out << YAML::DoubleQuoted;
      out << s;
      return;
    }
    case Json::value_t::boolean:
      out << v.get<bool>();
      return;
    case Json::value_t::number_integer:
      out << v.get<int64_t>();
      return;
    case Json::value_t::number_unsigned:
      out << v.get<uint64_t>();
      return;
    case Json::value_t::number_float:
      out << v.get<double>();
      return;
    default:
      out << YAML::Null;
      return;
  }
}

}  // namespace

std::string EnumShortName(const EnumValueDescriptor* value) {
  std::string prefix = EnumPrefix(value->type());
  absl::string_view name = value->name();
  if (absl::StartsWith(name, prefix)) name.remove_prefix(prefix.size());
  return absl::AsciiStrToLower(name);
}

Json MessageToJson(const Message& msg) {
  const Reflection* r = msg.GetReflection();
  std::vector<const FieldDescriptor*> fields;
  r->ListFields(msg, &fields);
  Json out = Json::object();
  for (const FieldDescriptor* f : fields) {
    if (f->is_map()) {
      std::map<std::string, Json> sorted;
      for (int i = 0; i < r->FieldSize(msg, f); ++i) {
        const Message& entry = r->GetRepeatedMessage(msg, f, i);
        const Descriptor* ed = entry.GetDescriptor();
        sorted[MapKey(ScalarToJson(entry, ed->map_key(), -1))] =
            ScalarToJson(entry, ed->map_value(), -1);
      }
      Json map = Json::object();
      for (auto& [k, v] : sorted) map[k] = std::move(v);
      out[f->name()] = std::move(map);
    } else if (f->is_repeated()) {
      Json list = Json::array();
      for (int i = 0; i < r->FieldSize(msg, f); ++i) {
        list.push_back(ScalarToJson(msg, f, i));
      }
      out[f->name()] = std::move(list);
    } else {
      Json v = ScalarToJson(msg, f, -1);
      if (v.is_object() && v.empty()) continue;
      out[f->name()] = std::move(v);
    }
  }
  return out;
}

void YamlToMessage(const YAML::Node& node, const std::string& path,
                   Message* msg, std::vector<NodeViolation>* violations) {
  Reader(violations).ReadMessage(node, path, msg);
}

std::string JsonToYaml(const Json& doc) {
  YAML::Emitter out;
  out.SetIndent(2);
  Emit(out, doc);
  std::string text = out.c_str();
  if (!text.empty() && text.back() != '\n') text.push_back('\n');
  return text;
}

}  // namespace nest::cli

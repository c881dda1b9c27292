#include "core/log.h"

#include <cctype>
#include <cmath>
#include <memory>
#include <set>
#include <string>

#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_split.h"
#include "spdlog/pattern_formatter.h"
#include "spdlog/sinks/stdout_sinks.h"
#include "spdlog/spdlog.h"

namespace nest {
namespace {

// Appends `text` escaped as the body of a JSON string.
template <typename Out>
void AppendJsonEscaped(std::string_view text, Out& dest) {
  static constexpr char kHex[] = "0123456789abcdef";
  for (char c : text) {
    switch (c) {
      case '"':
        dest.append(std::string_view("\\\""));
        break;
      case '\\':
        dest.append(std::string_view("\\\\"));
        break;
      case '\n':
        dest.append(std::string_view("\\n"));
        break;
      default:
        if (static_cast<unsigned char>(c) < 0x20) {
          char esc[6] = {'\\',         'u', '0', '0', kHex[(c >> 4) & 0xf],
                         kHex[c & 0xf]};
          dest.append(esc, esc + 6);
        } else {
          dest.push_back(c);
        }
    }
  }
}

// %* : the log message escaped as the body of a JSON string.
class JsonMessageFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    AppendJsonEscaped(std::string_view(msg.payload.data(), msg.payload.size()),
                      dest);
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonMessageFlag>();
  }
};

// %& : the message's key=value words as extra fields.
class JsonFieldsFlag : public spdlog::custom_flag_formatter {
 public:
  void format(const spdlog::details::log_msg& msg, const std::tm&,
              spdlog::memory_buf_t& dest) override {
    std::string fields = JsonLogFields(
        absl::string_view(msg.payload.data(), msg.payload.size()));
    dest.append(fields.data(), fields.data() + fields.size());
  }
  std::unique_ptr<custom_flag_formatter> clone() const override {
    return std::make_unique<JsonFieldsFlag>();
  }
};

bool IsKey(absl::string_view k) {
  if (k.empty() || k[0] < 'a' || k[0] > 'z') return false;
  for (char c : k) {
    if (!((c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') || c == '_')) {
      return false;
    }
  }
  return k != "ts" && k != "level" && k != "logger" && k != "msg";
}

}  // namespace

std::string JsonLogFields(absl::string_view message) {
  std::string out;
  std::set<std::string> seen;
  for (absl::string_view word :
       absl::StrSplit(message, absl::ByAnyChar(" \t\n"), absl::SkipEmpty())) {
    size_t eq = word.find('=');
    if (eq == absl::string_view::npos) continue;
    absl::string_view key = word.substr(0, eq);
    absl::string_view value = word.substr(eq + 1);
    // A trailing comma or semicolon belongs to the sentence, not the value.
    while (!value.empty() && (value.back() == ',' || value.back() == ';')) {
      value.remove_suffix(1);
    }
    if (!IsKey(key) || value.empty() || !seen.insert(std::string(key)).second) {
      continue;
    }
    absl::StrAppend(&out, ",\"", key, "\":");
    double number = 0;
    // JSON numbers only: no "inf", "nan", hex or leading '+'/'.'.
    bool numeric = absl::SimpleAtod(value, &number) && std::isfinite(number) &&
                   (std::isdigit(static_cast<unsigned char>(value[0])) ||
                    (value[0] == '-' && value.size() > 1 &&
                     std::isdigit(static_cast<unsigned char>(value[1])))) &&
                   value.find_first_of("xXiInN") == absl::string_view::npos;
    if (numeric) {
      absl::StrAppend(&out, value);
    } else {
      out.push_back('"');
      AppendJsonEscaped(std::string_view(value.data(), value.size()), out);
      out.push_back('"');
    }
  }
  return out;
}

absl::StatusOr<LogFormat> ParseLogFormat(absl::string_view field,
                                         absl::string_view value) {
  if (value == "text") return LogFormat::kText;
  if (value == "json") return LogFormat::kJson;
  return absl::InvalidArgumentError(absl::StrCat(
      field, " must be \"text\" or \"json\", got \"", value, "\""));
}

absl::Status SetupLogging(absl::string_view program, LogFormat format,
                          absl::string_view level) {
  auto lvl = spdlog::level::from_str(std::string(level));
  if (lvl == spdlog::level::off && level != "off") {
    return absl::InvalidArgumentError(absl::StrCat(
        "--log-level must be one of trace|debug|info|warn|error|off, got \"",
        level, "\""));
  }
  auto logger = std::make_shared<spdlog::logger>(
      std::string(program), std::make_shared<spdlog::sinks::stderr_sink_mt>());
  if (format == LogFormat::kJson) {
    auto formatter = std::make_unique<spdlog::pattern_formatter>();
    formatter->add_flag<JsonMessageFlag>('*');
    formatter->add_flag<JsonFieldsFlag>('&').set_pattern(
        R"({"ts":"%Y-%m-%dT%H:%M:%S.%fZ","level":"%l","logger":"%n","msg":"%*"%&})");
    logger->set_formatter(std::move(formatter));
  } else {
    logger->set_pattern("%Y-%m-%dT%H:%M:%S.%e %^%L%$ %n: %v");
  }
  logger->set_level(lvl);
  spdlog::set_default_logger(logger);
  return absl::OkStatus();
}

}  // namespace nest

#include "core/metrics.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <thread>
#include <vector>

#include "absl/strings/numbers.h"
#include "absl/strings/str_split.h"
#include "doctest/doctest.h"

namespace nest::metrics {
namespace {

// A strict reader of the text format: every sample must follow its family's
// # HELP and # TYPE, label values are unescaped, values must parse.
struct Parsed {
  struct Line {
    std::string name;
    std::map<std::string, std::string> labels;
    double value = 0;
  };
  std::map<std::string, std::string> type, help;
  std::vector<Line> lines;
  std::string error;
};

std::string Unescape(const std::string& s, size_t* i, std::string* error) {
  std::string out;
  for (; *i < s.size(); ++*i) {
    char c = s[*i];
    if (c == '"') return out;
    if (c != '\\') {
      out.push_back(c);
      continue;
    }
    if (++*i == s.size()) break;
    char e = s[*i];
    if (e == 'n') {
      out.push_back('\n');
    } else if (e == '\\' || e == '"') {
      out.push_back(e);
    } else {
      *error = "bad escape";
    }
  }
  *error = "unterminated label value";
  return out;
}

std::string BaseName(const std::string& name,
                     const std::map<std::string, std::string>& type) {
  for (const char* suffix : {"_bucket", "_sum", "_count"}) {
    std::string s(suffix);
    if (name.size() > s.size() &&
        name.compare(name.size() - s.size(), s.size(), s) == 0) {
      std::string base = name.substr(0, name.size() - s.size());
      auto it = type.find(base);
      if (it != type.end() && it->second == "histogram") return base;
    }
  }
  return name;
}

Parsed Parse(const std::string& text) {
  Parsed p;
  REQUIRE(!text.empty());
  REQUIRE(text.back() == '\n');
  for (absl::string_view raw : absl::StrSplit(text, '\n', absl::SkipEmpty())) {
    std::string line(raw);
    if (line.rfind("# HELP ", 0) == 0 || line.rfind("# TYPE ", 0) == 0) {
      std::string rest = line.substr(7);
      size_t sp = rest.find(' ');
      if (sp == std::string::npos) return p.error = "no text: " + line, p;
      auto& m = line[2] == 'H' ? p.help : p.type;
      if (m.count(rest.substr(0, sp))) return p.error = "twice: " + line, p;
      m[rest.substr(0, sp)] = rest.substr(sp + 1);
      continue;
    }
    Parsed::Line l;
    size_t i = 0;
    while (i < line.size() && line[i] != '{' && line[i] != ' ') ++i;
    l.name = line.substr(0, i);
    if (i < line.size() && line[i] == '{') {
      ++i;
      while (i < line.size() && line[i] != '}') {
        size_t eq = line.find("=\"", i);
        if (eq == std::string::npos) return p.error = "no =\": " + line, p;
        std::string key = line.substr(i, eq - i);
        i = eq + 2;
        std::string err;
        std::string value = Unescape(line, &i, &err);
        if (i >= line.size() || line[i] != '"') {
          return p.error = err + ": " + line, p;
        }
        ++i;
        if (l.labels.count(key)) return p.error = "dup label: " + line, p;
        l.labels[key] = value;
        if (i < line.size() && line[i] == ',') ++i;
      }
      if (i >= line.size()) return p.error = "no }: " + line, p;
      ++i;
    }
    if (i >= line.size() || line[i] != ' ') {
      return p.error = "no value: " + line, p;
    }
    std::string v = line.substr(i + 1);
    if (v == "+Inf") {
      l.value = HUGE_VAL;
    } else if (v == "-Inf") {
      l.value = -HUGE_VAL;
    } else if (v == "NaN") {
      l.value = NAN;
    } else if (!absl::SimpleAtod(v, &l.value)) {
      return p.error = "bad value: " + line, p;
    }
    std::string base = BaseName(l.name, p.type);
    if (!p.type.count(base) || !p.help.count(base)) {
      return p.error = "sample before # TYPE/# HELP: " + line, p;
    }
    p.lines.push_back(std::move(l));
  }
  return p;
}

TEST_CASE("names are checked") {
  CHECK(ValidateMetricName("nest_vms", Type::kGauge).ok());
  CHECK(ValidateMetricName("a:b_c9", Type::kGauge).ok());
  CHECK(ValidateMetricName("nest_requests_total", Type::kCounter).ok());
  CHECK_FALSE(ValidateMetricName("nest_requests", Type::kCounter).ok());
  CHECK_FALSE(ValidateMetricName("9abc", Type::kGauge).ok());
  CHECK_FALSE(ValidateMetricName("", Type::kGauge).ok());
  CHECK_FALSE(ValidateMetricName("a-b", Type::kGauge).ok());
  CHECK(ValidateLabelName("host").ok());
  CHECK_FALSE(ValidateLabelName("__name__").ok());
  CHECK_FALSE(ValidateLabelName("a:b").ok());
  CHECK_FALSE(ValidateLabelName("1a").ok());

  Registry r;
  CHECK(r.AddGauge("nest_g", "g", {"x"}).ok());
  CHECK(absl::IsAlreadyExists(r.AddGauge("nest_g", "g", {}).status()));
  CHECK(absl::IsInvalidArgument(r.AddCounter("nest_c", "c", {}).status()));
  CHECK(absl::IsInvalidArgument(
      r.AddHistogram("nest_h", "h", {"le"}, {1}).status()));
  CHECK(absl::IsInvalidArgument(
      r.AddHistogram("nest_h", "h", {}, {2, 1}).status()));
  // A bad name handed to Render directly is refused, not rendered.
  Family bad{"bad name", "x", Type::kGauge, {{{}, 1}}, {}};
  CHECK(absl::IsInvalidArgument(Render({bad}).status()));
  Family bad_label{"ok", "x", Type::kGauge, {{{{"__x", "1"}}, 1}}, {}};
  CHECK(absl::IsInvalidArgument(Render({bad_label}).status()));
  Family twice{"ok", "x", Type::kGauge, {}, {}};
  CHECK(absl::IsInvalidArgument(Render({twice, twice}).status()));
}

TEST_CASE("values format and parse back exactly") {
  for (double v : {0.0, 1.0, -3.0, 0.1, 1e-9, 123456789.125, 1e300, 2.5e15}) {
    double back = 0;
    REQUIRE(absl::SimpleAtod(FormatValue(v), &back));
    CHECK(back == v);
  }
  CHECK(FormatValue(42) == "42");
  CHECK(FormatValue(NAN) == "NaN");
  CHECK(FormatValue(HUGE_VAL) == "+Inf");
  CHECK(FormatValue(-HUGE_VAL) == "-Inf");
}

TEST_CASE("label values and help are escaped and parse back") {
  const std::string hostile = "a\"b\\c\nd}{,=\" é";
  Registry r;
  auto* g = *r.AddGauge("nest_test_value", "help with \\ and\nnewline",
                        {"name", "other"});
  g->With({hostile, ""}).Set(7.5);
  g->With({"plain", "x"}).Set(-1);
  auto text = r.Render();
  REQUIRE(text.ok());
  Parsed p = Parse(*text);
  REQUIRE_MESSAGE(p.error.empty(), p.error);
  CHECK(p.help["nest_test_value"] == "help with \\\\ and\\nnewline");
  CHECK(p.type["nest_test_value"] == "gauge");
  REQUIRE(p.lines.size() == 2);
  std::map<std::string, double> by_name;
  for (const auto& l : p.lines) by_name[l.labels.at("name")] = l.value;
  CHECK(by_name.at(hostile) == 7.5);
  CHECK(by_name.at("plain") == -1);
}

TEST_CASE("counters only go up and are safe across threads") {
  Registry r;
  auto* c = *r.AddCounter("nest_things_total", "things", {"kind"});
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([c, t] {
      for (int i = 0; i < 1000; ++i) c->With({t % 2 ? "odd" : "even"}).Inc();
    });
  }
  for (auto& t : threads) t.join();
  c->With({"odd"}).Inc(-5);  // ignored
  Parsed p = Parse(*r.Render());
  REQUIRE(p.error.empty());
  REQUIRE(p.lines.size() == 2);
  for (const auto& l : p.lines) CHECK(l.value == 2000);
  CHECK(p.type["nest_things_total"] == "counter");
}

TEST_CASE("histograms are cumulative with +Inf, _sum and _count") {
  Registry r;
  auto* h =
      *r.AddHistogram("nest_op_seconds", "op time", {"op"}, {0.01, 0.1, 1});
  for (double v : {0.005, 0.01, 0.05, 0.5, 2.0, 3.0}) h->With({"a"}).Observe(v);
  Parsed p = Parse(*r.Render());
  REQUIRE_MESSAGE(p.error.empty(), p.error);
  std::map<std::string, double> buckets;
  double sum = -1, count = -1;
  for (const auto& l : p.lines) {
    CHECK(l.labels.at("op") == "a");
    if (l.name == "nest_op_seconds_bucket")
      buckets[l.labels.at("le")] = l.value;
    if (l.name == "nest_op_seconds_sum") sum = l.value;
    if (l.name == "nest_op_seconds_count") count = l.value;
  }
  // le is inclusive: 0.01 falls in the 0.01 bucket.
  CHECK(buckets.at("0.01") == 2);
  CHECK(buckets.at("0.1") == 3);
  CHECK(buckets.at("1") == 4);
  CHECK(buckets.at("+Inf") == 6);
  CHECK(count == 6);
  CHECK(sum == doctest::Approx(5.565));

  HistogramSample broken{{}, {1, 2}, {1}, 0};
  Family f{"nest_h", "h", Type::kHistogram, {}, {broken}};
  CHECK(absl::IsInvalidArgument(Render({f}).status()));
}

TEST_CASE("collectors append families computed at scrape time") {
  Registry r;
  int calls = 0;
  r.AddCollector([&calls](std::vector<Family>* out) {
    ++calls;
    out->push_back(
        {"nest_scraped", "s", Type::kGauge, {{{{"k", "v"}}, 3}}, {}});
  });
  Parsed p = Parse(*r.Render());
  REQUIRE(p.error.empty());
  REQUIRE(p.lines.size() == 1);
  CHECK(p.lines[0].value == 3);
  CHECK(calls == 1);
}

// Feeds `text` to Debian's promtool; its exit status.
int Promtool(const std::string& text) {
  char path[] = "/tmp/nest-metrics-XXXXXX";
  int fd = mkstemp(path);
  REQUIRE(fd >= 0);
  close(fd);
  std::ofstream(path) << text;
  std::string cmd =
      std::string("promtool check metrics < ") + path + " > /dev/null 2>&1";
  int rc = std::system(cmd.c_str());
  std::remove(path);
  return rc;
}

TEST_CASE("promtool accepts the output and rejects a broken one") {
  // promtool must be there: a missing checker fails the test.
  REQUIRE(std::system("promtool --version > /dev/null 2>&1") == 0);
  Registry r;
  auto* c = *r.AddCounter("nest_api_requests_total", "API requests.",
                          {"method", "code"});
  c->With({"/nest.v1.WorkloadService/Apply", "OK"}).Inc(3);
  auto* g =
      *r.AddGauge("nest_vm_memory_usage_bytes", "Memory of a VM.", {"vm"});
  g->With({"web-\"1\"\\x\ny"}).Set(1.5e9);
  auto* h =
      *r.AddHistogram("nest_placement_decision_seconds", "Placement time.", {},
                      ExponentialBuckets(0.0001, 4, 8));
  h->With({}).Observe(0.002);
  auto text = r.Render();
  REQUIRE(text.ok());
  CHECK(Promtool(*text) == 0);
  // The same check must be able to fail: a counter without _total and a
  // sample with an unterminated label value.
  CHECK(Promtool("# HELP x y\n# TYPE x counter\nx{a=\"b} 1\n") != 0);
}

}  // namespace
}  // namespace nest::metrics

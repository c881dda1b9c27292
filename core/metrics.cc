#include "core/metrics.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <type_traits>

#include "absl/strings/match.h"
#include "absl/strings/str_cat.h"

namespace nest::metrics {
namespace {

bool NameChar(char c, bool first, bool colon) {
  if ((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_') {
    return true;
  }
  if (colon && c == ':') return true;
  return !first && c >= '0' && c <= '9';
}

bool ValidName(absl::string_view s, bool colon) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    if (!NameChar(s[i], i == 0, colon)) return false;
  }
  return true;
}

const char* TypeName(Type t) {
  switch (t) {
    case Type::kCounter:
      return "counter";
    case Type::kGauge:
      return "gauge";
    case Type::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// Appends `{a="x",b="y"}` (with an optional extra label last), or nothing
// when there are no labels.
void AppendLabels(std::string* out, const Labels& labels,
                  const std::pair<std::string, std::string>* extra) {
  if (labels.empty() && extra == nullptr) return;
  out->push_back('{');
  bool first = true;
  auto one = [&](const std::pair<std::string, std::string>& l) {
    if (!first) out->push_back(',');
    first = false;
    absl::StrAppend(out, l.first, "=\"", EscapeLabelValue(l.second), "\"");
  };
  for (const auto& l : labels) one(l);
  if (extra != nullptr) one(*extra);
  out->push_back('}');
}

absl::Status CheckLabels(const Family& f, const Labels& labels) {
  for (const auto& [name, value] : labels) {
    absl::Status s = ValidateLabelName(name);
    if (!s.ok()) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", f.name, ": ", s.message()));
    }
    if (name == "le" && f.type == Type::kHistogram) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metric ", f.name, ": label \"le\" is reserved for buckets"));
    }
  }
  return absl::OkStatus();
}

Labels Zip(const std::vector<std::string>& names,
           const std::vector<std::string>& values) {
  Labels out;
  if (names.size() != values.size()) {
    out.emplace_back("invalid",
                     absl::StrCat(values.size(), " label values for ",
                                  names.size(), " labels"));
    return out;
  }
  for (size_t i = 0; i < names.size(); ++i)
    out.emplace_back(names[i], values[i]);
  return out;
}

}  // namespace

absl::Status ValidateMetricName(absl::string_view name, Type type) {
  if (!ValidName(name, /*colon=*/true)) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*, got \"", name, "\""));
  }
  if (type == Type::kCounter && !absl::EndsWith(name, "_total")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "counter name must end in \"_total\", got \"", name, "\""));
  }
  return absl::OkStatus();
}

absl::Status ValidateLabelName(absl::string_view name) {
  if (!ValidName(name, /*colon=*/false) || absl::StartsWith(name, "__")) {
    return absl::InvalidArgumentError(absl::StrCat(
        "label name must match [a-zA-Z_][a-zA-Z0-9_]* and not start with "
        "\"__\", got \"",
        name, "\""));
  }
  return absl::OkStatus();
}

std::string EscapeLabelValue(absl::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '"') {
      out += "\\\"";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string EscapeHelp(absl::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out.push_back(c);
    }
  }
  return out;
}

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::fabs(v) < 1e15) {
    return absl::StrCat(static_cast<int64_t>(v));
  }
  // The shortest %g that parses back to the same double (17 always does).
  char buf[32];
  for (int precision = 6; precision <= 17; ++precision) {
    std::snprintf(buf, sizeof(buf), "%.*g", precision, v);
    if (std::strtod(buf, nullptr) == v) break;
  }
  return buf;
}

absl::StatusOr<std::string> Render(const std::vector<Family>& families) {
  std::string out;
  std::vector<std::string> seen;
  for (const Family& f : families) {
    NEST_RETURN_IF_ERROR(ValidateMetricName(f.name, f.type));
    if (std::find(seen.begin(), seen.end(), f.name) != seen.end()) {
      return absl::InvalidArgumentError(
          absl::StrCat("metric ", f.name, " appears twice"));
    }
    seen.push_back(f.name);
    absl::StrAppend(&out, "# HELP ", f.name, " ", EscapeHelp(f.help), "\n");
    absl::StrAppend(&out, "# TYPE ", f.name, " ", TypeName(f.type), "\n");
    if (f.type != Type::kHistogram) {
      for (const Sample& s : f.samples) {
        NEST_RETURN_IF_ERROR(CheckLabels(f, s.labels));
        out += f.name;
        AppendLabels(&out, s.labels, nullptr);
        absl::StrAppend(&out, " ", FormatValue(s.value), "\n");
      }
      continue;
    }
    for (const HistogramSample& h : f.histograms) {
      NEST_RETURN_IF_ERROR(CheckLabels(f, h.labels));
      if (h.counts.size() != h.bounds.size() + 1 ||
          !std::is_sorted(h.bounds.begin(), h.bounds.end())) {
        return absl::InvalidArgumentError(absl::StrCat(
            "metric ", f.name, ": ", h.counts.size(), " bucket counts for ",
            h.bounds.size(), " bounds (want bounds + 1, bounds ascending)"));
      }
      uint64_t cumulative = 0;
      for (size_t i = 0; i <= h.bounds.size(); ++i) {
        cumulative += h.counts[i];
        std::pair<std::string, std::string> le(
            "le", i < h.bounds.size() ? FormatValue(h.bounds[i]) : "+Inf");
        absl::StrAppend(&out, f.name, "_bucket");
        AppendLabels(&out, h.labels, &le);
        absl::StrAppend(&out, " ", cumulative, "\n");
      }
      absl::StrAppend(&out, f.name, "_sum");
      AppendLabels(&out, h.labels, nullptr);
      absl::StrAppend(&out, " ", FormatValue(h.sum), "\n");
      absl::StrAppend(&out, f.name, "_count");
      AppendLabels(&out, h.labels, nullptr);
      absl::StrAppend(&out, " ", cumulative, "\n");
    }
  }
  return out;
}

void Counter::Inc(double v) {
  if (!(v > 0)) return;
  double cur = value_.load(std::memory_order_relaxed);
  while (
      !value_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

void Gauge::Add(double v) {
  double cur = value_.load(std::memory_order_relaxed);
  while (
      !value_.compare_exchange_weak(cur, cur + v, std::memory_order_relaxed)) {
  }
}

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(bounds_.size() + 1, 0) {}

void Histogram::Observe(double v) {
  size_t i =
      std::lower_bound(bounds_.begin(), bounds_.end(), v) - bounds_.begin();
  absl::MutexLock l(&mu_);
  ++counts_[i];
  sum_ += v;
}

HistogramSample Histogram::Snapshot() const {
  HistogramSample s;
  s.bounds = bounds_;
  absl::MutexLock l(&mu_);
  s.counts = counts_;
  s.sum = sum_;
  return s;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  double b = start;
  for (int i = 0; i < count; ++i, b *= factor) out.push_back(b);
  return out;
}

template <typename M>
M& FamilyOf<M>::With(const std::vector<std::string>& values) {
  absl::MutexLock l(&mu_);
  auto& child = children_[values];
  if (!child) {
    if constexpr (std::is_same_v<M, Histogram>) {
      child = std::make_unique<M>(bounds_);
    } else {
      child = std::make_unique<M>();
    }
  }
  return *child;
}

template <typename M>
Family FamilyOf<M>::Collect() const {
  Family f;
  f.name = name_;
  f.help = help_;
  f.type = type_;
  absl::MutexLock l(&mu_);
  for (const auto& [values, child] : children_) {
    if constexpr (std::is_same_v<M, Histogram>) {
      HistogramSample h = child->Snapshot();
      h.labels = Zip(label_names_, values);
      f.histograms.push_back(std::move(h));
    } else {
      f.samples.push_back({Zip(label_names_, values), child->value()});
    }
  }
  return f;
}

template class FamilyOf<Counter>;
template class FamilyOf<Gauge>;
template class FamilyOf<Histogram>;

absl::Status Registry::Reserve(const std::string& name, Type type,
                               const std::vector<std::string>& labels) {
  NEST_RETURN_IF_ERROR(ValidateMetricName(name, type));
  for (const auto& l : labels) {
    NEST_RETURN_IF_ERROR(ValidateLabelName(l));
    if (l == "le" && type == Type::kHistogram) {
      return absl::InvalidArgumentError(absl::StrCat(
          "metric ", name, ": label \"le\" is reserved for buckets"));
    }
  }
  if (std::find(names_.begin(), names_.end(), name) != names_.end()) {
    return absl::AlreadyExistsError(
        absl::StrCat("metric ", name, " is already registered"));
  }
  names_.push_back(name);
  return absl::OkStatus();
}

absl::StatusOr<CounterFamily*> Registry::AddCounter(
    std::string name, std::string help, std::vector<std::string> labels) {
  absl::MutexLock l(&mu_);
  NEST_RETURN_IF_ERROR(Reserve(name, Type::kCounter, labels));
  counters_.emplace_back(new CounterFamily(
      std::move(name), std::move(help), Type::kCounter, std::move(labels), {}));
  CounterFamily* f = counters_.back().get();
  live_.push_back([f] { return f->Collect(); });
  return f;
}

absl::StatusOr<GaugeFamily*> Registry::AddGauge(
    std::string name, std::string help, std::vector<std::string> labels) {
  absl::MutexLock l(&mu_);
  NEST_RETURN_IF_ERROR(Reserve(name, Type::kGauge, labels));
  gauges_.emplace_back(new GaugeFamily(std::move(name), std::move(help),
                                       Type::kGauge, std::move(labels), {}));
  GaugeFamily* f = gauges_.back().get();
  live_.push_back([f] { return f->Collect(); });
  return f;
}

absl::StatusOr<HistogramFamily*> Registry::AddHistogram(
    std::string name, std::string help, std::vector<std::string> labels,
    std::vector<double> bounds) {
  if (bounds.empty() || !std::is_sorted(bounds.begin(), bounds.end()) ||
      std::adjacent_find(bounds.begin(), bounds.end()) != bounds.end()) {
    return absl::InvalidArgumentError(absl::StrCat(
        "metric ", name, ": bucket bounds must be non-empty and ascending"));
  }
  absl::MutexLock l(&mu_);
  NEST_RETURN_IF_ERROR(Reserve(name, Type::kHistogram, labels));
  histograms_.emplace_back(
      new HistogramFamily(std::move(name), std::move(help), Type::kHistogram,
                          std::move(labels), std::move(bounds)));
  HistogramFamily* f = histograms_.back().get();
  live_.push_back([f] { return f->Collect(); });
  return f;
}

void Registry::AddCollector(Collector c) {
  absl::MutexLock l(&mu_);
  collectors_.push_back(std::move(c));
}

std::vector<Family> Registry::Collect() const {
  std::vector<std::function<Family()>> live;
  std::vector<Collector> collectors;
  {
    absl::MutexLock l(&mu_);
    live = live_;
    collectors = collectors_;
  }
  std::vector<Family> out;
  for (const auto& f : live) out.push_back(f());
  for (const auto& c : collectors) c(&out);
  return out;
}

absl::StatusOr<std::string> Registry::Render() const {
  return metrics::Render(Collect());
}

}  // namespace nest::metrics

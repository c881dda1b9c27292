// Prometheus text exposition (format 0.0.4) and the live metrics that feed
// it: counters, gauges and histograms grouped in labelled families.
//
// prometheus-cpp is not in Debian, so this is the small subset Nest needs.
// Two ways to expose a metric:
//  - live: register a family once (Registry::AddCounter …) and update its
//    children from any thread (Inc/Set/Observe are lock-free or take a
//    short per-family lock only the first time a label set is seen);
//  - at scrape time: a collector callback appends whole Families computed
//    from other state (the store, cached VM stats).
// Render() checks every name, escapes label values and help text, renders
// histograms cumulatively with an le="+Inf" bucket, and sorts nothing: the
// order is registration order, then label-set order (std::map).
//
// Thread-safety: Registry, the families and their children are
// thread-safe. Family pointers stay valid for the Registry's lifetime.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/strings/string_view.h"
#include "absl/synchronization/mutex.h"
#include "core/status.h"

namespace nest::metrics {

enum class Type { kCounter, kGauge, kHistogram };

using Labels = std::vector<std::pair<std::string, std::string>>;

struct Sample {
  Labels labels;
  double value = 0;
};

struct HistogramSample {
  Labels labels;
  std::vector<double> bounds;    // ascending upper bounds, without +Inf
  std::vector<uint64_t> counts;  // per bucket (not cumulative); size
                                 // bounds.size() + 1, the last is +Inf
  double sum = 0;
};

struct Family {
  std::string name;
  std::string help;
  Type type = Type::kGauge;
  std::vector<Sample> samples;              // counter and gauge
  std::vector<HistogramSample> histograms;  // histogram
};

// A metric name must match [a-zA-Z_:][a-zA-Z0-9_:]*; a counter's must end
// in "_total".
[[nodiscard]] absl::Status ValidateMetricName(absl::string_view name,
                                              Type type);
// A label name must match [a-zA-Z_][a-zA-Z0-9_]* and not start with "__";
// "le" is reserved for histograms.
[[nodiscard]] absl::Status ValidateLabelName(absl::string_view name);

// Escapes \ " and newline for a label value.
std::string EscapeLabelValue(absl::string_view v);
// Escapes \ and newline for HELP text.
std::string EscapeHelp(absl::string_view v);
// Shortest text that parses back to `v`: "NaN", "+Inf", "-Inf", integers
// without exponent.
std::string FormatValue(double v);

// Renders `families` as exposition text; INVALID_ARGUMENT names the first
// bad metric or label name, or a histogram whose counts do not fit.
[[nodiscard]] absl::StatusOr<std::string> Render(
    const std::vector<Family>& families);

class Counter {
 public:
  // `v` < 0 is ignored: a counter never goes down.
  void Inc(double v = 1);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  void Add(double v);
  double value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

class Histogram {
 public:
  explicit Histogram(std::vector<double> bounds);
  void Observe(double v);
  HistogramSample Snapshot() const;

 private:
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::vector<uint64_t> counts_ ABSL_GUARDED_BY(mu_);
  double sum_ ABSL_GUARDED_BY(mu_) = 0;
};

// Buckets from `start`, each `factor` times the previous, `count` of them.
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// A family of one metric type: one child per label-value tuple.
template <typename M>
class FamilyOf {
 public:
  // The child for `values` (one per label name, in order), created on first
  // use. A wrong number of values yields a child labelled "invalid" rather
  // than a crash in the middle of a request.
  M& With(const std::vector<std::string>& values);

 private:
  friend class Registry;
  FamilyOf(std::string name, std::string help, Type type,
           std::vector<std::string> label_names, std::vector<double> bounds)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)),
        bounds_(std::move(bounds)) {}
  Family Collect() const;

  const std::string name_, help_;
  const Type type_;
  const std::vector<std::string> label_names_;
  const std::vector<double> bounds_;
  mutable absl::Mutex mu_;
  std::map<std::vector<std::string>, std::unique_ptr<M>> children_
      ABSL_GUARDED_BY(mu_);
};

using CounterFamily = FamilyOf<Counter>;
using GaugeFamily = FamilyOf<Gauge>;
using HistogramFamily = FamilyOf<Histogram>;

class Registry {
 public:
  using Collector = std::function<void(std::vector<Family>*)>;

  // INVALID_ARGUMENT for a bad name or label name, ALREADY_EXISTS for a
  // name registered before.
  [[nodiscard]] absl::StatusOr<CounterFamily*> AddCounter(
      std::string name, std::string help, std::vector<std::string> labels);
  [[nodiscard]] absl::StatusOr<GaugeFamily*> AddGauge(
      std::string name, std::string help, std::vector<std::string> labels);
  [[nodiscard]] absl::StatusOr<HistogramFamily*> AddHistogram(
      std::string name, std::string help, std::vector<std::string> labels,
      std::vector<double> bounds);
  // Runs at every Collect(), after the live families.
  void AddCollector(Collector c);

  std::vector<Family> Collect() const;
  [[nodiscard]] absl::StatusOr<std::string> Render() const;

 private:
  absl::Status Reserve(const std::string& name, Type type,
                       const std::vector<std::string>& labels);

  mutable absl::Mutex mu_;
  std::vector<std::function<Family()>> live_ ABSL_GUARDED_BY(mu_);
  std::vector<std::string> names_ ABSL_GUARDED_BY(mu_);
  std::vector<Collector> collectors_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<CounterFamily>> counters_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<GaugeFamily>> gauges_ ABSL_GUARDED_BY(mu_);
  std::vector<std::unique_ptr<HistogramFamily>> histograms_
      ABSL_GUARDED_BY(mu_);
};

}  // namespace nest::metrics

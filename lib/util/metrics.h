// Metrics: counters, gauges and histograms with labels, kept in a Registry and rendered
// in the Prometheus text exposition format (version 0.0.4) for the HTTP status port.
//
//   static auto* requests = metrics::Registry::Default()
//       .AddCounterFamily("rutile_kv_requests_total", "KV requests served.", {"type"})
//       .value();
//   metrics::Counter* gets = requests->WithLabels({"get"});   // look up once, keep it
//   gets->Increment();                                         // one relaxed atomic add
//
// Updating a metric is a single atomic operation (histograms: a binary search over the
// buckets and two atomic adds); looking up a labelled child takes a lock, so hot paths
// keep the child pointer. Families and children live as long as their Registry (the
// default one is never destroyed), except children dropped with Family::Remove.
//
// Thread safety: everything here may be used from any thread or fiber. A rendering taken
// while metrics change sees each value at some moment during the rendering.

#ifndef RUTILE_UTIL_METRICS_H_
#define RUTILE_UTIL_METRICS_H_

#include <atomic>
#include <cstdint>
#include <initializer_list>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "absl/base/thread_annotations.h"
#include "absl/status/statusor.h"
#include "absl/synchronization/mutex.h"

namespace rutile::metrics {

// A monotonically increasing count.
class Counter {
 public:
  // Performance-critical path.
  void Increment(uint64_t n = 1) { value_.fetch_add(n, std::memory_order_relaxed); }
  uint64_t Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<uint64_t> value_{0};
};

// A value that goes up and down.
class Gauge {
 public:
  void Set(double v) { value_.store(v, std::memory_order_relaxed); }
  // Performance-critical path.
  void Add(double delta) { value_.fetch_add(delta, std::memory_order_relaxed); }
  void Sub(double delta) { Add(-delta); }
  void Increment() { Add(1); }
  void Decrement() { Add(-1); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0};
};

// Counts observations into fixed buckets. Bucket i counts observations v with
// bounds[i-1] < v <= bounds[i]; a last, implicit bucket takes the rest (le="+Inf").
class Histogram {
 public:
  // `bounds` must be strictly increasing and finite (Registry checks this).
  explicit Histogram(std::vector<double> bounds);

  // Performance-critical path.
  void Observe(double v);

  struct Snapshot {
    // Cumulative counts, one per bound plus +Inf (Prometheus' le semantics).
    std::vector<uint64_t> cumulative;
    double sum = 0;
    uint64_t count = 0;
  };
  Snapshot GetSnapshot() const;
  const std::vector<double>& bounds() const { return bounds_; }

 private:
  const std::vector<double> bounds_;
  const std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // bounds_.size() + 1 buckets.
  std::atomic<double> sum_{0};
};

// `count` bounds: start, start*factor, start*factor^2, ...
std::vector<double> ExponentialBuckets(double start, double factor, int count);
// `count` bounds: start, start+width, start+2*width, ...
std::vector<double> LinearBuckets(double start, double width, int count);

enum class MetricType { kCounter, kGauge, kHistogram };

// What every family shares; Registry renders through it.
class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  const std::string& help() const { return help_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }

  // Appends this family in Prometheus text format.
  virtual void Render(std::string* out) const = 0;

 protected:
  FamilyBase(std::string name, std::string help, MetricType type,
             std::vector<std::string> label_names)
      : name_(std::move(name)),
        help_(std::move(help)),
        type_(type),
        label_names_(std::move(label_names)) {}

 private:
  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
};

// The metrics of one name, one child per distinct set of label values.
template <typename T>
class Family : public FamilyBase {
 public:
  // Returns the child for `values` (one per label name, in order), creating it on first
  // use. A wrong number of values is a programming error and aborts with a message.
  T* WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(std::vector<std::string>(values.begin(), values.end()));
  }
  T* WithLabels(const std::vector<std::string>& values);

  // Drops the child for `values`; returns whether it existed. Pointers to it become
  // invalid, so only a caller that owns every user of that child should do this (for
  // example a region's metrics when the region is destroyed).
  bool Remove(const std::vector<std::string>& values);

  void Render(std::string* out) const override;

 private:
  friend class Registry;
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         std::vector<double> bounds)
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)),
        bounds_(std::move(bounds)) {}

  const std::vector<double> bounds_;  // Histograms only.
  mutable absl::Mutex mu_;
  // Ordered, so rendering is deterministic.
  std::map<std::vector<std::string>, std::unique_ptr<T>> children_ ABSL_GUARDED_BY(mu_);
};

// A set of metric families. Metric names must match [a-zA-Z_:][a-zA-Z0-9_:]*, label
// names [a-zA-Z_][a-zA-Z0-9_]* without a leading "__" (and not "le" on histograms).
class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The process-wide registry the status port exposes. Never destroyed.
  static Registry& Default();

  // Each Add* returns the family, creating it. Adding a name again with the same type,
  // help, label names (and bounds) returns the existing family; otherwise AlreadyExists.
  // InvalidArgument for a malformed name, label name or bucket list.
  absl::StatusOr<Family<Counter>*> AddCounterFamily(std::string_view name, std::string_view help,
                                                    std::vector<std::string> label_names);
  absl::StatusOr<Family<Gauge>*> AddGaugeFamily(std::string_view name, std::string_view help,
                                                std::vector<std::string> label_names);
  absl::StatusOr<Family<Histogram>*> AddHistogramFamily(std::string_view name,
                                                        std::string_view help,
                                                        std::vector<std::string> label_names,
                                                        std::vector<double> bounds);

  // Unlabelled shorthands: the family's single child.
  absl::StatusOr<Counter*> AddCounter(std::string_view name, std::string_view help);
  absl::StatusOr<Gauge*> AddGauge(std::string_view name, std::string_view help);
  absl::StatusOr<Histogram*> AddHistogram(std::string_view name, std::string_view help,
                                          std::vector<double> bounds);

  // Every family, sorted by name, in Prometheus text exposition format.
  std::string RenderText() const;

 private:
  template <typename T>
  absl::StatusOr<Family<T>*> Add(std::string_view name, std::string_view help, MetricType type,
                                 std::vector<std::string> label_names, std::vector<double> bounds);

  mutable absl::Mutex mu_;
  std::map<std::string, std::unique_ptr<FamilyBase>, std::less<>> families_ ABSL_GUARDED_BY(mu_);
};

// Formatting helpers, exposed for tests and for other text renderers.
namespace internal {
// A sample value as Prometheus writes it: integers without a fraction, others in the
// shortest form that reads back exactly, "+Inf", "-Inf", "NaN".
std::string FormatValue(double v);
// Escapes a label value: backslash, double quote and newline.
std::string EscapeLabelValue(std::string_view v);
// Escapes HELP text: backslash and newline.
std::string EscapeHelp(std::string_view v);
}  // namespace internal

}  // namespace rutile::metrics

#endif  // RUTILE_UTIL_METRICS_H_

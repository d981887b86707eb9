#include "util/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>
#include <type_traits>

#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"

namespace rutile::metrics {
namespace {

// Debian's Abseil has its own absl::string_view, which std::string_view does not convert to.
absl::string_view AsAbsl(std::string_view s) { return absl::string_view(s.data(), s.size()); }

bool IsMetricName(std::string_view s) {
  if (s.empty()) return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

bool IsLabelName(std::string_view s) {
  if (s.empty() || s.substr(0, 2) == "__") return false;
  for (size_t i = 0; i < s.size(); ++i) {
    const char c = s[i];
    const bool alpha = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
    if (!alpha && !(i > 0 && c >= '0' && c <= '9')) return false;
  }
  return true;
}

const char* TypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter:
      return "counter";
    case MetricType::kGauge:
      return "gauge";
    case MetricType::kHistogram:
      return "histogram";
  }
  return "untyped";
}

// `{a="x",b="y"}` for the family's labels plus an optional extra pair; "" when empty.
std::string LabelSet(const std::vector<std::string>& names, const std::vector<std::string>& values,
                     std::string_view extra_name = {}, std::string_view extra_value = {}) {
  if (names.empty() && extra_name.empty()) return "";
  std::string out = "{";
  for (size_t i = 0; i < names.size(); ++i) {
    if (i > 0) out += ',';
    absl::StrAppend(&out, names[i], "=\"", internal::EscapeLabelValue(values[i]), "\"");
  }
  if (!extra_name.empty()) {
    if (!names.empty()) out += ',';
    absl::StrAppend(&out, AsAbsl(extra_name), "=\"", AsAbsl(extra_value), "\"");
  }
  out += '}';
  return out;
}

}  // namespace

namespace internal {

std::string FormatValue(double v) {
  if (std::isnan(v)) return "NaN";
  if (std::isinf(v)) return v > 0 ? "+Inf" : "-Inf";
  if (v == std::trunc(v) && std::fabs(v) < 9007199254740992.0) {  // 2^53: exact integers.
    return absl::StrCat(static_cast<int64_t>(v));
  }
  char buf[64];
  auto [end, ec] = std::to_chars(buf, buf + sizeof(buf), v);
  return std::string(buf, end);
}

std::string EscapeLabelValue(std::string_view v) {
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
      out += c;
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view v) {
  std::string out;
  out.reserve(v.size());
  for (char c : v) {
    if (c == '\\') {
      out += "\\\\";
    } else if (c == '\n') {
      out += "\\n";
    } else {
      out += c;
    }
  }
  return out;
}

}  // namespace internal

Histogram::Histogram(std::vector<double> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_.size() + 1]) {
  for (size_t i = 0; i <= bounds_.size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double v) {
  // First bound >= v; NaN lands in the +Inf bucket.
  const size_t i = std::isnan(v)
                       ? bounds_.size()
                       : static_cast<size_t>(std::lower_bound(bounds_.begin(), bounds_.end(), v) -
                                             bounds_.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(v, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::GetSnapshot() const {
  Snapshot s;
  s.cumulative.resize(bounds_.size() + 1);
  uint64_t running = 0;
  for (size_t i = 0; i <= bounds_.size(); ++i) {
    running += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = running;
  }
  s.count = running;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  std::vector<double> out;
  double v = start;
  for (int i = 0; i < count; ++i, v *= factor) out.push_back(v);
  return out;
}

std::vector<double> LinearBuckets(double start, double width, int count) {
  std::vector<double> out;
  for (int i = 0; i < count; ++i) out.push_back(start + width * i);
  return out;
}

template <typename T>
T* Family<T>::WithLabels(const std::vector<std::string>& values) {
  if (values.size() != label_names().size()) {
    std::fprintf(stderr, "metrics: %s takes %zu label values, got %zu\n", name().c_str(),
                 label_names().size(), values.size());
    std::abort();
  }
  absl::MutexLock lock(&mu_);
  std::unique_ptr<T>& child = children_[values];
  if (child == nullptr) {
    if constexpr (std::is_same_v<T, Histogram>) {
      child = std::make_unique<Histogram>(bounds_);
    } else {
      child = std::make_unique<T>();
    }
  }
  return child.get();
}

template <typename T>
bool Family<T>::Remove(const std::vector<std::string>& values) {
  absl::MutexLock lock(&mu_);
  return children_.erase(values) > 0;
}

template <typename T>
void Family<T>::Render(std::string* out) const {
  absl::StrAppend(out, "# HELP ", name(), " ", internal::EscapeHelp(help()), "\n");
  absl::StrAppend(out, "# TYPE ", name(), " ", TypeName(type()), "\n");
  absl::MutexLock lock(&mu_);
  for (const auto& [values, child] : children_) {
    if constexpr (std::is_same_v<T, Counter>) {
      absl::StrAppend(out, name(), LabelSet(label_names(), values), " ", child->Value(), "\n");
    } else if constexpr (std::is_same_v<T, Gauge>) {
      absl::StrAppend(out, name(), LabelSet(label_names(), values), " ",
                      internal::FormatValue(child->Value()), "\n");
    } else {
      const Histogram::Snapshot s = child->GetSnapshot();
      for (size_t i = 0; i <= bounds_.size(); ++i) {
        const std::string le = i < bounds_.size() ? internal::FormatValue(bounds_[i]) : "+Inf";
        absl::StrAppend(out, name(), "_bucket", LabelSet(label_names(), values, "le", le), " ",
                        s.cumulative[i], "\n");
      }
      absl::StrAppend(out, name(), "_sum", LabelSet(label_names(), values), " ",
                      internal::FormatValue(s.sum), "\n");
      absl::StrAppend(out, name(), "_count", LabelSet(label_names(), values), " ", s.count, "\n");
    }
  }
}

template class Family<Counter>;
template class Family<Gauge>;
template class Family<Histogram>;

Registry& Registry::Default() {
  static Registry* registry = new Registry;
  return *registry;
}

template <typename T>
absl::StatusOr<Family<T>*> Registry::Add(std::string_view name, std::string_view help,
                                         MetricType type, std::vector<std::string> label_names,
                                         std::vector<double> bounds) {
  if (!IsMetricName(name)) {
    return absl::InvalidArgumentError(
        absl::StrCat("metrics: invalid metric name \"", AsAbsl(name), "\""));
  }
  std::set<std::string_view> seen;
  for (const std::string& label : label_names) {
    if (!IsLabelName(label) || (type == MetricType::kHistogram && label == "le")) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics: invalid label name \"", label, "\" in ", AsAbsl(name)));
    }
    if (!seen.insert(label).second) {
      return absl::InvalidArgumentError(
          absl::StrCat("metrics: duplicate label name \"", label, "\" in ", AsAbsl(name)));
    }
  }
  if (type == MetricType::kHistogram) {
    if (!bounds.empty() && std::isinf(bounds.back()) && bounds.back() > 0) bounds.pop_back();
    for (size_t i = 0; i < bounds.size(); ++i) {
      if (!std::isfinite(bounds[i]) || (i > 0 && !(bounds[i - 1] < bounds[i]))) {
        return absl::InvalidArgumentError(absl::StrCat(
            "metrics: histogram ", AsAbsl(name), " needs finite, strictly increasing bounds"));
      }
    }
  }

  absl::MutexLock lock(&mu_);
  auto it = families_.find(name);
  if (it != families_.end()) {
    auto* existing = dynamic_cast<Family<T>*>(it->second.get());
    if (existing == nullptr || existing->type() != type || existing->help() != help ||
        existing->label_names() != label_names || existing->bounds_ != bounds) {
      return absl::AlreadyExistsError(absl::StrCat(
          "metrics: ", AsAbsl(name), " is already registered with a different definition"));
    }
    return existing;
  }
  auto* family = new Family<T>(std::string(name), std::string(help), type, std::move(label_names),
                               std::move(bounds));
  families_.emplace(std::string(name), std::unique_ptr<FamilyBase>(family));
  return family;
}

absl::StatusOr<Family<Counter>*> Registry::AddCounterFamily(std::string_view name,
                                                            std::string_view help,
                                                            std::vector<std::string> label_names) {
  return Add<Counter>(name, help, MetricType::kCounter, std::move(label_names), {});
}

absl::StatusOr<Family<Gauge>*> Registry::AddGaugeFamily(std::string_view name,
                                                        std::string_view help,
                                                        std::vector<std::string> label_names) {
  return Add<Gauge>(name, help, MetricType::kGauge, std::move(label_names), {});
}

absl::StatusOr<Family<Histogram>*> Registry::AddHistogramFamily(
    std::string_view name, std::string_view help, std::vector<std::string> label_names,
    std::vector<double> bounds) {
  return Add<Histogram>(name, help, MetricType::kHistogram, std::move(label_names),
                        std::move(bounds));
}

absl::StatusOr<Counter*> Registry::AddCounter(std::string_view name, std::string_view help) {
  absl::StatusOr<Family<Counter>*> family = AddCounterFamily(name, help, {});
  if (!family.ok()) return family.status();
  return (*family)->WithLabels({});
}

absl::StatusOr<Gauge*> Registry::AddGauge(std::string_view name, std::string_view help) {
  absl::StatusOr<Family<Gauge>*> family = AddGaugeFamily(name, help, {});
  if (!family.ok()) return family.status();
  return (*family)->WithLabels({});
}

absl::StatusOr<Histogram*> Registry::AddHistogram(std::string_view name, std::string_view help,
                                                  std::vector<double> bounds) {
  absl::StatusOr<Family<Histogram>*> family = AddHistogramFamily(name, help, {}, std::move(bounds));
  if (!family.ok()) return family.status();
  return (*family)->WithLabels({});
}

std::string Registry::RenderText() const {
  std::string out;
  absl::MutexLock lock(&mu_);
  for (const auto& [name, family] : families_) family->Render(&out);
  return out;
}

}  // namespace rutile::metrics

#include "pd/config.h"

#include <functional>
#include <map>

#include "absl/strings/ascii.h"
#include "absl/strings/numbers.h"
#include "absl/strings/str_cat.h"
#include "absl/strings/str_join.h"
#include "absl/strings/str_split.h"
#include "absl/strings/string_view.h"
#include "absl/time/time.h"

namespace rutile::pd {
namespace {

enum class OptionType { kCount, kSize, kDuration, kLabels };

struct Option {
  OptionType type;
  std::function<uint64_t*(ScheduleConfig*)> field;
};

const std::map<std::string, Option, std::less<>>& Options() {
  static const auto* options = new std::map<std::string, Option, std::less<>>{
      {"max-replicas", {OptionType::kCount, [](ScheduleConfig* c) { return &c->max_replicas; }}},
      {"location-labels", {OptionType::kLabels, nullptr}},
      {"max-store-down-time",
       {OptionType::kDuration, [](ScheduleConfig* c) { return &c->max_store_down_time_micros; }}},
      {"region-max-size",
       {OptionType::kSize, [](ScheduleConfig* c) { return &c->region_max_size; }}},
      {"region-split-size",
       {OptionType::kSize, [](ScheduleConfig* c) { return &c->region_split_size; }}},
      {"region-max-keys",
       {OptionType::kCount, [](ScheduleConfig* c) { return &c->region_max_keys; }}},
      {"region-split-keys",
       {OptionType::kCount, [](ScheduleConfig* c) { return &c->region_split_keys; }}},
      {"max-merge-region-size",
       {OptionType::kSize, [](ScheduleConfig* c) { return &c->max_merge_region_size; }}},
      {"max-merge-region-keys",
       {OptionType::kCount, [](ScheduleConfig* c) { return &c->max_merge_region_keys; }}},
      {"split-merge-interval",
       {OptionType::kDuration, [](ScheduleConfig* c) { return &c->split_merge_interval_micros; }}},
      {"leader-schedule-limit",
       {OptionType::kCount, [](ScheduleConfig* c) { return &c->leader_schedule_limit; }}},
      {"region-schedule-limit",
       {OptionType::kCount, [](ScheduleConfig* c) { return &c->region_schedule_limit; }}},
      {"replica-schedule-limit",
       {OptionType::kCount, [](ScheduleConfig* c) { return &c->replica_schedule_limit; }}},
      {"merge-schedule-limit",
       {OptionType::kCount, [](ScheduleConfig* c) { return &c->merge_schedule_limit; }}},
      {"leader-operator-timeout",
       {OptionType::kDuration,
        [](ScheduleConfig* c) { return &c->leader_operator_timeout_micros; }}},
      {"region-operator-timeout",
       {OptionType::kDuration,
        [](ScheduleConfig* c) { return &c->region_operator_timeout_micros; }}},
  };
  return *options;
}

bool ParseSize(absl::string_view text, uint64_t* out) {
  static const std::pair<const char*, uint64_t> kUnits[] = {
      {"KIB", uint64_t{1} << 10}, {"MIB", uint64_t{1} << 20},
      {"GIB", uint64_t{1} << 30}, {"KB", uint64_t{1} << 10},
      {"MB", uint64_t{1} << 20},  {"GB", uint64_t{1} << 30},
      {"K", uint64_t{1} << 10},   {"M", uint64_t{1} << 20},
      {"G", uint64_t{1} << 30},   {"B", 1}};
  std::string upper = absl::AsciiStrToUpper(absl::StripAsciiWhitespace(text));
  uint64_t mult = 1;
  for (const auto& [suffix, m] : kUnits) {
    if (absl::EndsWith(upper, suffix)) {
      upper.resize(upper.size() - std::string_view(suffix).size());
      mult = m;
      break;
    }
  }
  uint64_t n;
  if (!absl::SimpleAtoi(upper, &n)) return false;
  if (mult != 1 && n > UINT64_MAX / mult) return false;
  *out = n * mult;
  return true;
}

std::string FormatDuration(uint64_t micros) {
  return absl::FormatDuration(absl::Microseconds(static_cast<int64_t>(micros)));
}

}  // namespace

std::string FormatSize(uint64_t bytes) {
  if (bytes != 0) {
    if (bytes % (uint64_t{1} << 30) == 0) return absl::StrCat(bytes >> 30, "GiB");
    if (bytes % (uint64_t{1} << 20) == 0) return absl::StrCat(bytes >> 20, "MiB");
    if (bytes % (uint64_t{1} << 10) == 0) return absl::StrCat(bytes >> 10, "KiB");
  }
  return absl::StrCat(bytes, "B");
}

absl::Status SetConfigOption(ScheduleConfig* config, std::string_view name,
                             std::string_view value) {
  auto it = Options().find(name);
  if (it == Options().end()) {
    return absl::NotFoundError(absl::StrCat("unknown config option: ", std::string(name)));
  }
  absl::string_view v(value.data(), value.size());
  const Option& opt = it->second;
  uint64_t n = 0;
  switch (opt.type) {
    case OptionType::kLabels: {
      std::vector<std::string> labels;
      for (absl::string_view part : absl::StrSplit(v, ',', absl::SkipWhitespace())) {
        labels.emplace_back(absl::StripAsciiWhitespace(part));
      }
      config->location_labels = std::move(labels);
      return absl::OkStatus();
    }
    case OptionType::kCount:
      if (!absl::SimpleAtoi(v, &n)) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad number for ", std::string(name), ": ", v));
      }
      break;
    case OptionType::kSize:
      if (!ParseSize(v, &n)) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad size for ", std::string(name), ": ", v));
      }
      break;
    case OptionType::kDuration: {
      absl::Duration d;
      if (!absl::ParseDuration(v, &d) || d < absl::ZeroDuration()) {
        return absl::InvalidArgumentError(
            absl::StrCat("bad duration for ", std::string(name), ": ", v));
      }
      n = static_cast<uint64_t>(absl::ToInt64Microseconds(d));
      break;
    }
  }
  if (name == "max-replicas" && n == 0) {
    return absl::InvalidArgumentError("max-replicas must be at least 1");
  }
  *opt.field(config) = n;
  return absl::OkStatus();
}

std::string ShowConfig(const ScheduleConfig& config) {
  ScheduleConfig copy = config;
  std::string out;
  for (const auto& [name, opt] : Options()) {
    std::string value;
    switch (opt.type) {
      case OptionType::kLabels:
        value = absl::StrJoin(config.location_labels, ",");
        break;
      case OptionType::kCount:
        value = absl::StrCat(*opt.field(&copy));
        break;
      case OptionType::kSize:
        value = FormatSize(*opt.field(&copy));
        break;
      case OptionType::kDuration:
        value = FormatDuration(*opt.field(&copy));
        break;
    }
    absl::StrAppend(&out, name, " = ", value, "\n");
  }
  return out;
}

}  // namespace rutile::pd

// PD's scheduling configuration (the `config show` / `config set` of pd-ctl). Plain data;
// the PD server serializes access (it holds one lock around cluster, operators and config).

#ifndef RUTILE_PD_CONFIG_H_
#define RUTILE_PD_CONFIG_H_

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "absl/status/status.h"

namespace rutile::pd {

inline constexpr uint64_t kMiB = uint64_t{1} << 20;

struct ScheduleConfig {
  // Replication: voters per region, and the store label keys that describe location from
  // the widest to the narrowest (for example {"zone", "host"}); replicas are spread over
  // distinct values, widest level first.
  uint64_t max_replicas = 3;
  std::vector<std::string> location_labels;

  // A store without a heartbeat for this long is down: its replicas are rebuilt elsewhere
  // and it receives no new ones.
  uint64_t max_store_down_time_micros = 30ull * 60 * 1'000'000;

  // Region size thresholds the stores' split checker uses (PD only holds them) and that the
  // merge checker respects when it sizes a merged region.
  uint64_t region_max_size = 144 * kMiB;
  uint64_t region_split_size = 96 * kMiB;
  uint64_t region_max_keys = 1'440'000;
  uint64_t region_split_keys = 960'000;

  // Regions smaller than both of these are merged into a neighbour.
  uint64_t max_merge_region_size = 20 * kMiB;
  uint64_t max_merge_region_keys = 200'000;
  // A region whose key range changed less than this long ago is not merged (so a region
  // just split is not merged back at once).
  uint64_t split_merge_interval_micros = 60ull * 60 * 1'000'000;

  // Operators of each kind allowed in flight at once.
  uint64_t leader_schedule_limit = 4;
  uint64_t region_schedule_limit = 64;
  uint64_t replica_schedule_limit = 64;
  uint64_t merge_schedule_limit = 8;

  // How long an operator may run before it is abandoned.
  uint64_t leader_operator_timeout_micros = 10ull * 1'000'000;
  uint64_t region_operator_timeout_micros = 10ull * 60 * 1'000'000;
};

// Sets one option by its pd-ctl name (kebab case, e.g. "max-store-down-time"). Durations
// take Go/absl syntax ("30m", "1h30m", "500ms"); sizes take an optional unit ("20MiB",
// "96MB", "1GiB", bare numbers are bytes); location-labels takes a comma-separated list.
// Returns NotFound for an unknown name and InvalidArgument for a bad value (then nothing
// changes).
absl::Status SetConfigOption(ScheduleConfig* config, std::string_view name, std::string_view value);

// Every option as "name = value" lines, sorted by name.
std::string ShowConfig(const ScheduleConfig& config);

// Formats a byte count with the largest binary unit that divides it ("20MiB", "1500B").
std::string FormatSize(uint64_t bytes);

}  // namespace rutile::pd

#endif  // RUTILE_PD_CONFIG_H_

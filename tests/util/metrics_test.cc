#include "util/metrics.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>
#include <string>
#include <thread>
#include <vector>

namespace rutile::metrics {
namespace {

TEST(MetricsTest, RendersCountersGaugesAndHistogramsInPrometheusTextFormat) {
  Registry r;
  Family<Counter>* requests =
      r.AddCounterFamily("kv_requests_total", "KV requests served.", {"type", "region"}).value();
  requests->WithLabels({"get", "1"})->Increment();
  requests->WithLabels({"get", "1"})->Increment(2);
  requests->WithLabels({"put", "2"})->Increment(5);
  Gauge* regions = r.AddGauge("store_regions", "Regions on this store.").value();
  regions->Set(12);
  regions->Add(0.5);
  Histogram* latency =
      r.AddHistogram("apply_seconds", "Apply latency.", {0.001, 0.01, 0.1}).value();
  latency->Observe(0.0005);
  latency->Observe(0.001);  // On a bound: counts in that bucket (le).
  latency->Observe(0.05);
  latency->Observe(3);

  EXPECT_EQ(r.RenderText(),
            "# HELP apply_seconds Apply latency.\n"
            "# TYPE apply_seconds histogram\n"
            "apply_seconds_bucket{le=\"0.001\"} 2\n"
            "apply_seconds_bucket{le=\"0.01\"} 2\n"
            "apply_seconds_bucket{le=\"0.1\"} 3\n"
            "apply_seconds_bucket{le=\"+Inf\"} 4\n"
            "apply_seconds_sum 3.0515\n"
            "apply_seconds_count 4\n"
            "# HELP kv_requests_total KV requests served.\n"
            "# TYPE kv_requests_total counter\n"
            "kv_requests_total{type=\"get\",region=\"1\"} 3\n"
            "kv_requests_total{type=\"put\",region=\"2\"} 5\n"
            "# HELP store_regions Regions on this store.\n"
            "# TYPE store_regions gauge\n"
            "store_regions 12.5\n");
}

TEST(MetricsTest, LabelledHistogramPutsLeLast) {
  Registry r;
  Family<Histogram>* h = r.AddHistogramFamily("size_bytes", "Sizes.", {"cf"}, {10, 100}).value();
  h->WithLabels({"write"})->Observe(50);
  EXPECT_EQ(r.RenderText(),
            "# HELP size_bytes Sizes.\n"
            "# TYPE size_bytes histogram\n"
            "size_bytes_bucket{cf=\"write\",le=\"10\"} 0\n"
            "size_bytes_bucket{cf=\"write\",le=\"100\"} 1\n"
            "size_bytes_bucket{cf=\"write\",le=\"+Inf\"} 1\n"
            "size_bytes_sum{cf=\"write\"} 50\n"
            "size_bytes_count{cf=\"write\"} 1\n");
}

TEST(MetricsTest, EscapesLabelValuesAndHelp) {
  Registry r;
  Family<Gauge>* g = r.AddGaugeFamily("g", "Line one\nback\\slash \"quoted\"", {"path"}).value();
  g->WithLabels({"a\\b \"c\"\nd"})->Set(-1.25);
  EXPECT_EQ(r.RenderText(),
            "# HELP g Line one\\nback\\\\slash \"quoted\"\n"
            "# TYPE g gauge\n"
            "g{path=\"a\\\\b \\\"c\\\"\\nd\"} -1.25\n");
}

TEST(MetricsTest, FormatsSpecialValues) {
  EXPECT_EQ(internal::FormatValue(0), "0");
  EXPECT_EQ(internal::FormatValue(-3), "-3");
  EXPECT_EQ(internal::FormatValue(0.1), "0.1");
  EXPECT_EQ(internal::FormatValue(1e300), "1e+300");
  EXPECT_EQ(internal::FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(internal::FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(internal::FormatValue(std::nan("")), "NaN");
}

TEST(MetricsTest, ReAddingTheSameDefinitionReturnsTheSameFamily) {
  Registry r;
  Family<Counter>* a = r.AddCounterFamily("c_total", "C.", {"x"}).value();
  Family<Counter>* b = r.AddCounterFamily("c_total", "C.", {"x"}).value();
  EXPECT_EQ(a, b);
  EXPECT_EQ(r.AddCounterFamily("c_total", "Other help.", {"x"}).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r.AddCounterFamily("c_total", "C.", {"y"}).status().code(),
            absl::StatusCode::kAlreadyExists);
  EXPECT_EQ(r.AddGaugeFamily("c_total", "C.", {"x"}).status().code(),
            absl::StatusCode::kAlreadyExists);
}

TEST(MetricsTest, RejectsMalformedDefinitions) {
  Registry r;
  EXPECT_EQ(r.AddCounter("", "h").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.AddCounter("9lives", "h").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.AddCounter("has-dash", "h").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(r.AddCounter("ns:sub_total", "h").ok());
  EXPECT_EQ(r.AddCounterFamily("a", "h", {"__reserved"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.AddCounterFamily("b", "h", {"x", "x"}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.AddHistogramFamily("c", "h", {"le"}, {1}).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.AddHistogram("d", "h", {2, 1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.AddHistogram("e", "h", {1, 1}).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.AddHistogram("f", "h", {std::nan("")}).status().code(),
            absl::StatusCode::kInvalidArgument);
  // A trailing +Inf is implied, so it is accepted and dropped.
  Histogram* h = r.AddHistogram("g", "h", {1, std::numeric_limits<double>::infinity()}).value();
  EXPECT_EQ(h->bounds(), std::vector<double>({1}));
}

TEST(MetricsTest, RemoveDropsAChild) {
  Registry r;
  Family<Counter>* f = r.AddCounterFamily("r_total", "R.", {"region"}).value();
  f->WithLabels({"1"})->Increment();
  f->WithLabels({"2"})->Increment();
  EXPECT_TRUE(f->Remove({"1"}));
  EXPECT_FALSE(f->Remove({"1"}));
  EXPECT_EQ(r.RenderText(),
            "# HELP r_total R.\n"
            "# TYPE r_total counter\n"
            "r_total{region=\"2\"} 1\n");
}

TEST(MetricsTest, BucketHelpers) {
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), std::vector<double>({1, 2, 4, 8}));
  EXPECT_EQ(LinearBuckets(0, 5, 3), std::vector<double>({0, 5, 10}));
}

TEST(MetricsTest, ConcurrentUpdatesAreNotLost) {
  Registry r;
  Counter* c = r.AddCounter("hits_total", "Hits.").value();
  Gauge* g = r.AddGauge("level", "Level.").value();
  Histogram* h = r.AddHistogram("obs", "Obs.", {0.5}).value();
  Family<Counter>* f = r.AddCounterFamily("per_total", "Per.", {"k"}).value();
  constexpr int kThreads = 4;
  constexpr int kIters = 100000;
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter* mine = f->WithLabels({t % 2 == 0 ? "even" : "odd"});
      for (int i = 0; i < kIters; ++i) {
        c->Increment();
        g->Add(1);
        h->Observe(i % 2 == 0 ? 0.25 : 1.0);
        mine->Increment();
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(c->Value(), uint64_t{kThreads} * kIters);
  EXPECT_EQ(g->Value(), double{kThreads} * kIters);
  const Histogram::Snapshot s = h->GetSnapshot();
  EXPECT_EQ(s.count, uint64_t{kThreads} * kIters);
  EXPECT_EQ(s.cumulative[0], uint64_t{kThreads} * kIters / 2);
  EXPECT_DOUBLE_EQ(s.sum, kThreads * (kIters / 2) * 1.25);
  EXPECT_EQ(f->WithLabels({"even"})->Value(), uint64_t{2} * kIters);
}

TEST(MetricsTest, WrongLabelCountAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry r;
  Family<Counter>* f = r.AddCounterFamily("w_total", "W.", {"a", "b"}).value();
  EXPECT_DEATH(f->WithLabels({"only one"}), "w_total takes 2 label values, got 1");
}

TEST(MetricsTest, DefaultRegistryIsShared) {
  Counter* a = Registry::Default().AddCounter("metrics_test_default_total", "T.").value();
  Counter* b = Registry::Default().AddCounter("metrics_test_default_total", "T.").value();
  EXPECT_EQ(a, b);
  a->Increment();
  EXPECT_NE(Registry::Default().RenderText().find("metrics_test_default_total 1\n"),
            std::string::npos);
}

}  // namespace
}  // namespace rutile::metrics

// Golden test: the learning-rate sequence over 30 iterations equals PyTorch 1.13's schedulers
// exactly (tests/golden/lr_schedule/make_lr_golden.py writes lr_golden.json).

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>  // nlohmann::json

#include <fstream>  // std::ifstream
#include <string>   // std::string

#include "img2img/config/enum_names.h"
#include "img2img/train/lr_schedule.h"

namespace img2img {
namespace {

SchedulerKind scheduler_kind(const std::string& name) {
  for (const auto& [kind, spelling] : enum_names<SchedulerKind>())
    if (spelling == name) return kind;
  ADD_FAILURE() << "unknown scheduler " << name;
  return SchedulerKind::kLinear;
}

TEST(LrScheduleTest, MatchesPyTorchSchedulersExactly) {
  std::ifstream in(std::string(IMG2IMG_SOURCE_DIR) + "/tests/golden/lr_schedule/lr_golden.json");
  ASSERT_TRUE(in.good());
  const nlohmann::json g = nlohmann::json::parse(in);
  for (const auto& c : g["cases"]) {
    SCOPED_TRACE(c["name"].get<std::string>());
    const auto& s = c["train"];
    TrainConfig config;
    config.scheduler = scheduler_kind(s["scheduler"]);
    config.learning_rate = s["learning_rate"];
    config.max_iterations = s["max_iterations"];
    config.linear_decay = s.value("linear_decay", config.linear_decay);
    config.step_size = s.value("step_size", config.step_size);
    config.gamma = s.value("gamma", config.gamma);
    const auto lrs = c["lr"].get<std::vector<double>>();
    ASSERT_EQ(lrs.size(), 30u);
    for (size_t t = 0; t < lrs.size(); ++t)
      EXPECT_EQ(scheduled_learning_rate(config, static_cast<int64_t>(t)), lrs[t]) << "iteration " << t;
  }
}

TEST(LrScheduleTest, CosineReachesZeroAtMaxIterations) {
  TrainConfig config;
  config.scheduler = SchedulerKind::kCosine;
  config.max_iterations = 50;
  EXPECT_EQ(scheduled_learning_rate(config, 0), config.learning_rate);
  EXPECT_EQ(scheduled_learning_rate(config, 50), 0.0);
  EXPECT_GT(scheduled_learning_rate(config, 49), 0.0);
}

}  // namespace
}  // namespace img2img

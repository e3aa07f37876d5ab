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

TEST(ScheduleWarningTest, LinearDecayLongerThanTheRunIsFlagged) {
  TrainConfig c;  // pix2pix defaults: 200 iterations, linear decay over the last 100
  EXPECT_EQ(schedule_warning(c), "");
  c.max_iterations = 2, c.linear_decay = 50;  // an example shrunk with --train.max_iterations=2
  const std::string w = schedule_warning(c);
  EXPECT_NE(w.find("train.linear_decay = 50 >= train.max_iterations = 2"), std::string::npos) << w;
  EXPECT_NE(w.find("--train.linear_decay=1"), std::string::npos) << w;
  // lr * (1 - (t + 1 - (2 - 50)) / 51) at t = 0: 2e-4 * 2 / 51
  EXPECT_NE(w.find("7.84e-06 at iteration 1"), std::string::npos) << w;
  c.scheduler = SchedulerKind::kCosine;  // only the linear schedule has a decay length
  EXPECT_EQ(schedule_warning(c), "");
}

// Adadelta at the pix2pix default 2e-4 barely moves (PyTorch's Adadelta default lr is 1.0).
TEST(OptimizerWarningTest, AdadeltaWithASmallLearningRateIsFlagged) {
  TrainConfig c;  // adam, 2e-4: no warning
  EXPECT_EQ(optimizer_warning(c), "");
  c.optimizer = OptimizerKind::kAdadelta;
  EXPECT_EQ(optimizer_warning(c),
            "train.optimizer = adadelta with train.learning_rate = 0.0002: Adadelta multiplies its adaptive step by "
            "the learning rate and PyTorch's default for it is 1.0, so at 0.0002 the weights barely change and the "
            "losses stay flat. Use --train.learning_rate=1.0.");
  c.learning_rate = 0.0099;
  EXPECT_NE(optimizer_warning(c), "");
  c.learning_rate = 0.01;  // the threshold: 0.01 and above are deliberate choices
  EXPECT_EQ(optimizer_warning(c), "");
  c.learning_rate = 1.0;
  EXPECT_EQ(optimizer_warning(c), "");
  c.learning_rate = 2e-4, c.optimizer = OptimizerKind::kSgd;  // only Adadelta has a default of 1.0
  EXPECT_EQ(optimizer_warning(c), "");
}

}  // namespace
}  // namespace img2img

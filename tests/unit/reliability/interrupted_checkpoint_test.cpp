// A stop (Ctrl-C/SIGTERM, here TrainOptions::stop_requested set before the run, so it lands after
// step 1 of the first iteration) inside an iteration never overwrites or relabels a completed
// iteration's checkpoint: after a --resume in place the checkpoint it resumed from stays byte for
// byte; where the last completed iteration has no checkpoint in the run folder, the partial weights
// get "_interrupted" in their name. --resume works from what is left. Paired and unpaired.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>       // fmt::format
#include <nlohmann/json.hpp>  // nlohmann::json
#include <opencv2/core.hpp>   // cv::Mat, cv::RNG

#include <atomic>  // std::atomic
#include <map>     // std::map

#include "img2img/config/unpaired_defaults.h"
#include "img2img/core/atomic_file.h"
#include "img2img/data/image_io.h"
#include "img2img/train/checkpoint.h"
#include "img2img/train/cycle_gan_trainer.h"
#include "img2img/train/trainer.h"
#include "img2img/train/training_state.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Every file below `dir` (relative path -> bytes); empty if `dir` does not exist.
std::map<std::string, std::string> files_below(const fs::path& dir) {
  std::map<std::string, std::string> out;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec))
    if (e.is_regular_file()) out[fs::relative(e.path(), dir).string()] = read_file(e.path());
  return out;
}

std::string manifest_status(const fs::path& run) {
  return nlohmann::json::parse(read_file(run / "outputs.json")).value("status", "");
}

class InterruptedCheckpointTest : public test::TempDirTest, public ::testing::WithParamInterface<bool> {
 protected:
  void SetUp() override {
    TempDirTest::SetUp();
    cv::RNG rng(7);
    for (int i = 0; i < 4; ++i) {
      cv::Mat x(16, 16, CV_32FC3);
      rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
      write_image(dir_ / "in" / fmt::format("{}.png", i), x, PixelDepth::k8);
      write_image(dir_ / "ref" / fmt::format("{}.png", i), cv::Scalar(1, 1, 1) - x, PixelDepth::k8);
    }
  }
  bool unpaired() const { return GetParam(); }

  // Tiny model, 2 steps per iteration, a checkpoint every iteration, in `run`.
  RunConfig config(const fs::path& run, int64_t iterations) const {
    RunConfig c = unpaired() ? unpaired_defaults() : RunConfig{};
    if (unpaired()) c.data.input_type = InputType::kMultipleUnpaired;
    c.data.input_dir = (dir_ / "in").string(), c.data.reference_dir = (dir_ / "ref").string();
    c.data.image_size = 16, c.data.batch_size = 2;
    c.generator.layers = 4, c.generator.initial_layer_size = 4;
    c.discriminator.layers = 1, c.discriminator.initial_layer_size = 4;
    c.train.max_iterations = iterations;
    c.output.run_dir = run.string();
    c.output.model_save_rate = 1;
    c.output.onnx_path = "";
    c.plot.type = PlotType::kDisabled;
    c.test.enabled = false;
    c.device.device = "cpu";
    c.device.cpu_threads = 1;
    return c;
  }

  // Trains `c`, resuming from `resume` (a run folder or checkpoint) unless empty; with `stop`, the
  // stop request is already set, so the run stops after step 1 of its first iteration.
  TrainSummary train(const RunConfig& c, const fs::path& resume, bool stop) const {
    static std::atomic<bool> stop_now{true};
    TrainOptions o{0};
    if (!resume.empty()) o.resume = find_resume_point(resume);
    if (stop) o.stop_requested = &stop_now;
    return unpaired() ? train_cycle_gan(c, o) : train_pix2pix(c, o);
  }
};

TEST_P(InterruptedCheckpointTest, ResumeInPlaceThenStopKeepsTheResumedCheckpointByteForByte) {
  const fs::path run = dir_ / "run";
  train(config(run, 2), "", false);
  const auto before = files_below(run / "checkpoints");
  ASSERT_FALSE(before.empty());

  // Resume in place, stopped inside iteration 3 before anything was saved.
  const TrainSummary s = train(config(run, 4), run, true);
  EXPECT_TRUE(s.interrupted);
  EXPECT_EQ(s.stop_reason, "interrupted in iteration 3 after step 1 of 2");
  EXPECT_EQ(files_below(run / "checkpoints"), before);  // same files, same bytes: nothing rewritten or added
  EXPECT_EQ(manifest_status(run), "interrupted");
  EXPECT_THAT(read_file(run / "train.log"), HasSubstr("the checkpoint of iteration 2 is already on disk and is kept"));

  // A second --resume continues from it and runs to the end.
  EXPECT_EQ(find_resume_point(run).iteration, 2);
  const TrainSummary done = train(config(run, 3), run, false);
  EXPECT_FALSE(done.interrupted);
  EXPECT_EQ(done.iterations, 3);
  EXPECT_EQ(manifest_status(run), "finished");
  EXPECT_EQ(find_resume_point(run).iteration, 3);
}

TEST_P(InterruptedCheckpointTest, WithoutACheckpointOfTheLastIterationThePartialWeightsGetTheirOwnLabel) {
  const fs::path run = dir_ / "run", branch = dir_ / "branch";
  train(config(run, 2), "", false);
  const auto before = files_below(run);

  // Resumed into a new folder that holds no checkpoint of iteration 2 yet (as with
  // output.model_save_rate > 1): stopped inside iteration 3.
  const TrainSummary s = train(config(branch, 4), run, true);
  EXPECT_TRUE(s.interrupted);
  EXPECT_EQ(s.final_generator.filename(), "generator_0_000002_interrupted.pt");
  const auto written = files_below(branch / "checkpoints");
  EXPECT_EQ(written.count("generator_0_000002.pt"), 0u);  // never under a completed iteration's name
  EXPECT_EQ(written.count("generator_0_000002_interrupted.json"), 1u);
  EXPECT_EQ(written.count("generator_0_000002_interrupted.optim.pt"), 1u);
  EXPECT_EQ(written.count("discriminator_0_000002_interrupted.pt"), 1u);
  EXPECT_EQ(written.count("generator_1_000002_interrupted.pt"), unpaired() ? 1u : 0u);
  EXPECT_EQ(read_checkpoint_meta(s.final_generator).iteration, 2);
  EXPECT_THAT(read_file(branch / "train.log"), HasSubstr("iteration 2 has no checkpoint on disk"));
  // The run it came from is untouched (its outputs.json included).
  EXPECT_EQ(files_below(run), before);

  // --resume picks the labelled checkpoint and repeats iteration 3 in full.
  const ResumePoint point = find_resume_point(branch);
  EXPECT_EQ(point.generator_weights.filename(), "generator_0_000002_interrupted.pt");
  EXPECT_EQ(point.iteration, 2);
  const TrainSummary done = train(config(branch, 3), branch, false);
  EXPECT_EQ(done.iterations, 3);
  EXPECT_EQ(done.final_generator.filename(), "generator_0_000003.pt");
  EXPECT_EQ(manifest_status(branch), "finished");

  // A fresh run stopped inside iteration 1 has no completed iteration at all: "_interrupted" too.
  const TrainSummary fresh = train(config(dir_ / "fresh", 2), "", true);
  EXPECT_EQ(fresh.final_generator.filename(), "generator_0_000000_interrupted.pt");
  EXPECT_EQ(train(config(dir_ / "fresh", 1), dir_ / "fresh", false).iterations, 1);
}

INSTANTIATE_TEST_SUITE_P(Trainers, InterruptedCheckpointTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Unpaired" : "Paired"; });

}  // namespace
}  // namespace img2img

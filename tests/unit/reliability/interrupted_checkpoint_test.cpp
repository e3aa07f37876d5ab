// A stop (Ctrl-C/SIGTERM, here TrainOptions::stop_requested set by the after_step hook after step 1
// of the first iteration) inside an iteration never overwrites or relabels a completed
// iteration's checkpoint: after a --resume in place the checkpoint it resumed from stays byte for
// byte; where the last completed iteration has no checkpoint in the run folder, the partial weights
// get "_interrupted" in their name. --resume works from what is left. A stop requested before the
// first step (Ctrl-C during setup) trains and saves nothing. A run killed after a checkpoint that
// was not a plot.rate iteration keeps every plot point up to it. Paired and unpaired.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>       // fmt::format
#include <nlohmann/json.hpp>  // nlohmann::json
#include <opencv2/core.hpp>   // cv::Mat, cv::RNG

#include <atomic>     // std::atomic
#include <map>        // std::map
#include <set>        // std::set
#include <sstream>    // std::istringstream
#include <stdexcept>  // std::runtime_error

#include "img2img/config/unpaired_defaults.h"
#include "img2img/core/atomic_file.h"
#include "img2img/data/image_io.h"
#include "img2img/run/checkpoint.h"
#include "img2img/train/trainer.h"
#include "img2img/train/trainer.h"
#include "img2img/train/training_state.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

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

  enum class Stop { kNone, kAfterFirstStep, kBeforeFirstStep };

  // Trains `c`, resuming from `resume` (a run folder or checkpoint) unless empty; `stop`: a stop is
  // requested after step 1 of its first iteration, or before the run (as a Ctrl-C during setup).
  TrainSummary train(const RunConfig& c, const fs::path& resume, Stop stop) const {
    std::atomic<bool> stop_now{stop == Stop::kBeforeFirstStep};
    TrainOptions o{0};
    if (!resume.empty()) o.resume = find_resume_point(resume);
    if (stop != Stop::kNone) o.stop_requested = &stop_now;
    if (stop == Stop::kAfterFirstStep) o.after_step = [&stop_now](int64_t, int64_t) { stop_now = true; };
    return unpaired() ? train_cycle_gan(c, o) : train_pix2pix(c, o);
  }
};

TEST_P(InterruptedCheckpointTest, ResumeInPlaceThenStopKeepsTheResumedCheckpointByteForByte) {
  const fs::path run = dir_ / "run";
  train(config(run, 2), "", Stop::kNone);
  const auto before = files_below(run / "checkpoints");
  ASSERT_FALSE(before.empty());

  // Resume in place, stopped inside iteration 3 before anything was saved.
  const TrainSummary s = train(config(run, 4), run, Stop::kAfterFirstStep);
  EXPECT_TRUE(s.interrupted);
  EXPECT_EQ(s.stop_reason, "interrupted in iteration 3 after step 1 of 2");
  EXPECT_EQ(files_below(run / "checkpoints"), before);  // same files, same bytes: nothing rewritten or added
  EXPECT_EQ(manifest_status(run), "interrupted");
  EXPECT_THAT(read_file(run / "train.log"), HasSubstr("the checkpoint of iteration 2 is already on disk and is kept"));
  // The run stands at the resumed iteration (outputs.json, run_end, the done line said 0) and its
  // newest model is the kept checkpoint.
  EXPECT_EQ(s.iterations, 2);
  EXPECT_EQ(nlohmann::json::parse(read_file(run / "outputs.json")).value("iterations", -1), 2);
  EXPECT_EQ(s.final_generator.filename().string(), "generator_0_2.pt");
  EXPECT_THAT(read_file(run / "train.log"), HasSubstr("done: 2 iterations"));

  // A second --resume continues from it and runs to the end.
  EXPECT_EQ(find_resume_point(run).iteration, 2);
  const TrainSummary done = train(config(run, 3), run, Stop::kNone);
  EXPECT_FALSE(done.interrupted);
  EXPECT_EQ(done.iterations, 3);
  EXPECT_EQ(manifest_status(run), "finished");
  EXPECT_EQ(find_resume_point(run).iteration, 3);
}

TEST_P(InterruptedCheckpointTest, WithoutACheckpointOfTheLastIterationThePartialWeightsGetTheirOwnLabel) {
  const fs::path run = dir_ / "run", branch = dir_ / "branch";
  train(config(run, 2), "", Stop::kNone);
  const auto before = files_below(run);

  // Resumed into a new folder that holds no checkpoint of iteration 2 yet (as with
  // output.model_save_rate > 1): stopped inside iteration 3.
  const TrainSummary s = train(config(branch, 4), run, Stop::kAfterFirstStep);
  EXPECT_TRUE(s.interrupted);
  EXPECT_EQ(s.final_generator.filename(), "generator_0_2_interrupted.pt");
  const auto written = files_below(branch / "checkpoints");
  EXPECT_EQ(written.count("generator_0_2.pt"), 0u);  // never under a completed iteration's name
  EXPECT_EQ(written.count("generator_0_2_interrupted.json"), 1u);
  EXPECT_EQ(written.count("generator_0_2_interrupted.optim.pt"), 1u);
  EXPECT_EQ(written.count("discriminator_0_2_interrupted.pt"), 1u);
  EXPECT_EQ(written.count("generator_1_2_interrupted.pt"), unpaired() ? 1u : 0u);
  EXPECT_EQ(read_checkpoint_meta(s.final_generator).iteration, 2);
  EXPECT_THAT(read_file(branch / "train.log"), HasSubstr("iteration 2 has no checkpoint on disk"));
  // The run it came from is untouched (its outputs.json included).
  EXPECT_EQ(files_below(run), before);

  // --resume picks the labelled checkpoint and repeats iteration 3 in full.
  const ResumePoint point = find_resume_point(branch);
  EXPECT_EQ(point.generator_weights.filename(), "generator_0_2_interrupted.pt");
  EXPECT_EQ(point.iteration, 2);
  const TrainSummary done = train(config(branch, 3), branch, Stop::kNone);
  EXPECT_EQ(done.iterations, 3);
  EXPECT_EQ(done.final_generator.filename(), "generator_0_3.pt");
  EXPECT_EQ(manifest_status(branch), "finished");

  // A fresh run stopped inside iteration 1 has no completed iteration at all: "_interrupted" too.
  const TrainSummary fresh = train(config(dir_ / "fresh", 2), "", Stop::kAfterFirstStep);
  EXPECT_EQ(fresh.final_generator.filename(), "generator_0_0_interrupted.pt");
  EXPECT_EQ(train(config(dir_ / "fresh", 1), dir_ / "fresh", Stop::kNone).iterations, 1);
}

TEST_P(InterruptedCheckpointTest, StopBeforeTheFirstStepTrainsAndSavesNothing) {
  // A fresh run: no step, no checkpoint (was: one step trained, then generator_0_0_interrupted.pt).
  const fs::path fresh = dir_ / "fresh";
  const TrainSummary s = train(config(fresh, 2), "", Stop::kBeforeFirstStep);
  EXPECT_TRUE(s.interrupted);
  EXPECT_TRUE(s.nothing_trained);
  EXPECT_EQ(s.iterations, 0);
  EXPECT_EQ(s.stop_reason, "interrupted before the first training step");
  EXPECT_TRUE(s.checkpoints.empty());
  EXPECT_TRUE(s.final_generator.empty());
  EXPECT_TRUE(files_below(fresh / "checkpoints").empty());
  EXPECT_EQ(manifest_status(fresh), "interrupted");
  const std::string log = read_file(fresh / "train.log");
  EXPECT_THAT(log, HasSubstr("interrupted before the first training step: nothing was trained yet and no checkpoint "
                             "was written"));
  EXPECT_THAT(log, Not(HasSubstr("iteration 1/2")));
  // The folder holds no model, so a new run may use it.
  EXPECT_EQ(train(config(fresh, 1), "", Stop::kNone).iterations, 1);

  // A resume in place: the checkpoint it resumed from stays as it was, and is still the resume point.
  const fs::path run = dir_ / "run";
  train(config(run, 2), "", Stop::kNone);
  const auto before = files_below(run / "checkpoints");
  const TrainSummary resumed = train(config(run, 4), run, Stop::kBeforeFirstStep);
  EXPECT_TRUE(resumed.nothing_trained);
  EXPECT_EQ(resumed.iterations, 2);
  EXPECT_TRUE(resumed.checkpoints.empty());
  EXPECT_EQ(files_below(run / "checkpoints"), before);
  EXPECT_EQ(manifest_status(run), "interrupted");
  EXPECT_THAT(read_file(run / "train.log"), HasSubstr("nothing was trained yet and nothing was saved; the checkpoint "
                                                      "of iteration 2 it resumed from is unchanged"));
  EXPECT_EQ(find_resume_point(run).iteration, 2);
}

// kill -9 (here: an exception out of the after_step hook) after the checkpoint of iteration 2 with
// plot.rate = 3: the checkpoint wrote the plot points too, so --resume continues them from
// iteration 1 (was: "kept ... 0 plot point(s)", the CSV starting at iteration 3).
TEST_P(InterruptedCheckpointTest, KillAfterACheckpointBetweenPlotIterationsKeepsEveryPlotPoint) {
  for (const PlotType type : {PlotType::kCsv, PlotType::kImage}) {
    SCOPED_TRACE(type == PlotType::kCsv ? "csv" : "image");
    const fs::path run = dir_ / (type == PlotType::kCsv ? "csv" : "image");
    RunConfig c = config(run, 4);
    c.plot.type = type;
    c.plot.rate = 3;
    TrainOptions o{0};
    o.after_step = [](int64_t iteration, int64_t) {
      if (iteration == 3) throw std::runtime_error("simulated kill -9 in iteration 3");
    };
    EXPECT_THROW(unpaired() ? train_cycle_gan(c, o) : train_pix2pix(c, o), std::runtime_error);
    ASSERT_EQ(find_resume_point(run).iteration, 2);
    EXPECT_FALSE(fs::exists(run / "plots" / "loss.png"));  // PNGs still follow plot.rate

    const TrainSummary resumed = train(c, run, Stop::kNone);
    EXPECT_EQ(resumed.iterations, 4);
    // 2 iterations x the loss and score series (paired 6, unpaired 12) + train SSIM (paired).
    EXPECT_THAT(read_file(run / "train.log"),
                HasSubstr(fmt::format("kept its outputs.json entries and {} plot point(s)", unpaired() ? 24 : 14)));
    std::map<std::string, std::vector<int64_t>> iterations;  // series -> iterations, in file order
    std::istringstream csv(read_file(run / "plots" / "loss.csv"));
    std::string line;
    std::getline(csv, line);  // header
    while (std::getline(csv, line)) {
      const size_t a = line.find(','), b = line.rfind(',');
      iterations[line.substr(a + 1, b - a - 1)].push_back(std::stoll(line.substr(0, a)));
    }
    EXPECT_EQ(iterations.size(), unpaired() ? 8u : 4u);
    for (const auto& [series, its] : iterations) EXPECT_EQ(its, (std::vector<int64_t>{1, 2, 3, 4})) << series;
    if (type == PlotType::kImage) EXPECT_TRUE(fs::exists(run / "plots" / "loss.png"));
  }
}

// With checkpoints off (output.model_path = ""), a stop writes no checkpoint and says so instead of
// promising one; the manifest still records the interrupted run.
TEST_P(InterruptedCheckpointTest, StopWithCheckpointsOffSaysNothingCanBeResumed) {
  const fs::path run = dir_ / "run";
  RunConfig c = config(run, 3);
  c.output.model_path = "";
  const TrainSummary s = train(c, "", Stop::kAfterFirstStep);
  EXPECT_TRUE(s.interrupted);
  EXPECT_TRUE(s.checkpoints.empty());
  EXPECT_TRUE(s.final_generator.empty());
  EXPECT_FALSE(fs::exists(run / "checkpoints"));
  const std::string log = read_file(run / "train.log");
  EXPECT_THAT(log, HasSubstr("interrupted in iteration 1 after step 1 of 2; writing the manifest (output.model_path "
                             "is empty: no checkpoint, nothing to resume)"));
  EXPECT_THAT(log, ::testing::Not(HasSubstr("writing a checkpoint")));
  EXPECT_EQ(manifest_status(run), "interrupted");
}

INSTANTIATE_TEST_SUITE_P(Trainers, InterruptedCheckpointTest, ::testing::Values(false, true),
                         [](const ::testing::TestParamInfo<bool>& p) { return p.param ? "Unpaired" : "Paired"; });

}  // namespace
}  // namespace img2img

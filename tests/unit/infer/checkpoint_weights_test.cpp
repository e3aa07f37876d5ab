// `infer` and `export` with --weights trained (infer/checkpoint_weights.h): the trained weights of a run
// with the moving average equal the X.pt of the same run trained without it (the average does not
// change training: docs/quality.md), for pix2pix and both CycleGAN generators; and the errors when the
// training state that holds them is missing, damaged or another checkpoint's.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>                      // fmt::format
#include <onnx/onnx_pb.h>                    // onnx::ModelProto
#include <opencv2/core.hpp>                  // cv::Mat, cv::norm
#include <torch/csrc/autograd/grad_mode.h>  // torch::NoGradGuard

#include <string>  // std::string
#include <vector>  // std::vector

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "img2img/infer/checkpoint_weights.h"
#include "img2img/infer/inference.h"
#include "img2img/models/factory.h"
#include "img2img/run/resume_point.h"
#include "img2img/train/trainer.h"
#include "support/opencv_onnx.h"
#include "support/test_support.h"
#include "support/tiny_run.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// The largest absolute difference between two images of the same size and type.
double max_diff(const cv::Mat& a, const cv::Mat& b) {
  EXPECT_EQ(a.size(), b.size());
  EXPECT_EQ(a.type(), b.type());
  return cv::norm(a, b, cv::NORM_INF);
}

std::string metadata(const onnx::ModelProto& model, const std::string& key) {
  for (const auto& p : model.metadata_props())
    if (p.key() == key) return p.value();
  return "<none>";
}

class CheckpointWeightsTest : public test::TempDirTest {
 protected:
  // The same tiny run (fixed seed, 1 thread: bit-for-bit repeatable) with the average on or off, into
  // run_dir; 2 iterations of 2 steps, a checkpoint after each.
  static RunConfig with_average(RunConfig c, double ema_decay, const fs::path& run_dir) {
    c.generator.ema_decay = ema_decay;
    c.train.seed = 5, c.train.max_iterations = 2, c.train.linear_decay = 0;  // a constant rate
    c.output.model_save_rate = 1;
    c.output.run_dir = run_dir.string();
    c.device.cpu_threads = 1;
    return c;
  }

  int img2img(const std::string& args, std::string* out) {
    return test::run_command(fmt::format("{} {} 2>&1", test::img2img_binary(), args), out);
  }

  // Copies X.pt and X.json of `weights` into `folder` (as a user who copied only the model); returns the copy.
  static fs::path copy_model_only(const fs::path& weights, const fs::path& folder) {
    fs::create_directories(folder);
    fs::copy_file(weights, folder / weights.filename());
    fs::copy_file(checkpoint_meta_path(weights), folder / checkpoint_meta_path(weights).filename());
    return folder / weights.filename();
  }

  // The trained-weights load of `weights` must throw CheckpointError containing every one of `parts`,
  // in the library and as `img2img infer` (exit 1, "error: ...").
  void expect_trained_error(const fs::path& weights, const std::vector<std::string>& parts) {
    const RunConfig config = checkpoint_config(read_checkpoint_meta(weights));
    UnetGenerator g(generator_options(config));
    try {
      load_checkpoint_weights(weights, read_checkpoint_meta(weights), *g, WeightsKind::kTrained);
      ADD_FAILURE() << "expected CheckpointError for " << weights;
    } catch (const CheckpointError& e) {
      for (const std::string& p : parts) EXPECT_THAT(e.what(), HasSubstr(p));
    }
    std::string out;
    EXPECT_EQ(img2img(fmt::format("infer --checkpoint '{}' --input '{}' --output '{}' --device cpu --weights trained",
                                  weights.string(), (dir_ / "in").string(), (dir_ / "never").string()),
                      &out),
              1)
        << out;
    EXPECT_THAT(out, HasSubstr("error: --weights trained: "));
    for (const std::string& p : parts) EXPECT_THAT(out, HasSubstr(p));
    EXPECT_FALSE(fs::exists(dir_ / "never"));
  }
};

TEST_F(CheckpointWeightsTest, TrainedWeightsEqualTheSameRunWithoutTheAverage) {
  const RunConfig c = test::tiny_paired_run(dir_);
  const TrainSummary on = train_pix2pix(with_average(c, 0.999, dir_ / "on"), TrainOptions{0});
  const TrainSummary off = train_pix2pix(with_average(c, 0, dir_ / "off"), TrainOptions{0});
  const fs::path in = dir_ / "in" / "0.png";
  const cv::Mat x = read_image(in).pixels;

  // In the library: the trained weights of `on` give the output of `off`'s X.pt, bit for bit.
  GeneratorRunner average(on.final_generator, "cpu"), trained(on.final_generator, "cpu", -1, WeightsKind::kTrained),
      plain(off.final_generator, "cpu");
  EXPECT_EQ(max_diff(trained.run(x), plain.run(x)), 0.0);
  EXPECT_GT(max_diff(average.run(x), plain.run(x)), 1e-4);  // the average is other weights
  EXPECT_TRUE(average.loaded().averaged);
  EXPECT_FALSE(trained.loaded().averaged);
  EXPECT_EQ(trained.loaded().file, training_state_path(on.final_generator));
  EXPECT_EQ(trained.loaded().note, "");
  EXPECT_THAT(average.loaded().description,
              HasSubstr("moving average of the trained weights (generator.ema_decay = 0.999, 4 updates)"));

  // The command: PNGs of --weights trained equal the run without the average's, and not the default's.
  std::string out;
  const auto infer = [&](const fs::path& checkpoint, const std::string& flags, const std::string& folder) {
    EXPECT_EQ(img2img(fmt::format("infer --checkpoint '{}' --input '{}' --output '{}' --device cpu {}",
                                  checkpoint.string(), in.string(), (dir_ / folder).string(), flags),
                      &out),
              0)
        << out;
    return read_image(dir_ / folder / "0.png").pixels;
  };
  const cv::Mat cli_trained = infer(on.final_generator, "--weights trained", "trained");
  EXPECT_THAT(out, HasSubstr(fmt::format("trained weights: {}", training_state_path(on.final_generator).string())));
  EXPECT_THAT(out, Not(HasSubstr("note:")));
  const cv::Mat cli_plain = infer(off.final_generator, "", "plain");
  EXPECT_THAT(out, HasSubstr("trained weights (the run kept no moving average)"));
  const cv::Mat cli_average = infer(on.final_generator, "--weights average", "average");
  EXPECT_THAT(out, HasSubstr("moving average of the trained weights"));
  EXPECT_EQ(max_diff(cli_trained, cli_plain), 0.0);
  EXPECT_GT(max_diff(cli_average, cli_plain), 0.0);

  // A run without the average: --weights trained uses its X.pt with a note saying so.
  const cv::Mat cli_off_trained = infer(off.final_generator, "--weights trained", "off_trained");
  EXPECT_THAT(out, HasSubstr(fmt::format("note: --weights trained: checkpoint '{}' holds no moving average",
                                         off.final_generator.string())));
  EXPECT_THAT(out, HasSubstr("already are the trained weights; using them"));
  EXPECT_EQ(max_diff(cli_off_trained, cli_plain), 0.0);

  // export: the ONNX file of the trained weights computes `off`'s generator; its metadata and line say which.
  const fs::path onnx_trained = dir_ / "trained.onnx", onnx_average = dir_ / "average.onnx";
  ASSERT_EQ(img2img(fmt::format("export --checkpoint '{}' --output '{}' --weights trained", on.final_generator.string(),
                                onnx_trained.string()),
                    &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr(fmt::format("trained weights: {}", training_state_path(on.final_generator).string())));
  ASSERT_EQ(img2img(fmt::format("export --checkpoint '{}' --output '{}'", on.final_generator.string(),
                                onnx_average.string()),
                    &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("moving average of the trained weights"));
  onnx::ModelProto m_trained, m_average;
  ASSERT_TRUE(m_trained.ParseFromString(read_file(onnx_trained)));
  ASSERT_TRUE(m_average.ParseFromString(read_file(onnx_average)));
  EXPECT_EQ(metadata(m_trained, "weights"), "trained");
  EXPECT_EQ(metadata(m_average, "weights"), "average");
  UnetGenerator reference(generator_options(checkpoint_config(read_checkpoint_meta(off.final_generator))));
  load_weights(off.final_generator, *reference);
  reference->eval();
  torch::NoGradGuard no_grad;
  const torch::Tensor t = torch::rand({1, 3, 32, 32});
  const torch::Tensor want = (reference(t * 2 - 1) + 1) * 0.5;  // the [0, 1] graph
  EXPECT_LT((test::run_onnx_in_opencv(onnx_trained, t) - want).abs().max().item<double>(), 1e-4);
  EXPECT_GT((test::run_onnx_in_opencv(onnx_average, t) - want).abs().max().item<double>(), 1e-4);
}

// CycleGAN: each generator's trained weights sit in its own training state (generator_K_N.optim.pt).
TEST_F(CheckpointWeightsTest, TrainedWeightsOfBothCycleGanGenerators) {
  const RunConfig c = test::tiny_unpaired_run(dir_);
  const TrainSummary on = train_cycle_gan(with_average(c, 0.999, dir_ / "on"), TrainOptions{0});
  const TrainSummary off = train_cycle_gan(with_average(c, 0, dir_ / "off"), TrainOptions{0});
  const cv::Mat a = read_image(dir_ / "in" / "0.png").pixels, b = read_image(dir_ / "ref" / "0.png").pixels;
  for (int64_t index : {0, 1}) {
    const cv::Mat& x = index == 0 ? a : b;
    GeneratorRunner average(on.run_dir, "cpu", index), trained(on.run_dir, "cpu", index, WeightsKind::kTrained),
        plain(off.run_dir, "cpu", index);
    EXPECT_EQ(trained.loaded().file.filename(), fmt::format("generator_{}_2.optim.pt", index));
    EXPECT_EQ(max_diff(trained.run(x), plain.run(x)), 0.0) << "generator " << index;
    EXPECT_GT(max_diff(average.run(x), plain.run(x)), 1e-4) << "generator " << index;
  }
  // The command picks generator 1 with --index 1 and its own state file.
  std::string out;
  ASSERT_EQ(img2img(fmt::format("export --checkpoint '{}' --index 1 --weights trained --output '{}'",
                                on.run_dir.string(), (dir_ / "g1.onnx").string()),
                    &out),
            0)
      << out;
  EXPECT_THAT(out, HasSubstr("generator_1_2.optim.pt"));
}

TEST_F(CheckpointWeightsTest, MissingOrForeignTrainingStateNamesFileAndFix) {
  const RunConfig c = test::tiny_paired_run(dir_);
  const TrainSummary on = train_pix2pix(with_average(c, 0.999, dir_ / "on"), TrainOptions{0});
  const TrainSummary off = train_pix2pix(with_average(c, 0, dir_ / "off"), TrainOptions{0});
  const fs::path pt = on.final_generator;  // generator_0_2.pt
  const std::string fix = "or use the moving average in the .pt (--weights average, the default)";

  // Only X.pt (and its .json) copied: the state file is missing.
  const fs::path alone = copy_model_only(pt, dir_ / "copied");
  expect_trained_error(alone, {fmt::format("checkpoint '{}' holds a moving average", alone.string()),
                               fmt::format("training state '{}', which does not exist", training_state_path(alone).string()),
                               "Copy 'generator_0_2.optim.pt' from the run's checkpoint folder beside the .pt", fix});
  // The default still works from X.pt alone.
  std::string out;
  EXPECT_EQ(img2img(fmt::format("infer --checkpoint '{}' --input '{}' --output '{}' --device cpu", alone.string(),
                                (dir_ / "in").string(), (dir_ / "average_out").string()),
                    &out),
            0)
      << out;

  // The state of a run without the average: no trained weights in it.
  fs::copy_file(training_state_path(off.final_generator), training_state_path(alone));
  expect_trained_error(alone, {fmt::format("training state '{}' holds no trained weights (no 'weight_average' entry)",
                                           training_state_path(alone).string()),
                               "belongs to another checkpoint", fix});

  // The state of another checkpoint of the same run (iteration 1): same shapes, other step count.
  fs::copy_file(training_state_path(on.checkpoints.at(0)), training_state_path(alone),
                fs::copy_options::overwrite_existing);
  expect_trained_error(alone, {"holds the trained weights after 2 updates of the average",
                               "is the average after 4; the state file belongs to another checkpoint", fix});

  // A truncated state file.
  const std::string bytes = read_file(training_state_path(pt));
  write_file_atomic(training_state_path(alone), bytes.substr(0, bytes.size() / 2));
  expect_trained_error(alone, {"is truncated or not an img2img training state",
                               training_state_path(alone).string(), "copy it again from the run's checkpoint folder", fix});

  // An unknown value is a flag error listing the choices.
  EXPECT_EQ(img2img(fmt::format("export --checkpoint '{}' --output '{}' --weights last", pt.string(),
                                (dir_ / "x.onnx").string()),
                    &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr("--weights: expected average or trained, got 'last'"));
  EXPECT_FALSE(fs::exists(dir_ / "x.onnx"));

  // The training state file itself given as the checkpoint (it sits beside the .pt, and holds the trained
  // weights): the error names it as such and the .pt to pass, not a missing 'X.optim.json'.
  const fs::path state = training_state_path(pt);
  for (const std::string command : {"export", "infer"}) {
    EXPECT_EQ(img2img(fmt::format("{} --checkpoint '{}' --output '{}'{}", command, state.string(),
                                  (dir_ / (command == "export" ? "y.onnx" : "y")).string(),
                                  command == "infer" ? " --input '" + (dir_ / "in").string() + "'" : ""),
                      &out),
              1)
        << out;
    EXPECT_THAT(out, HasSubstr(fmt::format("'{}' is a training state (optimiser, random state and the trained "
                                           "weights, for train --resume), not a checkpoint. Pass its checkpoint '{}' "
                                           "instead (with --weights trained",
                                           state.string(), pt.string())));
    EXPECT_THAT(out, Not(HasSubstr("optim.json")));
  }
}

}  // namespace
}  // namespace img2img

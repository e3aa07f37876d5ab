// Plain {iteration} file names (issue 14): checkpoints are found by their metadata, never by file name
// (plain 10 sorts before 9; a run may mix plain and zero-padded names), and run folders with the
// zero-padded names of earlier versions still resume, infer and export.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>      // fmt::format
#include <opencv2/core.hpp>  // cv::Mat, cv::RNG

#include <string>  // std::string

#include "img2img/core/atomic_file.h"
#include "img2img/data/image_io.h"
#include "img2img/run/checkpoint.h"
#include "img2img/train/trainer.h"
#include "img2img/train/training_state.h"
#include "support/test_support.h"
#include "support/tiny_run.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

class IterationNamesTest : public test::TempDirTest {
 protected:
  // 4 random 32 px RGB pairs in dir_/in and dir_/ref and a 1-iteration CPU run on them (tiny_run.h).
  RunConfig small_config() { return test::tiny_paired_run(dir_); }

  // `img2img ARGS` run in dir_; returns the exit code, its output in *out.
  int img2img(const std::string& args, std::string* out) {
    return test::run_command(fmt::format("cd '{}' && {} {}", dir_.string(), test::img2img_binary(), args), out);
  }
};


// Checkpoints are found by their .json metadata, never by file name: with plain names 10 sorts
// before 9, and a run may mix plain and zero-padded names (a resume with another model_path).
TEST_F(IterationNamesTest, NewestCheckpointIsFoundByIterationNotByName) {
  RunConfig c = small_config();
  c.train.max_iterations = 10;
  c.output.model_save_rate = 9;  // iterations 9 and 10 (the last)
  c.output.run_dir = (dir_ / "run").string();
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  EXPECT_EQ(s.final_generator.filename(), "generator_0_10.pt");
  ASSERT_TRUE(fs::exists(s.run_dir / "checkpoints" / "generator_0_9.pt"));
  fs::path weights;
  EXPECT_EQ(read_checkpoint_meta(s.run_dir, &weights).iteration, 10);
  EXPECT_EQ(weights.filename(), "generator_0_10.pt");
  TrainOptions options{0};
  options.resume = find_resume_point(s.run_dir);
  EXPECT_EQ(options.resume->iteration, 10);

  c.train.max_iterations = 11;
  c.output.model_path = "{run_dir}/checkpoints/{network}_{index}_{iteration:06}.pt";
  const TrainSummary padded = train_pix2pix(c, options);
  EXPECT_TRUE(fs::equivalent(padded.run_dir, s.run_dir));
  EXPECT_EQ(padded.final_generator.filename(), "generator_0_000011.pt");  // sorts first by name
  EXPECT_EQ(read_checkpoint_meta(s.run_dir, &weights).iteration, 11);
  EXPECT_EQ(weights.filename(), "generator_0_000011.pt");
  EXPECT_EQ(find_resume_point(s.run_dir).iteration, 11);
}

// A run written before {iteration} became plain: zero-padded file names, and a saved configuration
// whose templates say {iteration}. `infer`, `export` and `train --resume` of the run folder still
// find its newest checkpoint; the resumed run continues in that folder with plain names.
TEST_F(IterationNamesTest, OldRunWithPaddedNamesResumesInfersAndExports) {
  RunConfig c = small_config();
  c.train.max_iterations = 2;
  c.output.run_dir = (dir_ / "old").string();
  c.output.model_path = "{run_dir}/checkpoints/{network}_{index}_{iteration:06}.pt";
  c.output.onnx_path = "{run_dir}/onnx/generator_{index}_{iteration:06}.onnx";
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  ASSERT_EQ(s.final_generator.filename(), "generator_0_000002.pt");
  ASSERT_EQ(s.final_onnx.filename(), "generator_0_000002.onnx");
  // As an earlier version wrote it: the saved configurations say {iteration}.
  const auto unpad = [](const fs::path& file) {
    std::string text = read_file(file);
    for (size_t at; (at = text.find("{iteration:06}")) != std::string::npos;) text.replace(at, 14, "{iteration}");
    write_file_atomic(file, text);
  };
  unpad(s.run_dir / "config.toml");
  for (const auto& e : fs::directory_iterator(s.run_dir / "checkpoints"))
    if (e.path().extension() == ".json") unpad(e.path());
  EXPECT_THAT(read_checkpoint_meta(s.final_generator).config_toml,
              HasSubstr("model_path = \"{run_dir}/checkpoints/{network}_{index}_{iteration}.pt\""));

  std::string out;
  ASSERT_EQ(img2img("infer --checkpoint old --input in --output generated --device cpu", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("wrote 4 image(s)")) << out;
  EXPECT_THAT(out, HasSubstr("of iteration 2")) << out;
  EXPECT_TRUE(fs::exists(dir_ / "generated" / "0.png"));
  ASSERT_EQ(img2img("export --checkpoint old --output exported.onnx", &out), 0) << out;
  EXPECT_THAT(out, HasSubstr("generator_0_000002.pt")) << out;
  EXPECT_TRUE(fs::exists(dir_ / "exported.onnx"));

  ASSERT_EQ(img2img("train --plain-progress --resume old --train.max_iterations=3", &out), 0) << out;
  EXPECT_THAT(read_file(s.run_dir / "train.log"), HasSubstr("continuing run"));
  EXPECT_TRUE(fs::exists(s.run_dir / "checkpoints" / "generator_0_3.pt"));
  EXPECT_TRUE(fs::exists(s.run_dir / "onnx" / "generator_0_3.onnx"));
  EXPECT_TRUE(fs::exists(s.run_dir / "checkpoints" / "generator_0_000002.pt"));  // the old files stay
  fs::path weights;
  EXPECT_EQ(read_checkpoint_meta(s.run_dir, &weights).iteration, 3);
  EXPECT_EQ(weights.filename(), "generator_0_3.pt");
  EXPECT_EQ(find_resume_point(s.run_dir).iteration, 3);
}

}  // namespace
}  // namespace img2img

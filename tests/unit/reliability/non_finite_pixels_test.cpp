// NaN/inf pixels in float images (EXR, float TIFF) are rejected when the image is decoded, naming the
// file, how many pixels and the fix, on every load path: cached, streamed and device training data,
// unpaired domains, test sets, infer (which then writes nothing) and ssim.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>       // fmt::format
#include <nlohmann/json.hpp>  // nlohmann::json
#include <opencv2/core.hpp>  // cv::Mat, cv::RNG

#include <cmath>   // NAN, INFINITY
#include <limits>  // std::numeric_limits

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "img2img/data/paired_dataset.h"
#include "img2img/data/unpaired_dataset.h"
#include "img2img/infer/inference.h"
#include "img2img/infer/ssim_files.h"
#include "img2img/train/trainer.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

// Runs `load`; expects a DataError naming `file`, the pixel count "N pixel(s) of M" and the fix.
template <typename F>
void expect_non_finite_error(F load, const fs::path& file, int bad, int total) {
  try {
    load();
    ADD_FAILURE() << "expected a DataError for " << file;
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr(file.string()));
    EXPECT_THAT(e.what(), HasSubstr(fmt::format("has {} pixel(s) of {} with NaN or infinite values", bad, total)));
    EXPECT_THAT(e.what(), HasSubstr("Replace the NaN/inf values in the source"));
  }
}

class NonFinitePixelsTest : public test::TempDirTest {
 protected:
  // A random 16 x 16 RGB image in [0, 1].
  static cv::Mat random_image(uint64_t seed) {
    cv::Mat x(16, 16, CV_32FC3);
    cv::RNG rng(seed);
    rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
    return x;
  }
  // in/0..3 and ref/0..3 (8-bit PNG); input 2 is a float TIFF with 2 NaN pixels and one +inf sample.
  void make_pairs() {
    for (int i = 0; i < 4; ++i) {
      cv::Mat x = random_image(static_cast<uint64_t>(i) + 1);
      write_image(dir_ / "ref" / fmt::format("{}.png", i), x, PixelDepth::k8);
      if (i == 2) {
        x.at<cv::Vec3f>(3, 4)[0] = NAN;
        x.at<cv::Vec3f>(3, 4)[2] = NAN;  // same pixel: counted once
        x.at<cv::Vec3f>(9, 1)[1] = NAN;
        x.at<cv::Vec3f>(15, 15)[2] = INFINITY;
        write_image(bad_input(), x, PixelDepth::kFloat);
      } else {
        write_image(dir_ / "in" / fmt::format("{}.png", i), x, PixelDepth::k8);
      }
    }
  }
  fs::path bad_input() const { return dir_ / "in" / "2.tif"; }

  DataSource source() const {
    DataSource s;
    s.input_dir = (dir_ / "in").string(), s.reference_dir = (dir_ / "ref").string();
    return s;
  }
};

TEST_F(NonFinitePixelsTest, FloatTiffAndExrWithNanOrInfAreRejectedAtDecode) {
  make_pairs();
  expect_non_finite_error([&] { read_image(bad_input()); }, bad_input(), 3, 256);
  try {
    read_image(bad_input());
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("first at x 4, y 3"));
    EXPECT_THAT(e.what(), HasSubstr("they would make every loss NaN"));  // training data, the default
  }
  // A 1-channel EXR with -inf: the same check (the sign does not matter).
  cv::Mat grey(8, 8, CV_32FC1, cv::Scalar(0.5));
  grey.at<float>(7, 0) = -std::numeric_limits<float>::infinity();
  write_image(dir_ / "grey.exr", grey, PixelDepth::kFloat);
  expect_non_finite_error([&] { read_image(dir_ / "grey.exr"); }, dir_ / "grey.exr", 1, 64);
  // Finite float images (values outside [0, 1] included) still load.
  cv::Mat hdr = random_image(9) * 4.0;
  write_image(dir_ / "hdr.exr", hdr, PixelDepth::kFloat);
  const DecodedImage d = read_image(dir_ / "hdr.exr");
  EXPECT_EQ(d.depth, PixelDepth::kFloat);
  EXPECT_GT(cv::norm(d.pixels, cv::NORM_INF), 1.0);
}

TEST_F(NonFinitePixelsTest, EveryDatasetStorageRejectsTheFile) {
  make_pairs();
  DataSource cached = source();
  expect_non_finite_error([&] { PairedDataset(cached, 3, 16, 0); }, bad_input(), 3, 256);
  DataSource streamed = source();
  streamed.memory_budget_mb = 1e-6;  // smaller than one sample: streamed from disk
  streamed.worker_threads = 2;
  expect_non_finite_error([&] { PairedDataset(streamed, 3, 16, 0); }, bad_input(), 3, 256);
  DataSource device = source();
  device.storage = Storage::kDevice;
  expect_non_finite_error([&] { PairedDataset(device, 3, 16, 0); }, bad_input(), 3, 256);
  DataSource unpaired = source();
  unpaired.input_type = InputType::kMultipleUnpaired;
  expect_non_finite_error([&] { UnpairedDataset(unpaired, 3, 16, 0); }, bad_input(), 3, 256);
}

TEST_F(NonFinitePixelsTest, TrainingWithABadTestSetFailsBeforeTheFirstStep) {
  make_pairs();
  // Clean training data; the bad pair is only in the test set.
  for (int i = 0; i < 4; ++i) {
    write_image(dir_ / "clean" / fmt::format("{}.png", i), random_image(static_cast<uint64_t>(i) + 20), PixelDepth::k8);
  }
  RunConfig c;
  c.data.input_dir = (dir_ / "clean").string(), c.data.reference_dir = (dir_ / "ref").string();
  c.data.image_size = 16, c.data.batch_size = 2;
  c.generator.layers = 4, c.generator.initial_layer_size = 4;
  c.discriminator.layers = 1, c.discriminator.initial_layer_size = 4;
  c.train.max_iterations = 1;
  c.test.enabled = true;
  c.test.input_dir = (dir_ / "in").string(), c.test.reference_dir = (dir_ / "ref").string();
  c.output.run_dir = (dir_ / "run").string();
  c.output.onnx_path = "";
  c.plot.type = PlotType::kDisabled;
  c.device.device = "cpu";
  // Nothing was trained: the folder this run made is removed (the error says so).
  std::string what;
  expect_non_finite_error(
      [&] {
        try {
          train_pix2pix(c, TrainOptions{0});
        } catch (const DataError& e) {
          what = e.what();
          throw;
        }
      },
      bad_input(), 3, 256);
  EXPECT_THAT(what, HasSubstr("The run folder '" + (dir_ / "run").string() + "' was removed."));
  EXPECT_FALSE(fs::exists(dir_ / "run"));
  // A folder that existed before is kept, with a failed manifest that says it may be reused.
  fs::create_directories(dir_ / "run");
  expect_non_finite_error([&] { train_pix2pix(c, TrainOptions{0}); }, bad_input(), 3, 256);
  EXPECT_FALSE(fs::exists(dir_ / "run" / "checkpoints"));
  const nlohmann::json manifest = nlohmann::json::parse(read_file(dir_ / "run" / "outputs.json"));
  EXPECT_EQ(manifest["status"], "failed");
  EXPECT_THAT(manifest["reason"].get<std::string>(), HasSubstr(bad_input().string()));
  EXPECT_THAT(manifest["reason"].get<std::string>(),
              HasSubstr("No checkpoint is listed in this run folder, so it holds no model to resume: fix the "
                        "problem and train again with the same output.run_dir, which reuses the folder."));

  // Reused as it says (here with the bad test set switched off): the generator trained on clean data
  // refuses to infer on the bad file and writes nothing for the good ones either; ssim names the file too.
  c.test.enabled = false;
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  EXPECT_EQ(s.run_dir, dir_ / "run");
  GeneratorRunner runner(s.final_generator, "cpu");
  try {
    infer_images(runner, dir_ / "in", dir_ / "out", InferMode::kResize);
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("1 of 4 input image(s)"));
    EXPECT_THAT(e.what(), HasSubstr("nothing written"));
    EXPECT_THAT(e.what(), HasSubstr(bad_input().string() + "' has 3 pixel(s) of 256 with NaN or infinite values"));
    EXPECT_THAT(e.what(), HasSubstr("the generator cannot translate them"));  // infer's wording, not training's
    EXPECT_THAT(e.what(), ::testing::Not(HasSubstr("loss")));
  }
  EXPECT_FALSE(fs::exists(dir_ / "out" / "0.png"));
  EXPECT_FALSE(fs::exists(dir_ / "out" / "2.tif"));
  expect_non_finite_error([&] { ssim_image_files(bad_input(), dir_ / "ref" / "2.png"); }, bad_input(), 3, 256);
  try {
    ssim_image_files(bad_input(), dir_ / "ref" / "2.png");
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("the SSIM would be NaN"));
  }
}

}  // namespace
}  // namespace img2img

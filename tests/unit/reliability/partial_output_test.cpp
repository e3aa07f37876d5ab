// A bad input file anywhere in a folder stops `dataset split` and `infer` before anything is
// written: the error lists every bad file, and no output file (or half-filled folder) is left.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opencv2/core.hpp>  // cv::Mat, cv::RNG

#include <atomic>  // std::atomic
#include <limits>  // std::numeric_limits

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "img2img/dataset/composite.h"
#include "img2img/infer/inference.h"
#include "img2img/train/trainer.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class PartialOutputTest : public test::TempDirTest {
 protected:
  // A random 8-bit RGB image of w x h pixels at `path`.
  static void random_png(const fs::path& path, int w, int h, uint64_t seed) {
    cv::Mat x(h, w, CV_32FC3);
    cv::RNG rng(seed);
    rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
    write_image(path, x, PixelDepth::k8);
  }
  // The first half of a valid PNG: a truncated file.
  static void truncated_png(const fs::path& path, uint64_t seed) {
    random_png(path, 16, 16, seed);
    const std::string bytes = read_file(path);
    write_file_atomic(path, bytes.substr(0, bytes.size() / 2));
  }
  // A tiny generator (one iteration on two 16 px RGB pairs, 8-bit) under dir_/`name`, trained at
  // `channels` channels (1: the RGB files' first channel).
  GeneratorRunner tiny_generator(const std::string& name, int64_t channels = 3) {
    for (int i = 0; i < 2; ++i) {
      random_png(dir_ / name / "in" / (std::to_string(i) + ".png"), 16, 16, 50 + i);
      random_png(dir_ / name / "ref" / (std::to_string(i) + ".png"), 16, 16, 60 + i);
    }
    RunConfig c;
    c.data.input_dir = (dir_ / name / "in").string(), c.data.reference_dir = (dir_ / name / "ref").string();
    c.data.image_size = 16, c.data.batch_size = 2, c.data.channel_count = channels;
    c.generator.layers = 4, c.generator.initial_layer_size = 4;
    c.discriminator.layers = 1, c.discriminator.initial_layer_size = 4;
    c.train.max_iterations = 1;
    c.output.run_dir = (dir_ / name / "run").string();
    c.output.onnx_path = "";
    c.plot.type = PlotType::kDisabled;
    c.device.device = "cpu";
    return GeneratorRunner(train_pix2pix(c, TrainOptions{0}).final_generator, "cpu");
  }
  static size_t files_in(const fs::path& dir) {
    if (!fs::exists(dir)) return 0;
    size_t n = 0;
    for ([[maybe_unused]] const auto& e : fs::recursive_directory_iterator(dir)) ++n;
    return n;
  }
};

TEST_F(PartialOutputTest, SplitChecksEveryCompositeBeforeWriting) {
  const fs::path comp = dir_ / "comp";
  random_png(comp / "a.png", 16, 8, 1);  // sorted first: would be written before the bad ones
  random_png(comp / "b.png", 15, 8, 2);  // odd width
  truncated_png(comp / "c.png", 3);
  try {
    split_composite_folder({comp, dir_ / "left", dir_ / "right"});
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("2 of 3 composite(s) unusable, nothing written"));
    EXPECT_THAT(e.what(), HasSubstr((comp / "b.png").string() + ": width 15 is odd"));
    EXPECT_THAT(e.what(), HasSubstr((comp / "c.png").string()));
  }
  EXPECT_FALSE(fs::exists(dir_ / "left"));
  EXPECT_FALSE(fs::exists(dir_ / "right"));

  // Once fixed, the same folder splits completely.
  fs::remove(comp / "b.png");
  fs::remove(comp / "c.png");
  EXPECT_EQ(split_composite_folder({comp, dir_ / "left", dir_ / "right"}), 1);
  EXPECT_EQ(files_in(dir_ / "left"), 1u);
  EXPECT_EQ(files_in(dir_ / "right"), 1u);
}

TEST_F(PartialOutputTest, InferChecksEveryInputBeforeWriting) {
  // A tiny generator, one iteration on two 16 px pairs.
  for (int i = 0; i < 2; ++i) {
    random_png(dir_ / "in" / (std::to_string(i) + ".png"), 16, 16, 10 + i);
    random_png(dir_ / "ref" / (std::to_string(i) + ".png"), 16, 16, 20 + i);
  }
  RunConfig c;
  c.data.input_dir = (dir_ / "in").string(), c.data.reference_dir = (dir_ / "ref").string();
  c.data.image_size = 16, c.data.batch_size = 2;
  c.generator.layers = 4, c.generator.initial_layer_size = 4;
  c.discriminator.layers = 1, c.discriminator.initial_layer_size = 4;
  c.train.max_iterations = 1;
  c.output.run_dir = (dir_ / "run").string();
  c.output.onnx_path = "";
  c.plot.type = PlotType::kDisabled;
  c.device.device = "cpu";
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  GeneratorRunner runner(s.final_generator, "cpu");

  const fs::path photos = dir_ / "photos";
  random_png(photos / "a.png", 20, 12, 4);  // sorted first: would be written before the bad ones
  truncated_png(photos / "b.png", 5);
  write_file_atomic(photos / "c.jpg", "");
  try {
    infer_images(runner, photos, dir_ / "out", InferMode::kResize);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("2 of 3 input image(s)"));
    EXPECT_THAT(e.what(), HasSubstr("nothing written"));
    EXPECT_THAT(e.what(), HasSubstr((photos / "b.png").string()));
    EXPECT_THAT(e.what(), HasSubstr((photos / "c.jpg").string() + "': the file is empty"));
  }
  EXPECT_EQ(files_in(dir_ / "out"), 0u);

  fs::remove(photos / "b.png");
  fs::remove(photos / "c.jpg");
  const auto written = infer_images(runner, photos, dir_ / "out", InferMode::kResize);
  ASSERT_EQ(written.size(), 1u);
  EXPECT_EQ(written[0], dir_ / "out" / "a.png");
  EXPECT_EQ(read_image(written[0]).pixels.size(), cv::Size(20, 12));

  // An output folder that is the input folder (any spelling) would overwrite the inputs.
  const std::string before = read_file(photos / "a.png");
  try {
    infer_images(runner, photos, dir_ / "photos" / ".." / "photos", InferMode::kResize);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("--output"));
    EXPECT_THAT(e.what(), HasSubstr("is the same folder as --input"));
  }
  EXPECT_THROW(infer_images(runner, photos / "a.png", photos, InferMode::kResize), DataError);
  try {  // an image file name as --output: a folder of that name would surprise the user
    infer_images(runner, photos / "a.png", dir_ / "out.png", InferMode::kResize);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("looks like an image file"));
  }
  EXPECT_FALSE(fs::exists(dir_ / "out.png"));
  EXPECT_EQ(read_file(photos / "a.png"), before);
}

// A stop request (infer's Ctrl-C) ends infer_images before the next image: with it set from the start
// nothing is written, and the count of inputs found still comes back (the CLI says "wrote K of N").
TEST_F(PartialOutputTest, InferStopsBeforeTheNextImageWhenAsked) {
  GeneratorRunner runner = tiny_generator("model");
  const fs::path photos = dir_ / "photos";
  for (int i = 0; i < 3; ++i) random_png(photos / (std::to_string(i) + ".png"), 20, 12, 70 + i);
  std::atomic<bool> stop{true};
  size_t count = 0;
  EXPECT_TRUE(infer_images(runner, photos, dir_ / "stopped", InferMode::kResize, nullptr, &stop, &count).empty());
  EXPECT_EQ(count, 3u);
  EXPECT_EQ(files_in(dir_ / "stopped"), 0u);

  stop = false, count = 0;
  const auto written = infer_images(runner, photos, dir_ / "all", InferMode::kResize, nullptr, &stop, &count);
  EXPECT_EQ(count, 3u);
  ASSERT_EQ(written.size(), 3u);
  EXPECT_EQ(written[2], dir_ / "all" / "2.png");
  EXPECT_EQ(files_in(dir_ / "all"), 3u);
}

// --output naming an existing file (or a path below one) says so and what --output takes (a folder,
// also for one input image), instead of "cannot create folder ...: Not a directory"; the file is kept.
TEST_F(PartialOutputTest, InferOutputThatIsAFileSaysSo) {
  GeneratorRunner runner = tiny_generator("model");
  const fs::path photos = dir_ / "photos";
  random_png(photos / "a.png", 20, 12, 4);
  write_file_atomic(dir_ / "result", "not a folder");
  const std::string expected = "--output '" + (dir_ / "result").string() +
                               "' is a file, not a folder: infer writes <name>.png files (.tif for float) into an "
                               "output folder, also for one input image; it takes no output file name. Pass a "
                               "folder (e.g. --output '" + (dir_ / "generated").string() + "').";
  for (const fs::path& input : {photos, photos / "a.png"}) {
    try {
      infer_images(runner, input, dir_ / "result", InferMode::kResize);
      ADD_FAILURE() << "expected a DataError for " << input;
    } catch (const DataError& e) {
      EXPECT_EQ(std::string(e.what()), expected);
    }
  }
  try {  // a folder below the file
    infer_images(runner, photos, dir_ / "result" / "out", InferMode::kResize);
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("--output '" + (dir_ / "result" / "out").string() + "' is inside '" +
                                    (dir_ / "result").string() + "', which is a file, not a folder"));
  }
  write_file_atomic(dir_ / "old.png", "an earlier output");  // an existing image file: a file too
  try {
    infer_images(runner, photos / "a.png", dir_ / "old.png", InferMode::kResize);
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("--output '" + (dir_ / "old.png").string() + "' is a file, not a folder"));
  }
  EXPECT_EQ(read_file(dir_ / "result"), "not a folder");
  EXPECT_EQ(read_file(dir_ / "old.png"), "an earlier output");
  // A folder that does not exist yet is made, as before.
  EXPECT_EQ(infer_images(runner, photos, dir_ / "new" / "out", InferMode::kResize).size(), 1u);
}

// Float inputs (float TIFF, EXR) with samples outside [0, 1] are used as they are, with a note in terms
// of inference (as training warns about such data); within [0, 1], no note. NaN is an error that speaks
// of inference, not of losses.
TEST_F(PartialOutputTest, InferNotesFloatInputsOutsideZeroOne) {
  GeneratorRunner runner = tiny_generator("model");
  const fs::path floats = dir_ / "floats";
  cv::Mat metres(12, 20, CV_32FC3);
  for (int y = 0; y < 12; ++y)
    for (int x = 0; x < 20; ++x) metres.at<cv::Vec3f>(y, x) = cv::Vec3f(-2.5f + x, 0.5f, 0.25f * y);
  write_image(floats / "a.tif", metres, PixelDepth::kFloat);
  write_image(floats / "b.exr", cv::Mat(8, 8, CV_32FC3, cv::Scalar(0.5, 1.75, 0.5)), PixelDepth::kFloat);
  write_image(floats / "c.tif", cv::Mat(8, 8, CV_32FC3, cv::Scalar(0.0, 0.5, 1.0)), PixelDepth::kFloat);
  std::vector<std::string> notes;
  const auto written = infer_images(runner, floats, dir_ / "out", InferMode::kResize, &notes);
  ASSERT_EQ(written.size(), 3u);  // used as they are
  ASSERT_EQ(notes.size(), 1u);
  EXPECT_EQ(notes[0], "float image '" + (floats / "a.tif").string() +
                          "' has samples from -2.5 to 16.5, outside [0, 1] (so do 1 other float files): infer uses "
                          "them as they are, but the generator was trained for samples in [0, 1] and its images stay "
                          "within [0, 1], so it cannot reproduce such values and its output may be off. Scale the "
                          "values to [0, 1] before inference, as the training data were, e.g. (v - min) / (max - min).");
  EXPECT_THAT(notes[0], Not(HasSubstr("training,")));
  notes.clear();
  infer_images(runner, floats / "c.tif", dir_ / "out_c", InferMode::kResize, &notes);
  EXPECT_TRUE(notes.empty()) << notes.front();

  cv::Mat nan_image(8, 8, CV_32FC1, cv::Scalar(0.5));
  nan_image.at<float>(2, 5) = std::numeric_limits<float>::quiet_NaN();
  write_image(floats / "d.exr", nan_image, PixelDepth::kFloat);
  try {
    infer_images(runner, floats, dir_ / "out_nan", InferMode::kResize, &notes);
    ADD_FAILURE() << "expected a DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("image '" + (floats / "d.exr").string() +
                                    "' has 1 pixel(s) of 64 with NaN or infinite values (first at x 5, y 2); the "
                                    "generator cannot translate them: they would spread through it and turn its "
                                    "output NaN (written as black pixels). Replace the NaN/inf values in the source "
                                    "(e.g. clamp or fill them in the tool that wrote the file) or remove the file "
                                    "from --input."));
    EXPECT_THAT(e.what(), Not(HasSubstr("loss")));
  }
  EXPECT_FALSE(fs::exists(dir_ / "out_nan"));
}

// infer on a folder says what it did not use instead of skipping it silently: non-image and hidden
// files, subfolders (not searched), and the channels of an RGB image that a 1-channel model drops (it
// sees the red channel: the output equals that of the red channel saved as a grey file).
TEST_F(PartialOutputTest, InferNotesSkippedEntriesAndDroppedChannels) {
  GeneratorRunner runner = tiny_generator("model", 1);

  const fs::path photos = dir_ / "photos";
  random_png(photos / "rgb.png", 20, 12, 6);
  std::vector<cv::Mat> rgb;
  cv::split(read_image(photos / "rgb.png").pixels, rgb);
  write_image(photos / "red.png", rgb[0], PixelDepth::k8);  // the red channel as a grey file
  write_file_atomic(photos / "notes.txt", "not an image");
  random_png(photos / ".hidden.png", 16, 16, 7);
  random_png(photos / "sub" / "inner.png", 16, 16, 8);

  std::vector<std::string> notes;
  const auto written = infer_images(runner, photos, dir_ / "out", InferMode::kResize, &notes);
  ASSERT_EQ(written.size(), 2u);
  ASSERT_EQ(notes.size(), 2u);
  EXPECT_EQ(notes[0], "--input '" + photos.string() +
                          "': 2 non-image or hidden file(s) skipped; 1 subfolder(s) not searched (infer reads only "
                          "the images directly in --input; run it once per subfolder).");
  EXPECT_THAT(notes[1], HasSubstr("1 of 2 input image(s) have more channels than the model takes (1, "));
  EXPECT_THAT(notes[1], HasSubstr("e.g. '" + (photos / "rgb.png").string() + "' has 3): only the first is used, "
                                  "so an RGB image gives its red channel, not its brightness"));
  EXPECT_EQ(read_file(dir_ / "out" / "rgb.png"), read_file(dir_ / "out" / "red.png"));
  EXPECT_FALSE(fs::exists(dir_ / "out" / "inner.png"));

  // Grey images only, nothing else in the folder: nothing to note.
  fs::remove_all(photos);
  write_image(photos / "red.png", rgb[0], PixelDepth::k8);
  notes.clear();
  infer_images(runner, photos, dir_ / "out2", InferMode::kResize, &notes);
  EXPECT_TRUE(notes.empty()) << notes.front();
}

TEST_F(PartialOutputTest, SplitAndCombineRefuseToWriteIntoTheirInputs) {
  const fs::path comp = dir_ / "comp";
  random_png(comp / "a.png", 16, 8, 1);
  const std::string composite = read_file(comp / "a.png");
  EXPECT_THROW(split_composite_folder({comp, comp, dir_ / "right"}), DataError);  // --left = --input
  EXPECT_THROW(split_composite_folder({comp, dir_ / "same", dir_ / "same"}), DataError);  // --left = --right
  EXPECT_EQ(read_file(comp / "a.png"), composite);
  EXPECT_FALSE(fs::exists(dir_ / "same"));

  ASSERT_EQ(split_composite_folder({comp, dir_ / "l", dir_ / "r"}), 1);
  const std::string left = read_file(dir_ / "l" / "a.png");
  CombineOptions o;
  o.left_dir = dir_ / "l", o.right_dir = dir_ / "r", o.output_dir = dir_ / "l";
  try {
    combine_paired_folders(o);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("--output '" + (dir_ / "l").string() + "' is the same folder as --left"));
  }
  EXPECT_EQ(read_file(dir_ / "l" / "a.png"), left);
}

}  // namespace
}  // namespace img2img

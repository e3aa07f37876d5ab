#include "img2img/data/paired_dataset.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>

#include <fstream>

#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using test::TempDirTest;

class PairedDatasetTest : public TempDirTest {
 protected:
  // Writes a w x h image with `channels` channels and OpenCV depth `depth`, filled with a ramp.
  void write(const fs::path& p, int w, int h, int channels, int depth) {
    fs::create_directories(p.parent_path());
    cv::Mat m(h, w, CV_MAKETYPE(depth, channels));
    const double maxv = depth == CV_16U ? 65535.0 : depth == CV_8U ? 255.0 : 1.0;
    for (int y = 0; y < h; ++y)
      for (int x = 0; x < w; ++x)
        for (int c = 0; c < channels; ++c) {
          const double v = maxv * ((x + 3 * y + 7 * c) % 97) / 96.0;
          if (depth == CV_16U) m.ptr<uint16_t>(y)[x * channels + c] = static_cast<uint16_t>(v);
          else if (depth == CV_8U) m.ptr<uint8_t>(y)[x * channels + c] = static_cast<uint8_t>(v);
          else m.ptr<float>(y)[x * channels + c] = static_cast<float>(v);
        }
    ASSERT_TRUE(cv::imwrite(p.string(), m));
  }
};

TEST_F(PairedDatasetTest, SixteenBitKeepsFullPrecision) {
  cv::Mat m(4, 4, CV_16UC1);
  for (int i = 0; i < 16; ++i) m.at<uint16_t>(i / 4, i % 4) = static_cast<uint16_t>(1000 + i);  // steps of 1/65535
  ASSERT_TRUE(cv::imwrite((dir_ / "h.png").string(), m));
  const DecodedImage img = read_image(dir_ / "h.png");
  EXPECT_EQ(img.depth, PixelDepth::k16);
  EXPECT_EQ(img.channels, 1);
  EXPECT_NEAR(img.pixels.at<float>(0, 1) - img.pixels.at<float>(0, 0), 1.0 / 65535.0, 1e-9);
  // Round trip through a 16-bit write is lossless.
  write_image(dir_ / "out.png", img.pixels, PixelDepth::k16);
  const cv::Mat back = cv::imread((dir_ / "out.png").string(), cv::IMREAD_UNCHANGED);
  ASSERT_EQ(back.type(), CV_16UC1);
  EXPECT_EQ(cv::norm(back, m, cv::NORM_INF), 0.0);
}

TEST_F(PairedDatasetTest, ChannelRuleRepeatsLastOrDrops) {
  cv::Mat two(1, 1, CV_32FC2, cv::Scalar(0.25, 0.75));
  const cv::Mat four = apply_channel_rule(two, 4);
  EXPECT_EQ(four.channels(), 4);
  const auto v = four.at<cv::Vec4f>(0, 0);
  EXPECT_FLOAT_EQ(v[0], 0.25f);
  EXPECT_FLOAT_EQ(v[1], 0.75f);
  EXPECT_FLOAT_EQ(v[2], 0.75f);
  EXPECT_FLOAT_EQ(v[3], 0.75f);
  const cv::Mat one = apply_channel_rule(two, 1);
  EXPECT_EQ(one.channels(), 1);
  EXPECT_FLOAT_EQ(one.at<float>(0, 0), 0.25f);
}

TEST_F(PairedDatasetTest, PairsByNameNormalisesAndIgnoresClutter) {
  write(dir_ / "in/a.png", 32, 32, 3, CV_8U);
  write(dir_ / "in/b.png", 48, 48, 1, CV_16U);  // mixed channels and depth in one folder
  write(dir_ / "ref/a.png", 32, 32, 4, CV_8U);
  write(dir_ / "ref/b.tif", 64, 64, 1, CV_32F);
  std::ofstream(dir_ / "in/._a.png") << "AppleDouble";
  std::ofstream(dir_ / "in/Thumbs.db") << "x";
  std::ofstream(dir_ / "ref/notes.txt") << "x";
  DataSource s;
  s.input_dir = (dir_ / "in").string(), s.reference_dir = (dir_ / "ref").string();
  PairedDataset d(s, /*channel_count=*/3, /*image_size=*/16, /*limit_count=*/0);
  ASSERT_EQ(d.size(), 2);
  EXPECT_EQ(d.files(0).name, "a");
  EXPECT_EQ(d.files(1).reference.filename(), "b.tif");
  EXPECT_EQ(d.inputs().sizes().vec(), (std::vector<int64_t>{2, 3, 16, 16}));
  EXPECT_GE(d.inputs().min().item<float>(), -1.0f);
  EXPECT_LE(d.inputs().max().item<float>(), 1.0f);
  EXPECT_LT(d.inputs().min().item<float>(), -0.9f);  // the ramp reaches 0 -> -1
  EXPECT_EQ(d.input_depth(), PixelDepth::k16);
  EXPECT_EQ(d.reference_depth(), PixelDepth::kFloat);
  EXPECT_EQ(d.ignored_files(), 3);
  // Grey input b: its one channel repeated into all three.
  EXPECT_TRUE(torch::equal(d.inputs()[1][0], d.inputs()[1][2]));
  PairedDataset limited(s, 3, 16, /*limit_count=*/1);
  EXPECT_EQ(limited.size(), 1);
}

TEST_F(PairedDatasetTest, NameOnOneSideIsAnErrorListingIt) {
  write(dir_ / "in/a.png", 8, 8, 3, CV_8U);
  write(dir_ / "in/only_in.png", 8, 8, 3, CV_8U);
  write(dir_ / "ref/a.png", 8, 8, 3, CV_8U);
  write(dir_ / "ref/only_ref.png", 8, 8, 3, CV_8U);
  DataSource s;
  s.input_dir = (dir_ / "in").string(), s.reference_dir = (dir_ / "ref").string();
  try {
    list_paired_files(s, 0);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("1 only in '" + s.input_dir + "': only_in.png"));
    EXPECT_THAT(e.what(), HasSubstr("1 only in '" + s.reference_dir + "': only_ref.png"));
  }
}

TEST_F(PairedDatasetTest, BadFilesAreErrorsNamingThem) {
  write(dir_ / "in/a.png", 8, 8, 3, CV_8U);
  write(dir_ / "in/a.jpg", 8, 8, 3, CV_8U);
  EXPECT_THAT([&] { list_image_files(dir_ / "in"); },
              ::testing::ThrowsMessage<DataError>(HasSubstr("two images named 'a' ('a.jpg' and 'a.png')")));
  std::ofstream(dir_ / "empty.png").close();
  EXPECT_THAT([&] { read_image(dir_ / "empty.png"); },
              ::testing::ThrowsMessage<DataError>(HasSubstr("empty.png': the file is empty")));
  std::ofstream(dir_ / "junk.png") << "not a png at all";
  EXPECT_THAT([&] { read_image(dir_ / "junk.png"); },
              ::testing::ThrowsMessage<DataError>(HasSubstr("cannot decode image '" + (dir_ / "junk.png").string())));
  fs::create_directories(dir_ / "nothing");
  EXPECT_THAT([&] { list_image_files(dir_ / "nothing"); },
              ::testing::ThrowsMessage<DataError>(HasSubstr("has no images (0 other files ignored); expected .png, "
                                                            ".jpg/.jpeg, .tif/.tiff, .exr, .bmp, .webp")));
  // Images in subfolders only (per-shot folders): the subfolders are named as where the images are, since
  // they are not searched; a subfolder beside images is counted in the listing stats (the log line).
  write(dir_ / "shots/shot_b/1.png", 8, 8, 3, CV_8U);
  fs::create_directories(dir_ / "shots/shot_a");
  fs::create_directories(dir_ / "shots/.git");
  EXPECT_THAT([&] { list_image_files(dir_ / "shots"); },
              ::testing::ThrowsMessage<DataError>(HasSubstr(
                  "has no images (1 other files ignored); expected .png, .jpg/.jpeg, .tif/.tiff, .exr, .bmp, .webp, "
                  ".ppm/.pgm/.pnm or .hdr files. It has 2 subfolder(s) ('shot_a', 'shot_b'), which are not searched: "
                  "images must be directly in the folder. Give the subfolder that holds them (e.g. '" +
                  (dir_ / "shots/shot_a").string() + "'), or move the images up.")));
  write(dir_ / "shots/top.png", 8, 8, 3, CV_8U);
  ListingStats shot_stats;
  EXPECT_EQ(list_image_files(dir_ / "shots", &shot_stats), std::vector<fs::path>{dir_ / "shots/top.png"});
  EXPECT_EQ(shot_stats.subfolders, 2);  // shot_a, shot_b; the hidden .git counts as an ignored hidden entry
  EXPECT_EQ(shot_stats.ignored, 1);
  // A folder that does not exist, or a file, says so (not "has no images").
  EXPECT_THAT([&] { list_image_files(dir_ / "missing"); },
              ::testing::ThrowsMessage<DataError>(
                  HasSubstr("folder '" + (dir_ / "missing").string() + "' does not exist. Check the path.")));
  EXPECT_THAT([&] { list_image_files(dir_ / "junk.png"); },
              ::testing::ThrowsMessage<DataError>(HasSubstr("junk.png' is a file, not a folder of images")));
}

TEST_F(PairedDatasetTest, CompositeSplitsHalvesAndRejectsOddWidth) {
  cv::Mat comp(8, 16, CV_8UC3, cv::Scalar(0, 0, 0));
  comp(cv::Rect(8, 0, 8, 8)).setTo(cv::Scalar(255, 255, 255));
  fs::create_directories(dir_ / "comp");
  ASSERT_TRUE(cv::imwrite((dir_ / "comp/x.png").string(), comp));
  DataSource s;
  s.input_type = InputType::kCompositePaired;
  s.composite_dir = (dir_ / "comp").string();
  PairedDataset d(s, 3, 8, 0);
  EXPECT_FLOAT_EQ(d.inputs().max().item<float>(), -1.0f);     // left half black
  EXPECT_FLOAT_EQ(d.references().min().item<float>(), 1.0f);  // right half white
  ASSERT_TRUE(cv::imwrite((dir_ / "comp/y.png").string(), cv::Mat(8, 15, CV_8UC3, cv::Scalar(1, 2, 3))));
  EXPECT_THAT([&] { PairedDataset(s, 3, 8, 0); }, ::testing::ThrowsMessage<DataError>(HasSubstr("odd width")));
}

TEST_F(PairedDatasetTest, PairWithDifferentAspectIsAnError) {
  write(dir_ / "a.png", 32, 32, 3, CV_8U);
  write(dir_ / "b.png", 64, 32, 3, CV_8U);
  DataSource s;
  s.input_type = InputType::kSinglePaired;
  s.input_image = (dir_ / "a.png").string(), s.reference_image = (dir_ / "b.png").string();
  EXPECT_THAT([&] { PairedDataset(s, 3, 16, 0); }, ::testing::ThrowsMessage<DataError>(HasSubstr("same aspect ratio")));
  write(dir_ / "c.png", 64, 64, 3, CV_8U);  // same aspect, other size: resized, fine
  s.reference_image = (dir_ / "c.png").string();
  EXPECT_EQ(PairedDataset(s, 3, 16, 0).size(), 1);
}

TEST_F(PairedDatasetTest, WorkerThreadsGiveIdenticalData) {
  for (int i = 0; i < 6; ++i) {
    write(dir_ / "in" / (std::to_string(i) + ".png"), 20 + i, 20 + i, 3, CV_8U);
    write(dir_ / "ref" / (std::to_string(i) + ".png"), 20 + i, 20 + i, 1, CV_16U);
  }
  DataSource s;
  s.input_dir = (dir_ / "in").string(), s.reference_dir = (dir_ / "ref").string();
  PairedDataset serial(s, 3, 16, 0);
  s.worker_threads = 4;
  PairedDataset parallel(s, 3, 16, 0);
  EXPECT_TRUE(torch::equal(serial.inputs(), parallel.inputs()));
  EXPECT_TRUE(torch::equal(serial.references(), parallel.references()));
}

}  // namespace
}  // namespace img2img

#include "img2img/dataset/composite.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>  // cv::imread, cv::imwrite

#include <filesystem>  // std::filesystem
#include <random>      // std::mt19937

#include "img2img/core/error.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("img2img_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

cv::Mat random_image(int type, int rows, int cols, uint32_t seed) {
  cv::Mat m(rows, cols, type);
  cv::RNG rng(seed);
  rng.fill(m, cv::RNG::UNIFORM, 0, CV_MAT_DEPTH(type) == CV_16U ? 65536 : 256);
  return m;
}

bool same_pixels(const cv::Mat& a, const cv::Mat& b) {
  if (a.type() != b.type() || a.size() != b.size()) return false;
  cv::Mat diff;
  cv::absdiff(a.reshape(1), b.reshape(1), diff);
  return cv::countNonZero(diff) == 0;
}

TEST(CompositeTest, CombineThenSplitIsBitExact) {
  const fs::path dir = fresh_dir("composite");
  for (const char* sub : {"a", "b"}) fs::create_directories(dir / sub);
  // 8-bit RGB pairs and 16-bit grey pairs (same type on both sides of a pair).
  for (int i = 0; i < 3; ++i) {
    ASSERT_TRUE(cv::imwrite((dir / "a" / ("rgb" + std::to_string(i) + ".png")).string(), random_image(CV_8UC3, 24, 40, i)));
    ASSERT_TRUE(cv::imwrite((dir / "b" / ("rgb" + std::to_string(i) + ".png")).string(), random_image(CV_8UC3, 24, 40, 10 + i)));
    ASSERT_TRUE(cv::imwrite((dir / "a" / ("h" + std::to_string(i) + ".png")).string(), random_image(CV_16UC1, 32, 32, 20 + i)));
    ASSERT_TRUE(cv::imwrite((dir / "b" / ("h" + std::to_string(i) + ".png")).string(), random_image(CV_16UC1, 32, 32, 30 + i)));
  }
  EXPECT_EQ(combine_paired_folders({dir / "a", dir / "b", dir / "ab"}), 6);
  const cv::Mat joined = cv::imread((dir / "ab" / "rgb0.png").string(), cv::IMREAD_UNCHANGED);
  EXPECT_EQ(joined.cols, 80);
  EXPECT_EQ(split_composite_folder({dir / "ab", dir / "a2", dir / "b2"}), 6);
  for (const auto& e : fs::directory_iterator(dir / "a")) {
    const std::string name = e.path().filename().string();
    for (const char* side : {"a", "b"}) {
      const cv::Mat original = cv::imread((dir / side / name).string(), cv::IMREAD_UNCHANGED);
      const cv::Mat back = cv::imread((dir / (std::string(side) + "2") / name).string(), cv::IMREAD_UNCHANGED);
      EXPECT_TRUE(same_pixels(original, back)) << side << "/" << name;
    }
  }
  fs::remove_all(dir);
}

// combine and split write only into a missing or empty folder, as dataset pairs / terrain do: a
// folder holding an earlier run's files had same-named files replaced and others left beside them.
TEST(CompositeTest, NonEmptyOutputFoldersAreRefusedAndLeftUnchanged) {
  const fs::path dir = fresh_dir("composite_nonempty");
  for (const char* sub : {"a", "b", "old"}) fs::create_directories(dir / sub);
  ASSERT_TRUE(cv::imwrite((dir / "a" / "x.png").string(), random_image(CV_8UC3, 16, 16, 1)));
  ASSERT_TRUE(cv::imwrite((dir / "b" / "x.png").string(), random_image(CV_8UC3, 16, 16, 2)));
  const cv::Mat old = random_image(CV_8UC3, 16, 16, 3);
  ASSERT_TRUE(cv::imwrite((dir / "old" / "x.png").string(), old));
  try {
    combine_paired_folders({dir / "a", dir / "b", dir / "old"});
    FAIL() << "combine wrote into a non-empty --output";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--output"), std::string::npos) << e.what();
  }
  ASSERT_EQ(combine_paired_folders({dir / "a", dir / "b", dir / "ab"}), 1);
  try {
    split_composite_folder({dir / "ab", dir / "a2", dir / "old"});
    FAIL() << "split wrote into a non-empty --right";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--right"), std::string::npos) << e.what();
  }
  EXPECT_TRUE(same_pixels(cv::imread((dir / "old" / "x.png").string(), cv::IMREAD_UNCHANGED), old));
  EXPECT_FALSE(fs::exists(dir / "a2" / "x.png"));
  fs::remove_all(dir);
}

TEST(CompositeTest, MismatchedNamesAndSizesAreAllListed) {
  const fs::path dir = fresh_dir("composite_bad");
  for (const char* sub : {"a", "b"}) fs::create_directories(dir / sub);
  ASSERT_TRUE(cv::imwrite((dir / "a" / "common.png").string(), random_image(CV_8UC3, 8, 8, 1)));
  ASSERT_TRUE(cv::imwrite((dir / "b" / "common.png").string(), random_image(CV_8UC3, 8, 8, 2)));
  ASSERT_TRUE(cv::imwrite((dir / "a" / "only_left.png").string(), random_image(CV_8UC3, 8, 8, 3)));
  ASSERT_TRUE(cv::imwrite((dir / "b" / "only_right.png").string(), random_image(CV_8UC3, 8, 8, 4)));
  ASSERT_TRUE(cv::imwrite((dir / "a" / "sized.png").string(), random_image(CV_8UC3, 8, 8, 5)));
  ASSERT_TRUE(cv::imwrite((dir / "b" / "sized.png").string(), random_image(CV_8UC3, 9, 8, 6)));
  try {
    combine_paired_folders({dir / "a", dir / "b", dir / "ab"});
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("only_left.png"), std::string::npos) << what;
    EXPECT_NE(what.find("only_right.png"), std::string::npos) << what;
    EXPECT_NE(what.find("sized: sizes differ"), std::string::npos) << what;
  }
  EXPECT_FALSE(fs::exists(dir / "ab" / "common.png"));  // nothing written
  fs::remove_all(dir);
}

TEST(CompositeTest, SplitRejectsOddWidths) {
  const fs::path dir = fresh_dir("composite_odd");
  fs::create_directories(dir / "c");
  ASSERT_TRUE(cv::imwrite((dir / "c" / "odd.png").string(), random_image(CV_8UC3, 8, 9, 1)));
  EXPECT_THROW(split_composite_folder({dir / "c", dir / "l", dir / "r"}), DataError);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace img2img

#include "img2img/dataset/photo_pairs.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>  // cv::imread

#include <filesystem>  // std::filesystem
#include <fstream>     // std::ifstream
#include <map>         // std::map
#include <set>         // std::set
#include <sstream>     // std::stringstream

#include "img2img/core/error.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;

TEST(PhotoPairsTest, SplitsByPhotoAndWritesMatchingCrops) {
  const fs::path photos = fs::path(IMG2IMG_SOURCE_DIR) / "data" / "photos";
  if (!fs::exists(photos)) {
    FAIL() << photos << " is missing: run scripts/fetch_data.sh (scripts/test.sh does it)";
  }
  const fs::path dir = fs::temp_directory_path() / ("img2img_test_pairs_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  fs::create_directories(dir / "photos");
  int copied = 0;
  for (const auto& e : fs::directory_iterator(photos))
    if (copied < 4 && e.path().extension() == ".jpg") fs::copy_file(e.path(), dir / "photos" / e.path().filename()), ++copied;
  ASSERT_EQ(copied, 4);

  PhotoPairsOptions o;
  o.photo_dir = dir / "photos";
  o.output_dir = dir / "out";
  o.crop_size = 32;
  o.crops_per_photo = 3;
  o.test_fraction = 0.25;
  o.seed = 3;
  const PhotoPairsSummary s = build_photo_pairs(o);
  EXPECT_EQ(s.train_photos, 3);
  EXPECT_EQ(s.test_photos, 1);
  EXPECT_GT(s.train_crops, 0);
  EXPECT_GT(s.test_crops, 0);

  std::ifstream csv(o.output_dir / "crops.csv");
  std::string line;
  std::getline(csv, line);
  std::map<std::string, std::set<std::string>> splits_of_photo;
  int rows = 0;
  while (std::getline(csv, line)) {
    std::stringstream ss(line);
    std::string name, split, source;
    std::getline(ss, name, ',');
    std::getline(ss, split, ',');
    std::getline(ss, source, ',');
    splits_of_photo[source].insert(split);
    ++rows;
    const cv::Mat gray = cv::imread((o.output_dir / split / "gray" / (name + ".png")).string(), cv::IMREAD_UNCHANGED);
    const cv::Mat edges = cv::imread((o.output_dir / split / "edges" / (name + ".png")).string(), cv::IMREAD_UNCHANGED);
    const cv::Mat color = cv::imread((o.output_dir / split / "color" / (name + ".png")).string(), cv::IMREAD_UNCHANGED);
    EXPECT_EQ(gray.type(), CV_8UC1) << name;
    EXPECT_EQ(edges.type(), CV_8UC1) << name;
    EXPECT_EQ(color.type(), CV_8UC3) << name;
    EXPECT_EQ(color.cols, 32) << name;
  }
  EXPECT_EQ(rows, s.train_crops + s.test_crops);
  for (const auto& [photo, splits] : splits_of_photo) EXPECT_EQ(splits.size(), 1u) << photo << " is in both splits";
  fs::remove_all(dir);
}

TEST(PhotoPairsTest, BadScalesAreAConfigError) {
  PhotoPairsOptions o;
  o.photo_dir = "x";
  o.output_dir = "y";
  o.scales = {0.5, 1.5};
  o.test_fraction = 1;
  try {
    build_photo_pairs(o);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {  // names the flags of `img2img dataset pairs`
    EXPECT_NE(std::string(e.what()).find("--scales must each be in (0, 1], got 1.5"), std::string::npos) << e.what();
    EXPECT_NE(std::string(e.what()).find("--test-fraction must be in [0, 1), got 1"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace img2img

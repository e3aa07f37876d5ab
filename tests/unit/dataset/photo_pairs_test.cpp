#include "img2img/dataset/photo_pairs.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>  // cv::imread

#include <filesystem>  // std::filesystem
#include <fstream>     // std::ifstream
#include <iterator>    // std::istreambuf_iterator
#include <map>         // std::map
#include <random>      // std::mt19937
#include <set>         // std::set
#include <sstream>     // std::stringstream

#include "img2img/core/error.h"
#include "support/test_support.h"

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
  // Out-of-range sizes and thresholds are named before anything is read (--size 100000 was a 30 GB
  // allocation and an internal error).
  PhotoPairsOptions big;
  big.photo_dir = "x", big.output_dir = "y", big.crop_size = 100000, big.crops_per_photo = 0, big.min_std = -1;
  try {
    build_photo_pairs(big);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--size must be 16 to 8192 pixels, got 100000"), std::string::npos) << what;
    EXPECT_NE(what.find("--crops must be 1 to 10000, got 0"), std::string::npos) << what;
    EXPECT_NE(what.find("--min-std must be 0 to 255"), std::string::npos) << what;
  }
}

class PhotoPairsDirTest : public test::TempDirTest {
 protected:
  /// Writes a w x h 8-bit colour PNG of seeded uniform noise (never flat) to dir_/photos/<name>.png.
  fs::path write_noise_photo(const std::string& name, int w, int h, unsigned seed) {
    cv::Mat m(h, w, CV_8UC3);
    cv::RNG rng(seed);
    rng.fill(m, cv::RNG::UNIFORM, 0, 256);
    fs::create_directories(dir_ / "photos");
    const fs::path path = dir_ / "photos" / (name + ".png");
    EXPECT_TRUE(cv::imwrite(path.string(), m));
    return path;
  }
  /// Every path under `root` (relative) with its file size, or -1 for folders.
  static std::map<std::string, int64_t> listing(const fs::path& root) {
    std::map<std::string, int64_t> out;
    for (const auto& e : fs::recursive_directory_iterator(root))
      out[fs::relative(e.path(), root).string()] = e.is_directory() ? -1 : static_cast<int64_t>(e.file_size());
    return out;
  }
  PhotoPairsOptions options() const {
    PhotoPairsOptions o;
    o.photo_dir = dir_ / "photos";
    o.output_dir = dir_ / "out";
    o.crop_size = 16;
    o.crops_per_photo = 2;
    o.min_std = 0;
    return o;
  }
};

// A truncated photo and a non-image among good photos: one error listing both, and no output at all
// (before the fix, crops of the photos decoded first were already written).
TEST_F(PhotoPairsDirTest, BadPhotosAreListedAndNothingIsWritten) {
  write_noise_photo("A_good", 40, 32, 1);
  const fs::path full = write_noise_photo("B_truncated", 40, 32, 2);
  write_noise_photo("C_good", 40, 32, 3);
  write_noise_photo("D_good", 40, 32, 4);
  std::string bytes;
  {
    std::ifstream in(full, std::ios::binary);
    bytes.assign(std::istreambuf_iterator<char>(in), {});
  }
  ASSERT_GT(bytes.size(), 200u);
  std::ofstream(full, std::ios::binary | std::ios::trunc) << bytes.substr(0, bytes.size() / 2);
  std::ofstream(dir_ / "photos" / "E_text.jpg") << "not a JPEG";
  const PhotoPairsOptions o = options();
  try {
    build_photo_pairs(o);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("2 of 5 photo(s)"), std::string::npos) << what;
    EXPECT_NE(what.find("nothing written"), std::string::npos) << what;
    EXPECT_NE(what.find("B_truncated.png"), std::string::npos) << what;
    EXPECT_NE(what.find("E_text.jpg"), std::string::npos) << what;
    EXPECT_EQ(what.find("A_good"), std::string::npos) << what;
    EXPECT_EQ(what.find("D_good"), std::string::npos) << what;
  }
  EXPECT_FALSE(fs::exists(o.output_dir)) << "a half-written data set was left in " << o.output_dir;
}

// Re-running into a folder of an earlier run is refused, naming the folder and the fix; the folder
// is left exactly as it was (before the fix, stale crops of the earlier run stayed beside new ones).
TEST_F(PhotoPairsDirTest, NonEmptyOutputIsRefusedAndLeftUnchanged) {
  write_noise_photo("A", 40, 32, 1);
  write_noise_photo("B", 40, 32, 2);
  PhotoPairsOptions o = options();
  const PhotoPairsSummary first = build_photo_pairs(o);
  ASSERT_EQ(first.train_crops + first.test_crops, 4);
  const auto before = listing(o.output_dir);
  ASSERT_EQ(before.size(), 1u + 2u + 6u + 12u);  // crops.csv, 2 splits, 6 kind folders, 4 crops x 3 kinds
  o.seed = 1;  // a different split: would put the old test photo's crops into train
  try {
    build_photo_pairs(o);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_NE(what.find("--output '" + o.output_dir.string() + "' is not empty (3 entries: crops.csv, test, train)"),
              std::string::npos)
        << what;
    EXPECT_NE(what.find("Choose a new --output, or delete the folder"), std::string::npos) << what;
  }
  EXPECT_EQ(listing(o.output_dir), before);

  // A file as --output is refused too.
  std::ofstream(dir_ / "file.txt") << "x";
  o.output_dir = dir_ / "file.txt";
  EXPECT_THROW(build_photo_pairs(o), DataError);
}

// An existing but empty output folder is fine. One photo: no test split, reported in the summary
// (test_photos == test_crops == 0) for the CLI's warning, not an error.
TEST_F(PhotoPairsDirTest, EmptyOutputFolderIsUsedAndEmptyTestSplitIsReported) {
  write_noise_photo("Only", 40, 32, 1);
  PhotoPairsOptions o = options();
  fs::create_directories(o.output_dir);
  const PhotoPairsSummary s = build_photo_pairs(o);
  EXPECT_EQ(s.train_photos, 1);
  EXPECT_EQ(s.train_crops, 2);
  EXPECT_EQ(s.test_photos, 0);
  EXPECT_EQ(s.test_crops, 0);
  EXPECT_TRUE(fs::exists(o.output_dir / "train" / "color" / "Only_01.png"));
}

// Crops whose box in the photo is smaller than the crop size are upscaled: counted per photo with the
// largest factor, and one note names them, says when a photo is smaller than --size and the fixes. Boxes at
// or above the size: no note.
TEST_F(PhotoPairsDirTest, UpscaledCropsAreCountedAndNoted) {
  write_noise_photo("Big", 128, 128, 1);
  write_noise_photo("Small", 40, 36, 2);
  PhotoPairsOptions o = options();
  o.crop_size = 64;
  o.scales = {0.5, 1.0};  // boxes: Big 64 and 128 px, Small 18 and 36 px
  o.test_fraction = 0;
  const PhotoPairsSummary s = build_photo_pairs(o);
  ASSERT_EQ(s.train_crops, 4);
  EXPECT_EQ(s.upscaled_crops, 2);
  EXPECT_EQ(s.smallest_box, 18);
  ASSERT_EQ(s.upscaled_photos.size(), 1u);
  EXPECT_EQ(s.upscaled_photos[0].file, "Small.png");
  EXPECT_EQ(s.upscaled_photos[0].crops, 2);
  EXPECT_DOUBLE_EQ(s.upscaled_photos[0].max_factor, 64.0 / 18.0);
  EXPECT_EQ(upscaled_crops_note(s, o.crop_size),
            "2 of 4 crops were upscaled to --size 64 because their box in the photo was smaller (by up to 3.56x; "
            "upscaled crops are softer than the photo), from 1 photo: Small.png (2 crops, up to 3.56x; the photo is "
            "40x36, smaller than --size). The smallest box was 18 px: --size 18 or less, larger photos or larger "
            "--scales avoid it (crops.csv lists each crop's box).");
  // The crops are written at --size all the same.
  EXPECT_EQ(cv::imread((o.output_dir / "train" / "color" / "Small_00.png").string()).cols, 64);

  // A box below --size's minimum of 16: no --size advice; boxes all at or above --size: no note.
  PhotoPairsOptions tiny = options();  // 16 px crops; Big's boxes 32 and 64 px, Small's 9 (8 px minimum) and 18
  tiny.output_dir = dir_ / "out16";
  tiny.scales = {0.25, 0.5};
  tiny.test_fraction = 0;
  const PhotoPairsSummary t = build_photo_pairs(tiny);
  EXPECT_EQ(t.upscaled_crops, 1);
  EXPECT_EQ(t.smallest_box, 9);
  EXPECT_THAT(upscaled_crops_note(t, tiny.crop_size),
              ::testing::EndsWith("The smallest box was 9 px: larger photos or larger --scales avoid it (crops.csv "
                                  "lists each crop's box)."));
  tiny.output_dir = dir_ / "out_none";
  tiny.scales = {0.5, 1.0};
  const PhotoPairsSummary none = build_photo_pairs(tiny);
  EXPECT_EQ(none.upscaled_crops, 0);
  EXPECT_TRUE(none.upscaled_photos.empty());
  EXPECT_EQ(upscaled_crops_note(none, tiny.crop_size), "");
}

// Every train crop flat (--min-std above any crop's deviation): an error naming the flag, not
// "0 train crops" and exit 0; nothing is left in --output.
TEST_F(PhotoPairsDirTest, NoTrainCropIsAnErrorAndLeavesNothing) {
  write_noise_photo("A", 40, 32, 1);
  write_noise_photo("B", 40, 32, 2);
  PhotoPairsOptions o = options();
  o.min_std = 250;  // uniform noise has a grey deviation of ~40-75
  try {
    build_photo_pairs(o);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("there is no train crop; nothing written. Lower --min-std"),
              std::string::npos)
        << e.what();
  }
  EXPECT_TRUE(!fs::exists(o.output_dir) || fs::is_empty(o.output_dir));
}

}  // namespace
}  // namespace img2img

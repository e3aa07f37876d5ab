#include "img2img/dataset/terrain_builder.h"

#include <gtest/gtest.h>
#include <opencv2/imgcodecs.hpp>  // cv::imread, cv::imwrite

#include <cmath>       // std::isnan
#include <filesystem>  // std::filesystem
#include <fstream>     // std::ifstream
#include <map>         // std::map
#include <sstream>     // std::stringstream
#include <vector>      // std::vector

#include "img2img/core/error.h"
#include "unit/dataset/etopo5_path.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;

struct CsvTile {
  std::string split;
  int64_t x = 0, y = 0, size = 0;
};

std::map<std::string, CsvTile> read_tiles_csv(const fs::path& path) {
  std::map<std::string, CsvTile> tiles;
  std::ifstream in(path);
  std::string line;
  std::getline(in, line);  // header
  while (std::getline(in, line)) {
    std::stringstream ss(line);
    std::string name, split, x, y, size;
    std::getline(ss, name, ',');
    std::getline(ss, split, ',');
    std::getline(ss, x, ',');
    std::getline(ss, y, ',');
    std::getline(ss, size, ',');
    tiles[name] = CsvTile{split, std::stoll(x), std::stoll(y), std::stoll(size)};
  }
  return tiles;
}

fs::path fresh_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("img2img_test_" + name + "_" + std::to_string(::getpid()));
  fs::remove_all(dir);
  return dir;
}

// A 384 x 384 px window of ETOPO5 (lon 0..32 E, lat 60..28 N: North Sea, Alps, Mediterranean, Sahara)
// in 32 px tiles, with a held-out test window that is not aligned to the tile grid.
class TerrainBuilderTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!std::filesystem::exists(test::etopo5_path())) return;
    out_ = new fs::path(fresh_dir("terrain"));
    options_ = new TerrainOptions;
    options_->input = test::etopo5_path();
    options_->output_dir = *out_;
    options_->tile_size = 32;
    options_->window = PixelBox{0, 360, 384, 384};
    options_->test_window = PixelBox{200, 560, 160, 160};
    options_->contour_interval_m = 500;
    summary_ = new TerrainSummary(build_terrain_dataset(*options_));
  }
  static void TearDownTestSuite() {
    if (out_) fs::remove_all(*out_);
    delete out_;
    delete options_;
    delete summary_;
    out_ = nullptr;
  }
  static fs::path* out_;
  static TerrainOptions* options_;
  static TerrainSummary* summary_;
};
fs::path* TerrainBuilderTest::out_ = nullptr;
TerrainOptions* TerrainBuilderTest::options_ = nullptr;
TerrainSummary* TerrainBuilderTest::summary_ = nullptr;

TEST_F(TerrainBuilderTest, TileCountsFollowTheGridAndTheTestWindow) {
  if (!test::have_etopo5()) return;
  // 12 x 12 tiles; test tiles wholly inside x in [200, 360), y in [560, 720): 4 x 4; 6 x 6 touch it.
  EXPECT_EQ(summary_->test_tiles, 16);
  EXPECT_EQ(summary_->skipped_straddling, 36 - 16);
  EXPECT_EQ(summary_->train_tiles, 144 - 36);
  EXPECT_EQ(summary_->skipped_nodata, 0);
  for (const char* split : {"train", "test"}) {
    size_t sketches = 0, heights = 0;
    for (const auto& e : fs::directory_iterator(*out_ / split / "sketch")) {
      ++sketches;
      EXPECT_TRUE(fs::exists(*out_ / split / "height" / e.path().filename())) << e.path();
    }
    for (const auto& e : fs::directory_iterator(*out_ / split / "height")) (void)e, ++heights;
    EXPECT_EQ(sketches, heights) << split;
    EXPECT_EQ(static_cast<int64_t>(heights), std::string(split) == "train" ? summary_->train_tiles : summary_->test_tiles);
  }
  EXPECT_TRUE(fs::exists(*out_ / "terrain.json"));
}

TEST_F(TerrainBuilderTest, HeightTilesAre16BitSingleChannelAndSketchesRgb) {
  if (!test::have_etopo5()) return;
  for (const auto& e : fs::directory_iterator(*out_ / "train" / "height")) {
    const cv::Mat h = cv::imread(e.path().string(), cv::IMREAD_UNCHANGED);
    ASSERT_EQ(h.type(), CV_16UC1) << e.path();
    ASSERT_EQ(h.cols, 32);
    const cv::Mat s = cv::imread((*out_ / "train" / "sketch" / e.path().filename()).string(), cv::IMREAD_UNCHANGED);
    ASSERT_EQ(s.type(), CV_8UC3) << e.path();
  }
}

TEST_F(TerrainBuilderTest, MetresRoundTripWithinOneMetre) {
  if (!test::have_etopo5()) return;
  const HeightField field = read_height_field(test::etopo5_path());
  ASSERT_TRUE(field.integral);  // ETOPO5 stores whole metres: the mapping is lossless
  const HeightMapping mapping = read_height_mapping(*out_ / "terrain.json");
  double worst = 0;
  for (const auto& [name, tile] : read_tiles_csv(*out_ / "tiles.csv")) {
    const cv::Mat h = cv::imread((*out_ / tile.split / "height" / (name + ".png")).string(), cv::IMREAD_UNCHANGED);
    for (int r = 0; r < h.rows; ++r)
      for (int c = 0; c < h.cols; ++c) {
        const double source = field.metres.at<float>(static_cast<int>(tile.y) + r, static_cast<int>(tile.x) + c);
        worst = std::max(worst, std::abs(mapping.to_metres(h.at<uint16_t>(r, c)) - source));
      }
  }
  std::cout << "worst metres round-trip error: " << worst << " m (mapping " << mapping.offset_m << " + v * "
            << mapping.metres_per_value << ")\n";
  EXPECT_LE(worst, 1.0);
}

TEST_F(TerrainBuilderTest, TrainAndTestTilesNeverOverlap) {
  if (!test::have_etopo5()) return;
  const auto tiles = read_tiles_csv(*out_ / "tiles.csv");
  const PixelBox t = options_->test_window;
  for (const auto& [name, a] : tiles) {
    const bool inside = a.x >= t.x && a.y >= t.y && a.x + a.size <= t.x + t.width && a.y + a.size <= t.y + t.height;
    const bool touches = a.x < t.x + t.width && t.x < a.x + a.size && a.y < t.y + t.height && t.y < a.y + a.size;
    if (a.split == "test") EXPECT_TRUE(inside) << name;
    else EXPECT_FALSE(touches) << name;
    if (a.split != "test") continue;
    for (const auto& [other, b] : tiles)
      if (b.split == "train")
        EXPECT_FALSE(a.x < b.x + b.size && b.x < a.x + a.size && a.y < b.y + b.size && b.y < a.y + a.size)
            << name << " overlaps " << other;
  }
}

TEST_F(TerrainBuilderTest, CoastlineExactlyWhereTheTileCrossesSeaLevel) {
  if (!test::have_etopo5()) return;
  const HeightMapping mapping = read_height_mapping(*out_ / "terrain.json");
  int coastal = 0, inland_or_sea = 0;
  for (const auto& [name, tile] : read_tiles_csv(*out_ / "tiles.csv")) {
    const cv::Mat h = cv::imread((*out_ / tile.split / "height" / (name + ".png")).string(), cv::IMREAD_UNCHANGED);
    const cv::Mat s = cv::imread((*out_ / tile.split / "sketch" / (name + ".png")).string(), cv::IMREAD_UNCHANGED);
    double lo = 0, hi = 0;
    cv::minMaxLoc(h, &lo, &hi);
    const bool crosses = mapping.to_metres(lo) < 0 && mapping.to_metres(hi) >= 0;
    cv::Mat black;
    cv::inRange(s, cv::Scalar(0, 0, 0), cv::Scalar(0, 0, 0), black);
    EXPECT_EQ(cv::countNonZero(black) > 0, crosses) << name;
    (crosses ? coastal : inland_or_sea) += 1;
  }
  EXPECT_GT(coastal, 10);  // the window holds the coasts of Europe and North Africa
  EXPECT_GT(inland_or_sea, 10);
}

TEST(TerrainSourceTest, Etopo5IsReadNorthUp) {
  if (!test::have_etopo5()) return;
  const HeightField field = read_height_field(test::etopo5_path());
  EXPECT_EQ(field.metres.cols, 4320);
  EXPECT_EQ(field.metres.rows, 2161);
  ASSERT_TRUE(field.has_geotransform);
  EXPECT_LT(field.geotransform[5], 0);                     // row step goes south
  EXPECT_NEAR(field.geotransform[3], 90.04, 0.01);         // row 0 is the north pole
  EXPECT_LT(field.metres.at<float>(0, 0), 0);              // Arctic Ocean
  EXPECT_GT(field.metres.at<float>(2160, 0), 1000);        // Antarctic ice
  EXPECT_GT(field.metres.at<float>(12 * (90 - 28), 12 * 87), 4000);  // Himalaya, 28 N 87 E
}

TEST(TerrainSourceTest, ReadsA16BitPngHeightFieldWithScale) {
  const fs::path dir = fresh_dir("pngfield");
  fs::create_directories(dir);
  cv::Mat raw(16, 16, CV_16UC1);
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 16; ++c) raw.at<uint16_t>(r, c) = static_cast<uint16_t>(1000 * r + c);
  ASSERT_TRUE(cv::imwrite((dir / "h.png").string(), raw));
  const HeightField field = read_height_field((dir / "h.png").string(), 1, 0.5, -10);
  EXPECT_FLOAT_EQ(field.metres.at<float>(3, 4), 3004 * 0.5f - 10);
  fs::remove_all(dir);
}

TEST(TerrainSourceTest, MissingFileIsADataError) {
  EXPECT_THROW(read_height_field("/nonexistent/dem.tif"), DataError);
}

// The DataError / ConfigError message of read_height_field / build_terrain_dataset, and what was
// written to stderr meanwhile (libjpeg's own lines must not reach it).
template <class F>
std::pair<std::string, std::string> error_and_stderr(F&& f) {
  std::string message = "(no error)";
  testing::internal::CaptureStderr();
  try {
    f();
  } catch (const Error& e) {
    message = e.what();
  }
  return {message, testing::internal::GetCapturedStderr()};
}

TEST(TerrainSourceTest, ColourImagesAreNotElevationData) {
  const fs::path dir = fresh_dir("colour_dem");
  fs::create_directories(dir);
  cv::Mat photo(32, 48, CV_8UC3, cv::Scalar(40, 120, 200));
  cv::randu(photo, cv::Scalar::all(0), cv::Scalar::all(255));
  ASSERT_TRUE(cv::imwrite((dir / "photo.jpg").string(), photo));
  ASSERT_TRUE(cv::imwrite((dir / "photo.png").string(), photo));
  for (const char* name : {"photo.jpg", "photo.png"}) {
    const std::string path = (dir / name).string();
    const auto [message, err] = error_and_stderr([&] { read_height_field(path); });
    EXPECT_NE(message.find(path + " is not elevation data"), std::string::npos) << message;
    EXPECT_NE(message.find("3 band(s) of Byte"), std::string::npos) << message;
    EXPECT_NE(message.find("expected a single-band elevation raster such as ETOPO5 netCDF"), std::string::npos)
        << message;
    EXPECT_EQ(err, "");
  }
  fs::remove_all(dir);
}

TEST(TerrainSourceTest, TruncatedJpegIsOurErrorWithoutALibjpegLine) {
  const fs::path dir = fresh_dir("truncated_dem");
  fs::create_directories(dir);
  cv::Mat grey(64, 64, CV_8UC1);
  cv::randu(grey, 0, 255);
  std::vector<uchar> bytes;
  ASSERT_TRUE(cv::imencode(".jpg", grey, bytes));
  // Cut in the entropy-coded data (GDAL opens it) and in the header (GDAL cannot: the OpenCV path).
  for (const size_t keep : {bytes.size() / 2, size_t{300}}) {
    const std::string path = (dir / ("cut" + std::to_string(keep) + ".jpg")).string();
    std::ofstream(path, std::ios::binary).write(reinterpret_cast<const char*>(bytes.data()),
                                                static_cast<std::streamsize>(keep));
    const auto [message, err] = error_and_stderr([&] { read_height_field(path); });
    EXPECT_NE(message.find("'" + path + "'"), std::string::npos) << message;
    EXPECT_NE(message.find("truncated or corrupt"), std::string::npos) << message;
    EXPECT_EQ(err, "") << "keep " << keep;
  }
  fs::remove_all(dir);
}

TEST(TerrainOptionsTest, WindowLargerThanTheSourceIsAnError) {
  const fs::path dir = fresh_dir("window_dem");
  fs::create_directories(dir);
  cv::Mat raw(40, 50, CV_16UC1, cv::Scalar(1000));
  ASSERT_TRUE(cv::imwrite((dir / "h.png").string(), raw));
  TerrainOptions o;
  o.input = (dir / "h.png").string();
  o.output_dir = dir / "out";
  o.tile_size = 8;
  o.window = PixelBox{10, 0, 100, 20};
  const auto [message, err] = error_and_stderr([&] { build_terrain_dataset(o); });
  EXPECT_NE(message.find("--window 10,0,100,20 reaches outside " + o.input), std::string::npos) << message;
  EXPECT_NE(message.find("50x40"), std::string::npos) << message;  // the source's size
  EXPECT_NE(message.find("X + WIDTH <= 50 and Y + HEIGHT <= 40, e.g. --window 10,0,40,20"), std::string::npos)
      << message;
  o.window = PixelBox{};
  o.test_window = PixelBox{-1, 0, 8, 8};
  EXPECT_NE(error_and_stderr([&] { build_terrain_dataset(o); }).first.find("--test-window -1,0,8,8 reaches outside"),
            std::string::npos);
  fs::remove_all(dir);
}

TEST(TerrainSketchTest, D8AccumulatesDownASlope) {
  cv::Mat slope(1, 5, CV_32FC1);
  for (int c = 0; c < 5; ++c) slope.at<float>(0, c) = static_cast<float>(10 - c);
  const cv::Mat acc = d8_flow_accumulation(slope);
  for (int c = 0; c < 5; ++c) EXPECT_EQ(acc.at<int>(0, c), c + 1);
}

TEST(TerrainSketchTest, ValleyIsBlueRidgeIsRedCoastIsBlack) {
  // A V-shaped valley running down to the sea: heights fall toward column 8 and toward row 15.
  cv::Mat m(16, 17, CV_32FC1);
  for (int r = 0; r < 16; ++r)
    for (int c = 0; c < 17; ++c) m.at<float>(r, c) = static_cast<float>(50 * std::abs(c - 8) + 100 * (12 - r));
  const cv::Mat s = draw_terrain_sketch(m, 1e6, -1000, 2000, 6);
  EXPECT_EQ(s.at<cv::Vec3b>(8, 8), cv::Vec3b(255, 0, 0));   // valley floor: blue (BGR)
  EXPECT_EQ(s.at<cv::Vec3b>(12, 8), cv::Vec3b(0, 0, 0));    // 0 m at row 12: coastline
  cv::Mat red;
  cv::inRange(s, cv::Scalar(0, 0, 255), cv::Scalar(0, 0, 255), red);
  EXPECT_GT(cv::countNonZero(red), 0);  // ridges: accumulation of -height up the valley sides
}

TEST(TerrainSketchTest, FilledBandsTintEveryCellByItsBand) {
  // A flat-topped ramp: 0..1500 m over 16 columns, bands of 500 m, range 0..2000 m.
  cv::Mat m(4, 16, CV_32FC1);
  for (int r = 0; r < 4; ++r)
    for (int c = 0; c < 16; ++c) m.at<float>(r, c) = static_cast<float>(100 * c);
  const cv::Mat plain = draw_terrain_sketch(m, 500, 0, 2000, /*flow_threshold=*/1000);
  const cv::Mat filled = draw_terrain_sketch(m, 500, 0, 2000, 1000, /*fill_bands=*/true);
  EXPECT_EQ(plain.at<cv::Vec3b>(1, 2), cv::Vec3b(255, 255, 255));  // no line here: white without fill
  // Band 0 (0-499 m): t = 0 -> 255; band 1 (500-999 m): t = 0.25 -> 255 - 95 * 0.25 = 231;
  // band 2: t = 0.5 -> 208 (rounded 207.5 -> 208); band 3 (1500 m): t = 0.75 -> 184.
  EXPECT_EQ(filled.at<cv::Vec3b>(1, 2), cv::Vec3b(255, 255, 255));
  EXPECT_EQ(filled.at<cv::Vec3b>(1, 7), cv::Vec3b(231, 231, 231));
  EXPECT_EQ(filled.at<cv::Vec3b>(1, 12), cv::Vec3b(208, 208, 208));
  EXPECT_EQ(filled.at<cv::Vec3b>(1, 15), cv::Vec3b(184, 184, 184));
  // Contour cells are drawn the same way over the tint: column 4 (400 m, next is 500 m).
  EXPECT_EQ(filled.at<cv::Vec3b>(1, 4), plain.at<cv::Vec3b>(1, 4));
}

TEST(TerrainOptionsTest, AnEmptySplitIsAnError) {
  if (!test::have_etopo5()) return;
  TerrainOptions o;
  o.input = test::etopo5_path();
  o.output_dir = std::filesystem::temp_directory_path() / ("img2img_empty_split_" + std::to_string(::getpid()));
  o.tile_size = 32;
  o.window = PixelBox{0, 0, 64, 64};
  o.test_window = PixelBox{0, 0, 64, 64};  // every tile is a test tile: no train tile
  try {
    build_terrain_dataset(o);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_NE(std::string(e.what()).find("no train tile of 32 px"), std::string::npos) << e.what();
  }
  std::filesystem::remove_all(o.output_dir);
}

TEST(TerrainOptionsTest, BadOptionsAreListedTogether) {
  TerrainOptions o;
  o.input = "x.tif";
  o.output_dir = "out";
  o.tile_size = 2;
  o.contour_interval_m = 0;
  o.min_land_fraction = 2;
  try {
    build_terrain_dataset(o);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    // Each problem names the flag the user typed, not the options field.
    const std::string text = e.what();
    EXPECT_NE(text.find("--tile-size must be in [8, 8192], got 2"), std::string::npos) << text;
    EXPECT_NE(text.find("--contour-interval must be > 0 m, got 0"), std::string::npos) << text;
    EXPECT_NE(text.find("--min-land must be a fraction in [0, 1], got 2"), std::string::npos) << text;
    EXPECT_EQ(text.find("min_land_fraction"), std::string::npos) << text;
    EXPECT_EQ(text.find("tile_size"), std::string::npos) << text;
  }
}

// A re-run into a folder holding an earlier data set would leave stale tiles beside the new ones.
TEST(TerrainOptionsTest, NonEmptyOutputIsRefusedBeforeReadingAnything) {
  const auto dir = std::filesystem::temp_directory_path() / ("img2img_terrain_nonempty_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir / "train");
  TerrainOptions o;
  o.input = "does_not_matter.tif";
  o.output_dir = dir;
  try {
    build_terrain_dataset(o);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string text = e.what();
    EXPECT_NE(text.find("--output '" + dir.string() + "' is not empty (1 entry: train)"), std::string::npos) << text;
    EXPECT_NE(text.find("rm -r"), std::string::npos) << text;
  }
  EXPECT_TRUE(std::filesystem::is_directory(dir / "train"));
  std::filesystem::remove_all(dir);
}

// Issue #8: a cut-off download must not become a data set of sea-level tiles.
TEST(TerrainSourceTest, TruncatedNetcdfIsAnErrorNamingTheFileAndTheFix) {
  if (!test::have_etopo5()) return;
  const fs::path dir = fresh_dir("truncated_cdf");
  fs::create_directories(dir);
  const std::string path = (dir / "trunc.cdf").string();
  {
    std::ifstream in(test::etopo5_path(), std::ios::binary);
    std::vector<char> head(200000);
    in.read(head.data(), static_cast<std::streamsize>(head.size()));
    std::ofstream(path, std::ios::binary).write(head.data(), static_cast<std::streamsize>(head.size()));
  }
  const auto [message, err] = error_and_stderr([&] { read_height_field(path); });
  EXPECT_NE(message.find(path + ": 200000 bytes, but band 1 (4320 x 2161 "), std::string::npos) << message;
  EXPECT_NE(message.find("the file is truncated or damaged; fetch it again with scripts/fetch_data.sh"),
            std::string::npos)
      << message;
  EXPECT_EQ(err, "");
  TerrainOptions o;
  o.input = path;
  o.output_dir = dir / "tiles";
  EXPECT_THROW(build_terrain_dataset(o), DataError);
  EXPECT_FALSE(fs::exists(dir / "tiles" / "train"));  // no tile written
  fs::remove_all(dir);
}

// NaN cells of a float height field are nodata: read as NaN, and a tile holding one is skipped and
// counted (TerrainSummary::skipped_nodata; the CLI's "skipped: N nodata"), never written as 0 m.
TEST(TerrainOptionsTest, TilesWithNanCellsAreSkippedAndCounted) {
  const fs::path dir = fresh_dir("nan_dem");
  fs::create_directories(dir);
  cv::Mat heights(64, 64, CV_32FC1);
  for (int r = 0; r < 64; ++r)
    for (int c = 0; c < 64; ++c) heights.at<float>(r, c) = static_cast<float>(100 + 10 * r + c);
  heights.at<float>(5, 40) = NAN;  // in the tile at x = 32, y = 0
  const std::string path = (dir / "dem.tif").string();
  ASSERT_TRUE(cv::imwrite(path, heights));
  const HeightField field = read_height_field(path);
  EXPECT_TRUE(std::isnan(field.metres.at<float>(5, 40)));
  EXPECT_FLOAT_EQ(field.metres.at<float>(5, 39), 100 + 50 + 39);
  TerrainOptions o;
  o.input = path;
  o.output_dir = dir / "tiles";
  o.tile_size = 32;
  const TerrainSummary s = build_terrain_dataset(o);
  EXPECT_EQ(s.train_tiles, 3);
  EXPECT_EQ(s.skipped_nodata, 1);
  EXPECT_FALSE(fs::exists(dir / "tiles" / "train" / "height" / "y00000_x00032.png"));
  EXPECT_TRUE(fs::exists(dir / "tiles" / "train" / "height" / "y00000_x00000.png"));
  // The mapping comes from the valid cells only: lowest 100 m (an integer DEM: 94 steps per metre
  // for the 693 m range up to 793 m).
  EXPECT_DOUBLE_EQ(s.mapping.offset_m, 100);
  EXPECT_DOUBLE_EQ(s.mapping.metres_per_value, 1.0 / 94);
  const cv::Mat tile = cv::imread((dir / "tiles" / "train" / "height" / "y00032_x00032.png").string(),
                                  cv::IMREAD_UNCHANGED);
  ASSERT_EQ(tile.type(), CV_16UC1);
  EXPECT_NEAR(s.mapping.to_metres(tile.at<uint16_t>(0, 0)), 100 + 320 + 32, 0.01);
  fs::remove_all(dir);
}

}  // namespace
}  // namespace img2img

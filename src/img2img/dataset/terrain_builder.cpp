#include "img2img/dataset/terrain_builder.h"

#include <fmt/format.h>          // fmt::format
#include <gdal_priv.h>           // GDALDataset, GDALRasterBand
#include <nlohmann/json.hpp>     // nlohmann::json
#include <opencv2/imgcodecs.hpp> // cv::imread, cv::imencode

#include <algorithm>  // std::sort, std::min, std::max
#include <cmath>      // std::floor, std::isfinite
#include <fstream>    // std::ifstream
#include <mutex>      // std::once_flag
#include <numeric>    // std::iota
#include <random>     // std::mt19937_64
#include <sstream>    // std::ostringstream

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/data/image_io.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {

void register_gdal_once() {
  static std::once_flag flag;
  std::call_once(flag, [] {
    GDALAllRegister();
    CPLSetErrorHandler(CPLQuietErrorHandler);  // errors are reported by our exceptions
  });
}

struct GdalCloser {
  void operator()(GDALDataset* ds) const { GDALClose(ds); }
};
using GdalHandle = std::unique_ptr<GDALDataset, GdalCloser>;

GdalHandle open_gdal(const std::string& input) {
  GdalHandle ds(static_cast<GDALDataset*>(GDALOpen(input.c_str(), GA_ReadOnly)));
  if (ds && ds->GetRasterCount() == 0) {
    // A container (netCDF with several variables, HDF): use its first subdataset.
    char** subdatasets = ds->GetMetadata("SUBDATASETS");
    const char* first = CSLFetchNameValue(subdatasets, "SUBDATASET_1_NAME");
    if (first == nullptr) return nullptr;
    ds.reset(static_cast<GDALDataset*>(GDALOpen(first, GA_ReadOnly)));
  }
  return ds;
}

// NaN (nodata) cells of a CV_32FC1 matrix. Not `m != m`: OpenCV's compare does not follow IEEE for
// NaN (it finds none), which let a NaN cell through as 0 m.
int64_t count_nan(const cv::Mat& metres) {
  int64_t n = 0;
  for (int r = 0; r < metres.rows; ++r) {
    const float* row = metres.ptr<float>(r);
    for (int c = 0; c < metres.cols; ++c) n += std::isnan(row[c]) ? 1 : 0;
  }
  return n;
}

// 255 where a CV_32FC1 cell is a number, 0 where it is NaN (CV_8UC1), for cv::minMaxLoc.
cv::Mat valid_mask(const cv::Mat& metres) {
  cv::Mat mask(metres.rows, metres.cols, CV_8UC1);
  for (int r = 0; r < metres.rows; ++r) {
    const float* row = metres.ptr<float>(r);
    uchar* out = mask.ptr<uchar>(r);
    for (int c = 0; c < metres.cols; ++c) out[c] = std::isnan(row[c]) ? 0 : 255;
  }
  return mask;
}

bool is_integral(const cv::Mat& metres) {
  for (int r = 0; r < metres.rows; ++r) {
    const float* row = metres.ptr<float>(r);
    for (int c = 0; c < metres.cols; ++c)
      if (std::isfinite(row[c]) && row[c] != std::floor(row[c])) return false;
  }
  return true;
}

void write_png_atomic(const fs::path& path, const cv::Mat& image) {
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", image, bytes)) throw WriteError(fmt::format("cannot encode PNG {}", path.string()));
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

PixelBox intersect(const PixelBox& a, const PixelBox& b) {
  PixelBox r;
  r.x = std::max(a.x, b.x);
  r.y = std::max(a.y, b.y);
  r.width = std::max<int64_t>(0, std::min(a.x + a.width, b.x + b.width) - r.x);
  r.height = std::max<int64_t>(0, std::min(a.y + a.height, b.y + b.height) - r.y);
  return r;
}

std::string box_text(const PixelBox& b) { return fmt::format("x={} y={} w={} h={}", b.x, b.y, b.width, b.height); }

// What every "not elevation data" error says is expected.
constexpr const char* kExpectedDem =
    "expected a single-band elevation raster such as ETOPO5 netCDF (scripts/fetch_data.sh) or a GeoTIFF / .hgt / "
    "ESRI ASCII DEM, or a single-channel 16-bit PNG / float TIFF / EXR height field";

// What every "the file is damaged" error says.
constexpr const char* kDamagedFix =
    "the file is truncated or damaged; fetch it again with scripts/fetch_data.sh (or copy / export the DEM again)";

// A classic netCDF file (magic CDF\1, CDF\2 or CDF\5) stores a band uncompressed, so it must hold at
// least width x height x sample size bytes. The netCDF library reads a truncated file's missing part
// as zeros without an error, so a cut-off download would otherwise become a data set of sea level.
void check_not_truncated(GDALDataset& ds, GDALRasterBand& band, int64_t band_index) {
  if (std::string(ds.GetDriver()->GetDescription()) != "netCDF") return;
  char** files = ds.GetFileList();
  const std::string file = files != nullptr && files[0] != nullptr ? files[0] : "";
  CSLDestroy(files);
  std::error_code ec;
  const auto size = file.empty() ? 0 : fs::file_size(file, ec);
  if (file.empty() || ec) return;
  char magic[4] = {};
  std::ifstream(file, std::ios::binary).read(magic, 4);
  if (!(magic[0] == 'C' && magic[1] == 'D' && magic[2] == 'F' && (magic[3] == 1 || magic[3] == 2 || magic[3] == 5)))
    return;  // netCDF-4 (HDF5): compressed; the HDF5 library reports short reads itself
  const GDALDataType type = band.GetRasterDataType();
  const uintmax_t needed = static_cast<uintmax_t>(ds.GetRasterXSize()) * static_cast<uintmax_t>(ds.GetRasterYSize()) *
                           static_cast<uintmax_t>(GDALGetDataTypeSizeBytes(type));
  if (size < needed)
    throw DataError(fmt::format("{}: {} bytes, but band {} ({} x {} {}) alone needs {} bytes: {}", file, size,
                                band_index, ds.GetRasterXSize(), ds.GetRasterYSize(), GDALGetDataTypeName(type),
                                needed, kDamagedFix));
}

// A pixel box given by `flag` must lie inside the source: a larger one cannot be honoured as given.
void check_inside(const PixelBox& box, const char* flag, const HeightField& field) {
  const int64_t cols = field.metres.cols, rows = field.metres.rows;
  if (!box.is_set() || (box.x >= 0 && box.y >= 0 && box.x + box.width <= cols && box.y + box.height <= rows)) return;
  const int64_t x = std::clamp<int64_t>(box.x, 0, cols - 1), y = std::clamp<int64_t>(box.y, 0, rows - 1);
  throw ConfigError(fmt::format("{} {},{},{},{} reaches outside {}; give X,Y,WIDTH,HEIGHT with X, Y >= 0, "
                                "X + WIDTH <= {} and Y + HEIGHT <= {}, e.g. {} {},{},{},{}",
                                flag, box.x, box.y, box.width, box.height, field.description, cols, rows,
                                flag, x, y, std::min(box.width, cols - x), std::min(box.height, rows - y)));
}

PixelBox geo_to_pixels(const HeightField& field, const GeoBox& box, const char* what) {
  if (!field.has_geotransform)
    throw ConfigError(fmt::format("{} needs a georeferenced source; {} has no geotransform (use --window / --test-window in pixels)",
                                  what, field.description));
  const double* gt = field.geotransform;
  const int64_t x0 = std::llround((box.west - gt[0]) / gt[1]);
  const int64_t x1 = std::llround((box.east - gt[0]) / gt[1]);
  const int64_t y0 = std::llround((box.north - gt[3]) / gt[5]);
  const int64_t y1 = std::llround((box.south - gt[3]) / gt[5]);
  return PixelBox{std::min(x0, x1), std::min(y0, y1), std::abs(x1 - x0), std::abs(y1 - y0)};
}

void validate(const TerrainOptions& o) {
  std::vector<std::string> problems;
  if (o.input.empty()) problems.push_back("--input: no elevation file given");
  if (o.output_dir.empty()) problems.push_back("--output: no output folder given");
  if (o.tile_size < 8 || o.tile_size > 8192) problems.push_back(fmt::format("--tile-size must be in [8, 8192], got {}", o.tile_size));
  if (o.stride < 0) problems.push_back(fmt::format("--stride must be >= 0 (0 = tile size), got {}", o.stride));
  if (!(o.contour_interval_m > 0)) problems.push_back(fmt::format("--contour-interval must be > 0 m, got {}", o.contour_interval_m));
  if (o.min_land_fraction < 0 || o.min_land_fraction > 1)
    problems.push_back(fmt::format("--min-land must be a fraction in [0, 1], got {}", o.min_land_fraction));
  if (o.height_max_m < o.height_min_m)
    problems.push_back(fmt::format("--height-range MIN,MAX: max {} < min {}", o.height_max_m, o.height_min_m));
  if (o.lat_band_north < o.lat_band_south)
    problems.push_back(fmt::format("--lat-band SOUTH,NORTH: north {} < south {}", o.lat_band_north, o.lat_band_south));
  if (o.test_window.is_set() && o.test_box.is_set()) problems.push_back("give --test-window or --test-box, not both");
  if (o.input_scale == 0) problems.push_back("--input-scale must not be 0");
  if (o.max_train_tiles < 0 || o.max_test_tiles < 0)
    problems.push_back(fmt::format("--max-train / --max-test must be >= 0 (0 = all), got {} / {}", o.max_train_tiles,
                                   o.max_test_tiles));
  if (!problems.empty()) {
    std::string text = "invalid `img2img dataset terrain` options:";
    for (const auto& p : problems) text += "\n  " + p;
    throw ConfigError(text);
  }
}

struct Tile {
  int64_t x = 0, y = 0;
  bool test = false;
};

}  // namespace

uint16_t HeightMapping::to_value(double metres) const {
  const double v = std::round((metres - offset_m) / metres_per_value);
  return static_cast<uint16_t>(std::clamp(v, 0.0, 65535.0));
}

HeightField read_height_field(const std::string& input, int64_t band, double scale, double offset) {
  register_gdal_once();
  HeightField field;
  GdalHandle ds = open_gdal(input);
  if (ds) {
    if (band < 1 || band > ds->GetRasterCount())
      throw DataError(fmt::format("{}: --band {} does not exist (it has {} band(s), numbered from 1)", input, band, ds->GetRasterCount()));
    GDALRasterBand* b = ds->GetRasterBand(static_cast<int>(band));
    const char* driver = ds->GetDriver()->GetDescription();
    // GDAL's JPEG driver decodes a truncated file to grey without an error; image_io's libjpeg
    // check names the file instead (and keeps libjpeg's own line off stderr).
    if (std::string(driver) == "JPEG") read_image_raw(input);
    // A photo or other colour image is not elevation data: its bands are colour channels.
    const GDALColorInterp ci = b->GetColorInterpretation();
    const bool colour_band = ci == GCI_RedBand || ci == GCI_GreenBand || ci == GCI_BlueBand || ci == GCI_AlphaBand ||
                             ci == GCI_PaletteIndex || ci == GCI_HueBand || ci == GCI_SaturationBand ||
                             ci == GCI_LightnessBand || ci == GCI_CyanBand || ci == GCI_MagentaBand ||
                             ci == GCI_YellowBand || ci == GCI_BlackBand || ci == GCI_YCbCr_YBand ||
                             ci == GCI_YCbCr_CbBand || ci == GCI_YCbCr_CrBand;
    if (colour_band || (ds->GetRasterCount() >= 3 && b->GetRasterDataType() == GDT_Byte))
      throw DataError(fmt::format("{} is not elevation data: GDAL's {} driver reads {} band(s) of {} with band {} "
                                  "'{}' (a colour image such as a photo); {}",
                                  input, driver, ds->GetRasterCount(), GDALGetDataTypeName(b->GetRasterDataType()),
                                  band, GDALGetColorInterpretationName(ci), kExpectedDem));
    const int w = ds->GetRasterXSize(), h = ds->GetRasterYSize();
    check_not_truncated(*ds, *b, band);
    cv::Mat raw(h, w, CV_32FC1);
    // Some drivers report a short read only through CPLError (a warning or error with CE_None returned).
    CPLErrorReset();
    if (b->RasterIO(GF_Read, 0, 0, w, h, raw.data, w, h, GDT_Float32, 0, 0) != CE_None ||
        CPLGetLastErrorType() >= CE_Failure)
      throw DataError(fmt::format("{}: reading band {} failed ({}); {}", input, band, CPLGetLastErrorMsg(),
                                  kDamagedFix));
    int has_nodata = 0;
    const double nodata = b->GetNoDataValue(&has_nodata);
    const double band_scale = b->GetScale(), band_offset = b->GetOffset();
    for (int r = 0; r < h; ++r) {
      float* row = raw.ptr<float>(r);
      for (int c = 0; c < w; ++c) {
        const double v = row[c];
        const bool missing = !std::isfinite(v) || std::abs(v) > 1e30 ||
                             (has_nodata && (v == nodata || v == static_cast<float>(nodata)));
        row[c] = missing ? NAN : static_cast<float>(((v * band_scale + band_offset) * scale) + offset);
      }
    }
    field.has_geotransform = ds->GetGeoTransform(field.geotransform) == CE_None;
    if (field.has_geotransform && field.geotransform[5] > 0) {
      // South-up source (e.g. some netCDF): flip to north-up.
      cv::flip(raw, raw, 0);
      field.geotransform[3] += field.geotransform[5] * h;
      field.geotransform[5] = -field.geotransform[5];
    }
    field.metres = raw;
    field.description = fmt::format("{} ({} {}x{}, band {} of {})", input, ds->GetDriver()->GetDescription(), w, h,
                                    band, ds->GetRasterCount());
  } else {
    // Height fields GDAL cannot open here (float EXR); 16-bit PNG and float TIFF also land here
    // when GDAL lacks their driver.
    // read_image_raw: a truncated or corrupt file is an error naming it, with no library line on stderr.
    cv::Mat image;
    try {
      image = read_image_raw(input);
    } catch (const DataError& e) {
      throw DataError(fmt::format("cannot read elevation data {} (GDAL cannot open it; {}): {}", input, kExpectedDem,
                                  e.what()));
    }
    if (image.channels() != 1)
      throw DataError(fmt::format("{} is not elevation data: a {}-channel {} image (a colour image such as a photo); "
                                  "{}",
                                  input, image.channels(), image.depth() == CV_8U ? "8-bit" : image.depth() == CV_16U ? "16-bit" : "float",
                                  kExpectedDem));
    image.convertTo(field.metres, CV_32F, scale, offset);
    field.description = fmt::format("{} (OpenCV {}x{})", input, image.cols, image.rows);
  }
  field.integral = is_integral(field.metres);
  return field;
}

cv::Mat d8_flow_accumulation(const cv::Mat& metres) {
  const int rows = metres.rows, cols = metres.cols, n = rows * cols;
  std::vector<int> order(n);
  std::iota(order.begin(), order.end(), 0);
  const float* h = metres.ptr<float>(0);
  cv::Mat cont = metres.isContinuous() ? metres : metres.clone();
  h = cont.ptr<float>(0);
  std::stable_sort(order.begin(), order.end(), [h](int a, int b) { return h[a] > h[b]; });
  cv::Mat acc(rows, cols, CV_32SC1, cv::Scalar(1));
  int* a = acc.ptr<int>(0);
  static const int kDr[8] = {-1, -1, -1, 0, 0, 1, 1, 1};
  static const int kDc[8] = {-1, 0, 1, -1, 1, -1, 0, 1};
  for (int idx : order) {
    const int r = idx / cols, c = idx % cols;
    double best = 0;
    int target = -1;
    for (int k = 0; k < 8; ++k) {
      const int rr = r + kDr[k], cc = c + kDc[k];
      if (rr < 0 || rr >= rows || cc < 0 || cc >= cols) continue;
      const double distance = (kDr[k] != 0 && kDc[k] != 0) ? 1.41421356 : 1.0;
      const double slope = (h[idx] - h[rr * cols + cc]) / distance;
      if (slope > best) {
        best = slope;
        target = rr * cols + cc;
      }
    }
    if (target >= 0) a[target] += a[idx];
  }
  return acc;
}

cv::Mat draw_terrain_sketch(const cv::Mat& metres, double interval_m, double lowest_m, double highest_m,
                            int64_t flow_threshold, bool fill_bands) {
  const int rows = metres.rows, cols = metres.cols;
  cv::Mat sketch(rows, cols, CV_8UC3, cv::Scalar(255, 255, 255));
  const double span = std::max(highest_m - lowest_m, 1e-6);
  auto band_of = [interval_m](float v) { return static_cast<int64_t>(std::floor(v / interval_m)); };
  if (fill_bands) {
    for (int r = 0; r < rows; ++r)
      for (int c = 0; c < cols; ++c) {
        const double t =
            std::clamp((static_cast<double>(band_of(metres.at<float>(r, c))) * interval_m - lowest_m) / span, 0.0, 1.0);
        const auto tint = static_cast<uchar>(std::lround(255.0 - 95.0 * t));
        sketch.at<cv::Vec3b>(r, c) = cv::Vec3b(tint, tint, tint);
      }
  }
  const cv::Mat valleys = d8_flow_accumulation(metres);
  const cv::Mat ridges = d8_flow_accumulation(-metres);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      if (ridges.at<int>(r, c) >= flow_threshold) sketch.at<cv::Vec3b>(r, c) = cv::Vec3b(0, 0, 255);   // red (BGR)
      if (valleys.at<int>(r, c) >= flow_threshold) sketch.at<cv::Vec3b>(r, c) = cv::Vec3b(255, 0, 0);  // blue
    }
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const float v = metres.at<float>(r, c);
      int64_t level = INT64_MIN;
      if (c + 1 < cols && band_of(metres.at<float>(r, c + 1)) != band_of(v))
        level = std::max(band_of(metres.at<float>(r, c + 1)), band_of(v));
      if (r + 1 < rows && band_of(metres.at<float>(r + 1, c)) != band_of(v))
        level = std::max(level, std::max(band_of(metres.at<float>(r + 1, c)), band_of(v)));
      if (level == INT64_MIN) continue;
      const double t = std::clamp((static_cast<double>(level) * interval_m - lowest_m) / span, 0.0, 1.0);
      const auto grey = static_cast<uchar>(std::lround(200.0 - 160.0 * t));
      sketch.at<cv::Vec3b>(r, c) = cv::Vec3b(grey, grey, grey);
    }
  static const int kDr[4] = {-1, 1, 0, 0};
  static const int kDc[4] = {0, 0, -1, 1};
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const bool land = metres.at<float>(r, c) >= 0;
      for (int k = 0; k < 4; ++k) {
        const int rr = r + kDr[k], cc = c + kDc[k];
        if (rr < 0 || rr >= rows || cc < 0 || cc >= cols) continue;
        if ((metres.at<float>(rr, cc) >= 0) != land) {
          sketch.at<cv::Vec3b>(r, c) = cv::Vec3b(0, 0, 0);
          break;
        }
      }
    }
  return sketch;
}

TerrainSummary build_terrain_dataset(const TerrainOptions& o) {
  validate(o);
  require_empty_output_folder(o.output_dir, "--output", "tiles");
  const HeightField field = read_height_field(o.input, o.band, o.input_scale, o.input_offset);
  const PixelBox all{0, 0, field.metres.cols, field.metres.rows};
  check_inside(o.window, "--window", field);
  check_inside(o.test_window, "--test-window", field);
  TerrainSummary summary;
  PixelBox window = o.window.is_set() ? intersect(o.window, all) : all;
  if (o.lat_band_north > o.lat_band_south) {
    const PixelBox band = geo_to_pixels(field, GeoBox{-1e9, o.lat_band_south, 1e9, o.lat_band_north}, "--lat-band");
    window = intersect(window, PixelBox{window.x, band.y, window.width, band.height});
  }
  if (!window.is_set())
    throw ConfigError(fmt::format("--window / --lat-band select no pixels of {}; give a region inside the source", field.description));
  PixelBox test_region;
  if (o.test_window.is_set()) test_region = o.test_window;
  if (o.test_box.is_set()) test_region = geo_to_pixels(field, o.test_box, "--test-box");
  summary.window = window;
  summary.test_window = test_region;

  // One mapping for the whole data set, from the tiled window (train and test alike).
  const cv::Mat region = field.metres(cv::Rect(static_cast<int>(window.x), static_cast<int>(window.y),
                                               static_cast<int>(window.width), static_cast<int>(window.height)));
  double lo = 0, hi = 0;
  if (o.height_max_m > o.height_min_m) {
    lo = o.height_min_m;
    hi = o.height_max_m;
  } else {
    cv::minMaxLoc(region, &lo, &hi, nullptr, nullptr, valid_mask(region));
  }
  HeightMapping mapping;
  mapping.offset_m = field.integral ? std::floor(lo) : lo;
  const double range = hi - mapping.offset_m;
  if (field.integral) {
    // Integer DEM: an integer number k of 16-bit steps per metre keeps it lossless.
    mapping.metres_per_value = 1.0 / std::max(1.0, std::floor(65535.0 / std::max(range, 1.0)));
  } else {
    mapping.metres_per_value = range > 0 ? range / 65535.0 : 1.0;
  }
  summary.mapping = mapping;
  const double lowest = mapping.offset_m, highest = mapping.to_metres(65535);

  // Tiles.
  const int64_t size = o.tile_size, stride = o.stride > 0 ? o.stride : o.tile_size;
  const int64_t threshold = o.flow_threshold > 0 ? o.flow_threshold : std::max<int64_t>(4, size / 4);
  std::vector<Tile> tiles;
  for (int64_t y = window.y; y + size <= window.y + window.height; y += stride)
    for (int64_t x = window.x; x + size <= window.x + window.width; x += stride) {
      const PixelBox box{x, y, size, size};
      Tile t{x, y, false};
      if (test_region.is_set()) {
        const PixelBox overlap = intersect(box, test_region);
        if (overlap.width == size && overlap.height == size) {
          t.test = true;
        } else if (overlap.width > 0 && overlap.height > 0) {
          ++summary.skipped_straddling;
          continue;
        }
      }
      const cv::Mat m = field.metres(cv::Rect(static_cast<int>(x), static_cast<int>(y), static_cast<int>(size),
                                              static_cast<int>(size)));
      if (count_nan(m) > 0) {
        ++summary.skipped_nodata;
        continue;
      }
      double tmin = 0, tmax = 0;
      cv::minMaxLoc(m, &tmin, &tmax);
      const double land = static_cast<double>(cv::countNonZero(m >= 0)) / static_cast<double>(size * size);
      if (land < o.min_land_fraction || tmax - tmin < o.min_relief_m) {
        ++summary.skipped_filter;
        continue;
      }
      tiles.push_back(t);
    }

  // Seeded subsets.
  std::mt19937_64 rng(static_cast<uint64_t>(o.seed));
  auto subset = [&rng](std::vector<Tile> list, int64_t limit) {
    if (limit > 0 && static_cast<int64_t>(list.size()) > limit) {
      std::shuffle(list.begin(), list.end(), rng);
      list.resize(static_cast<size_t>(limit));
      std::sort(list.begin(), list.end(), [](const Tile& a, const Tile& b) { return a.y != b.y ? a.y < b.y : a.x < b.x; });
    }
    return list;
  };
  std::vector<Tile> train, test;
  for (const Tile& t : tiles) (t.test ? test : train).push_back(t);
  train = subset(train, o.max_train_tiles);
  test = subset(test, o.max_test_tiles);
  // An empty split is an error, not a data set that fails later: no train tile, or a test region that holds no tile.
  if (train.empty() || (test_region.is_set() && test.empty()))
    throw DataError(fmt::format("no {} tile of {} px fits the window {} of {} ({} train, {} test; skipped: {} nodata, "
                                "{} by land/relief filters, {} straddling the test region). Widen the window, move "
                                "the test region, or loosen --min-land / --min-relief.",
                                train.empty() ? "train" : "test", size, box_text(window), field.description,
                                train.size(), test.size(), summary.skipped_nodata, summary.skipped_filter,
                                summary.skipped_straddling));

  std::ostringstream csv;
  csv << "name,split,x,y,size,min_m,max_m,land_fraction\n";
  for (const std::string split : {"train", "test"}) {
    fs::create_directories(o.output_dir / split / "sketch");
    fs::create_directories(o.output_dir / split / "height");
  }
  for (const auto* list : {&train, &test}) {
    for (const Tile& t : *list) {
      const std::string split = t.test ? "test" : "train";
      const std::string name = fmt::format("y{:05d}_x{:05d}", t.y, t.x);
      const cv::Mat m = field.metres(cv::Rect(static_cast<int>(t.x), static_cast<int>(t.y), static_cast<int>(size),
                                              static_cast<int>(size)));
      cv::Mat height(m.rows, m.cols, CV_16UC1);
      for (int r = 0; r < m.rows; ++r)
        for (int c = 0; c < m.cols; ++c) height.at<uint16_t>(r, c) = mapping.to_value(m.at<float>(r, c));
      write_png_atomic(o.output_dir / split / "height" / (name + ".png"), height);
      write_png_atomic(o.output_dir / split / "sketch" / (name + ".png"),
                       draw_terrain_sketch(m, o.contour_interval_m, lowest, highest, threshold, o.fill_bands));
      double tmin = 0, tmax = 0;
      cv::minMaxLoc(m, &tmin, &tmax);
      const double land = static_cast<double>(cv::countNonZero(m >= 0)) / static_cast<double>(size * size);
      csv << fmt::format("{},{},{},{},{},{},{},{:.4f}\n", name, split, t.x, t.y, size, tmin, tmax, land);
    }
  }
  summary.train_tiles = static_cast<int64_t>(train.size());
  summary.test_tiles = static_cast<int64_t>(test.size());

  nlohmann::json meta;
  meta["source"] = field.description;
  meta["height_mapping"] = {{"formula", "metres = offset_m + value * metres_per_value (value: 16-bit PNG sample 0..65535)"},
                            {"offset_m", mapping.offset_m},
                            {"metres_per_value", mapping.metres_per_value},
                            {"lossless", field.integral}};
  meta["contour_interval_m"] = o.contour_interval_m;
  meta["sketch"] = {{"background", "white"},
                    {"contours", "grey, every contour_interval_m; shade 200 (lowest height) .. 40 (highest)"},
                    {"band_fill", o.fill_bands ? "each cell tinted by its contour band: 255 (lowest) .. 160 (highest)"
                                               : "none (white background)"},
                    {"coastline", "black (0,0,0): cells with a 4-neighbour on the other side of 0 m"},
                    {"ridges", "red (255,0,0): D8 flow accumulation of -height >= flow_threshold"},
                    {"valleys", "blue (0,0,255): D8 flow accumulation of height >= flow_threshold"},
                    {"flow_threshold", threshold}};
  meta["tile_size"] = size;
  meta["stride"] = stride;
  meta["window"] = {window.x, window.y, window.width, window.height};
  meta["test_window"] = {test_region.x, test_region.y, test_region.width, test_region.height};
  meta["train_tiles"] = summary.train_tiles;
  meta["test_tiles"] = summary.test_tiles;
  meta["seed"] = o.seed;
  if (field.has_geotransform)
    meta["geotransform"] = std::vector<double>(field.geotransform, field.geotransform + 6);
  write_file_atomic(o.output_dir / "terrain.json", meta.dump(2) + "\n");
  write_file_atomic(o.output_dir / "tiles.csv", csv.str());
  return summary;
}

HeightMapping read_height_mapping(const fs::path& terrain_json) {
  try {
    const auto meta = nlohmann::json::parse(read_file(terrain_json));
    HeightMapping m;
    m.offset_m = meta.at("height_mapping").at("offset_m").get<double>();
    m.metres_per_value = meta.at("height_mapping").at("metres_per_value").get<double>();
    return m;
  } catch (const nlohmann::json::exception& e) {
    throw DataError(fmt::format("{}: not a terrain data-set description ({})", terrain_json.string(), e.what()));
  }
}

}  // namespace img2img

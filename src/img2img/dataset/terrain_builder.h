#pragma once
// `img2img dataset terrain`: a digital elevation model -> paired sketch / height tiles
// (multiple_paired layout) for training sketch -> terrain models.

#include <opencv2/core/mat.hpp>  // cv::Mat

#include <cstdint>     // int64_t
#include <filesystem>  // std::filesystem::path
#include <string>      // std::string
#include <vector>      // std::vector

namespace img2img {

/// A rectangle in source pixels (column x, row y; row 0 is the northern / top edge).
/// width == 0 or height == 0 means "not set".
struct PixelBox {
  int64_t x = 0;
  int64_t y = 0;
  int64_t width = 0;
  int64_t height = 0;
  /// Whether the box is set (positive width and height).
  bool is_set() const { return width > 0 && height > 0; }
};

/// A longitude / latitude rectangle in degrees (west < east, south < north). Unset if west == east.
struct GeoBox {
  double west = 0;
  double south = 0;
  double east = 0;
  double north = 0;
  /// Whether the box is set (west < east and south < north).
  bool is_set() const { return west < east && south < north; }
};

/// A height field in metres, north-up (row 0 = top), with the source's geotransform if it has one.
struct HeightField {
  cv::Mat metres;           ///< CV_32FC1; nodata cells are NaN
  bool has_geotransform = false;
  double geotransform[6] = {0, 1, 0, 0, 0, 1};  ///< GDAL order: x0, dx, rx, y0, ry, dy (degrees for ETOPO5)
  bool integral = false;    ///< every valid value is a whole number of metres (lossless 16-bit possible)
  std::string description;  ///< what was read (driver, size, band), for the log and terrain.json
};

/// The metres <-> 16-bit value mapping of one data set: metres = offset_m + value * metres_per_value,
/// value in [0, 65535]. One mapping for the whole data set (train and test), so that a tile's grey
/// level means the same height everywhere.
struct HeightMapping {
  double offset_m = 0;           ///< height of value 0, metres
  double metres_per_value = 1;   ///< metres per 16-bit step (1/k for integer DEMs: lossless)
  /// Metres -> 16-bit value (rounded, clamped to [0, 65535]).
  uint16_t to_value(double metres) const;
  /// 16-bit value -> metres.
  double to_metres(double value) const { return offset_m + value * metres_per_value; }
};

/// Options of build_terrain_dataset. Example:
///   TerrainOptions o; o.input = "data/etopo5.cdf"; o.output_dir = "data/terrain";
///   o.tile_size = 64; o.lat_band_south = -60; o.lat_band_north = 72; o.test_box = {-20, -40, 55, 38};
struct TerrainOptions {
  std::string input;                ///< DEM path or GDAL open string (NETCDF:"f.cdf":ROSE); .png/.exr/.tif height fields too
  std::filesystem::path output_dir; ///< receives train/{sketch,height}, test/{sketch,height}, terrain.json, tiles.csv
  int64_t tile_size = 64;           ///< tile side, source pixels (>= 8)
  int64_t stride = 0;               ///< step between tiles, pixels; 0 = tile_size (no overlap)
  int64_t band = 1;                 ///< raster band (1-based)
  double input_scale = 1.0;         ///< metres per raw unit (for unitless PNG height fields)
  double input_offset = 0.0;        ///< metres added after scaling
  PixelBox window;                  ///< only this part of the source (unset = all)
  double lat_band_south = 0;        ///< latitude band (degrees), needs a geotransform; unset if south == north
  double lat_band_north = 0;
  PixelBox test_window;             ///< held-out test region in source pixels
  GeoBox test_box;                  ///< held-out test region in degrees (alternative to test_window)
  double contour_interval_m = 500;  ///< one contour interval for the whole data set, metres (> 0)
  /// Tint every cell with a light shade of its contour band (a hypsometric sketch), so the sketch
  /// carries the height band everywhere, not only on contour lines.
  bool fill_bands = false;
  double min_land_fraction = 0;     ///< skip tiles with less land (height >= 0 m) than this, [0, 1]
  double min_relief_m = 0;          ///< skip tiles whose max - min height is below this, metres
  double height_min_m = 0;          ///< fixed mapping range; unset (min == max) = the data's range
  double height_max_m = 0;
  int64_t max_train_tiles = 0;      ///< 0 = all; N = a random subset of N train tiles (seeded)
  int64_t max_test_tiles = 0;       ///< 0 = all; N = a random subset of N test tiles (seeded)
  int64_t seed = 0;                 ///< seed of the random subsets
  int64_t flow_threshold = 0;       ///< D8 accumulation (cells) that makes a ridge / valley line; 0 = tile_size / 4
};

/// What build_terrain_dataset wrote.
struct TerrainSummary {
  int64_t train_tiles = 0;
  int64_t test_tiles = 0;
  int64_t skipped_nodata = 0;       ///< tiles with a nodata cell
  int64_t skipped_filter = 0;       ///< tiles below min_land_fraction / min_relief_m
  int64_t skipped_straddling = 0;   ///< tiles partly inside the test region (in neither split)
  HeightMapping mapping;
  PixelBox window;                  ///< the source pixels tiled
  PixelBox test_window;             ///< the held-out region in source pixels (unset if none)
};

/// Reads band `band` of any GDAL-readable DEM (GeoTIFF, netCDF, .hgt, ESRI ASCII ...) or, if GDAL
/// cannot open it, a single-channel 16-bit PNG / float EXR / float TIFF height field via OpenCV.
/// Returns heights in metres (raw * scale + offset), north-up: a south-up source (positive row
/// step) is flipped. Nodata cells -> NaN. Throws DataError naming the file if unreadable, truncated
/// or corrupt (JPEGs are checked with libjpeg: no library line reaches stderr), or if it is a colour
/// image, not elevation data (a colour band such as Red / palette, 3+ bands of 8-bit, or a
/// multi-channel image read by OpenCV), naming the bands / channels found and what is expected.
HeightField read_height_field(const std::string& input, int64_t band = 1, double scale = 1.0, double offset = 0.0);

/// The sketch of a height field (metres, CV_32FC1, no NaN): CV_8UC3 in B, G, R order (OpenCV),
/// white background; red (255, 0, 0 RGB) ridge and blue (0, 0, 255) valley cells where D8 flow
/// accumulation of -height / height reaches `flow_threshold` cells; grey contour cells at every
/// multiple of `interval_m` (a cell whose right or lower neighbour lies in another band), their
/// shade fixed by the contour's height in [lowest_m, highest_m] (light = low, 40 = high); and black
/// (0, 0, 0) coastline cells, exactly the cells with a 4-neighbour on the other side of 0 m. With
/// `fill_bands`, the background of each cell is a light tint of its band (255 lowest .. 160 highest)
/// instead of white.
cv::Mat draw_terrain_sketch(const cv::Mat& metres, double interval_m, double lowest_m, double highest_m,
                            int64_t flow_threshold, bool fill_bands = false);

/// D8 flow accumulation: every cell drains to its steepest-descent 8-neighbour (none if no lower
/// one); returns CV_32SC1 counts of cells draining through each cell (itself included, >= 1).
cv::Mat d8_flow_accumulation(const cv::Mat& metres);

/// Builds the data set described by `options`. Tiles wholly inside the test region go to test/,
/// tiles touching it nowhere to train/, the rest nowhere, so train and test never overlap.
/// Writes <output_dir>/{train,test}/{sketch,height}/y<row>_x<col>.png (same names both sides;
/// height: 16-bit single-channel; sketch: 8-bit RGB), terrain.json (the mapping, contour interval,
/// windows) and tiles.csv (name, split, x, y, min_m, max_m). Throws ConfigError for bad options
/// (also a window / test_window reaching outside the source, naming the value and the source's size),
/// DataError for an unreadable source or if no tile is left, WriteError if a file cannot be written.
TerrainSummary build_terrain_dataset(const TerrainOptions& options);

/// Reads the HeightMapping of a data set from its terrain.json. Throws DataError if missing/damaged.
HeightMapping read_height_mapping(const std::filesystem::path& terrain_json);

}  // namespace img2img

// img2img dataset terrain|pairs|combine|split: build paired training data sets.

#include <fmt/format.h>  // fmt::format

#include <iostream>  // std::cout

#include "img2img/cli/commands.h"
#include "img2img/cli/flag_values.h"
#include "img2img/core/error.h"
#include "img2img/dataset/composite.h"
#include "img2img/dataset/photo_pairs.h"
#include "img2img/dataset/terrain_builder.h"

namespace img2img::cli {

namespace {

/// Parses `count` comma-separated numbers ("a,b,c,d"); throws ConfigError naming the flag and the
/// expected `form` (e.g. "X,Y,WIDTH,HEIGHT") otherwise.
std::vector<double> parse_numbers(const std::string& text, const char* flag, size_t count, const char* form) {
  const auto bad = [&] {
    return ConfigError(fmt::format("{}: expected {} comma-separated numbers {}, got '{}'", flag, count, form, text));
  };
  std::vector<double> values;
  size_t start = 0;
  while (start <= text.size()) {
    const size_t comma = text.find(',', start);
    const std::string part = text.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
    try {
      size_t used = 0;
      values.push_back(std::stod(part, &used));
      if (used != part.size()) throw std::invalid_argument(part);
    } catch (const std::exception&) {
      throw bad();
    }
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  if (values.size() != count) throw bad();
  return values;
}

PixelBox parse_pixel_box(const std::string& text, const char* flag) {
  const auto v = parse_numbers(text, flag, 4, "X,Y,WIDTH,HEIGHT");
  return PixelBox{static_cast<int64_t>(v[0]), static_cast<int64_t>(v[1]), static_cast<int64_t>(v[2]),
                  static_cast<int64_t>(v[3])};
}

struct TerrainArgs {
  TerrainOptions options;
  std::string output, window, lat_band, test_window, test_box, height_range;
};

CLI::App* setup_terrain(CLI::App& parent, std::function<int()>& run) {
  CLI::App* sub = parent.add_subcommand("terrain", "Elevation model -> sketch/height tile pairs (multiple_paired)");
  auto a = std::make_shared<TerrainArgs>();
  TerrainOptions& o = a->options;
  sub->add_option("--input", o.input,
                  "DEM any GDAL driver reads (GeoTIFF, netCDF, .hgt, ESRI ASCII; a GDAL open string like "
                  "NETCDF:\"f.cdf\":ROSE), or a 16-bit PNG / float EXR / float TIFF height field")
      ->required();
  sub->add_option("--output", a->output, "output folder: train/ and test/ with sketch/ and height/, terrain.json, tiles.csv")
      ->required();
  expect_integer(sub->add_option("--tile-size", o.tile_size, "tile side in source pixels")->capture_default_str(),
                 "a whole number of pixels");
  expect_integer(sub->add_option("--stride", o.stride, "pixels between tiles (0 = tile size)")->capture_default_str(),
                 "a whole number of pixels (0 = tile size)");
  expect_integer(sub->add_option("--band", o.band, "raster band, 1-based")->capture_default_str(),
                 "a band number (1 = the first band)");
  expect_number(sub->add_option("--input-scale", o.input_scale, "metres per raw unit (unitless PNG height fields)")
                    ->capture_default_str(),
                "a number of metres per raw unit");
  expect_number(sub->add_option("--input-offset", o.input_offset, "metres added after scaling")->capture_default_str(),
                "a number of metres");
  sub->add_option("--window", a->window, "only this pixel window: X,Y,WIDTH,HEIGHT (row 0 = north), inside the source");
  sub->add_option("--lat-band", a->lat_band, "only this latitude band: SOUTH,NORTH degrees (georeferenced sources)");
  sub->add_option("--test-window", a->test_window, "held-out test region in pixels: X,Y,WIDTH,HEIGHT, inside the source");
  sub->add_option("--test-box", a->test_box, "held-out test region in degrees: WEST,SOUTH,EAST,NORTH");
  expect_number(sub->add_option("--contour-interval", o.contour_interval_m,
                                "metres between contour lines (one for the whole set)")
                    ->capture_default_str(),
                "a number of metres");
  sub->add_flag("--fill-bands", o.fill_bands,
                "tint every cell by its contour band (a hypsometric sketch: the band is known everywhere)");
  sub->add_option("--height-range", a->height_range,
                  "fixed metres range MIN,MAX of the 16-bit mapping (default: the data's range)");
  expect_number(sub->add_option("--min-land", o.min_land_fraction, "skip tiles with less land (>= 0 m) than this fraction")
                    ->capture_default_str(),
                "a fraction from 0 to 1");
  expect_number(sub->add_option("--min-relief", o.min_relief_m, "skip tiles with less relief (max - min) than this, metres")
                    ->capture_default_str(),
                "a number of metres");
  expect_integer(sub->add_option("--max-train", o.max_train_tiles,
                                 "at most this many train tiles, a seeded random subset (0 = all)")
                     ->capture_default_str(),
                 "a whole number of tiles (0 = all)");
  expect_integer(sub->add_option("--max-test", o.max_test_tiles, "at most this many test tiles (0 = all)")
                     ->capture_default_str(),
                 "a whole number of tiles (0 = all)");
  expect_integer(sub->add_option("--seed", o.seed, "seed of the random subsets")->capture_default_str(),
                 "a whole number");
  expect_integer(sub->add_option("--flow-threshold", o.flow_threshold,
                                 "D8 flow accumulation (cells) that draws a ridge/valley line (0 = tile size / 4)")
                     ->capture_default_str(),
                 "a whole number of cells (0 = tile size / 4)");
  run = [a] {
    TerrainOptions o = a->options;
    o.output_dir = a->output;
    if (!a->window.empty()) o.window = parse_pixel_box(a->window, "--window");
    if (!a->test_window.empty()) o.test_window = parse_pixel_box(a->test_window, "--test-window");
    if (!a->test_box.empty()) {
      const auto v = parse_numbers(a->test_box, "--test-box", 4, "WEST,SOUTH,EAST,NORTH");
      o.test_box = GeoBox{v[0], v[1], v[2], v[3]};
    }
    if (!a->lat_band.empty()) {
      const auto v = parse_numbers(a->lat_band, "--lat-band", 2, "SOUTH,NORTH");
      o.lat_band_south = v[0];
      o.lat_band_north = v[1];
    }
    if (!a->height_range.empty()) {
      const auto v = parse_numbers(a->height_range, "--height-range", 2, "MIN,MAX");
      o.height_min_m = v[0];
      o.height_max_m = v[1];
    }
    const TerrainSummary s = build_terrain_dataset(o);
    std::cout << fmt::format(
        "terrain: {} train + {} test tiles of {} px in {} (skipped: {} nodata, {} filtered, {} straddling the "
        "test region)\n  heights: metres = {} + value * {} (16-bit PNG), contours every {} m; see terrain.json\n",
        s.train_tiles, s.test_tiles, o.tile_size, a->output, s.skipped_nodata, s.skipped_filter,
        s.skipped_straddling, s.mapping.offset_m, s.mapping.metres_per_value, o.contour_interval_m);
    return 0;
  };
  return sub;
}

CLI::App* setup_combine(CLI::App& parent, std::function<int()>& run) {
  CLI::App* sub = parent.add_subcommand("combine", "Two paired folders -> one folder of left|right composites");
  auto o = std::make_shared<CombineOptions>();
  sub->add_option("--left", o->left_dir, "folder of inputs (left halves)")->required();
  sub->add_option("--right", o->right_dir, "folder of references (right halves), paired by file name")->required();
  sub->add_option("--more", o->more_dirs, "further folders to append on the right (e.g. sketch|generated|real)");
  sub->add_option("--output", o->output_dir, "output folder of composites")->required();
  run = [o] {
    const int64_t n = combine_paired_folders(*o);
    std::cout << fmt::format("combine: wrote {} composite(s) to {}\n", n, o->output_dir.string());
    return 0;
  };
  return sub;
}

CLI::App* setup_split(CLI::App& parent, std::function<int()>& run) {
  CLI::App* sub = parent.add_subcommand("split", "A folder of left|right composites -> two folders");
  auto o = std::make_shared<SplitOptions>();
  sub->add_option("--input", o->composite_dir, "folder of composites")->required();
  sub->add_option("--left", o->left_dir, "output folder of left halves")->required();
  sub->add_option("--right", o->right_dir, "output folder of right halves")->required();
  run = [o] {
    const int64_t n = split_composite_folder(*o);
    std::cout << fmt::format("split: {} composite(s) -> {} and {}\n", n, o->left_dir.string(), o->right_dir.string());
    return 0;
  };
  return sub;
}

CLI::App* setup_pairs(CLI::App& parent, std::function<int()>& run) {
  CLI::App* sub = parent.add_subcommand(
      "pairs", "Photos -> gray/color and edges/color crop pairs (colourisation, edges -> photo), split by photo");
  auto o = std::make_shared<PhotoPairsOptions>();
  std::string output;
  auto out = std::make_shared<std::string>();
  sub->add_option("--input", o->photo_dir, "folder of photographs")->required();
  sub->add_option("--output", *out, "output folder: {train,test}/{gray,edges,color}/, crops.csv")->required();
  expect_integer(sub->add_option("--size", o->crop_size, "side of the written crops, pixels")->capture_default_str(),
                 "a whole number of pixels");
  expect_integer(sub->add_option("--crops", o->crops_per_photo, "crops per photo")->capture_default_str(),
                 "a whole number of crops");
  expect_number(sub->add_option("--scales", o->scales, "crop sides as fractions of the photo's shorter side")
                    ->capture_default_str(),
                "fractions in (0, 1], e.g. --scales 0.25 0.5 1");
  expect_number(sub->add_option("--min-std", o->min_std, "reject crops whose grey standard deviation (0-255) is below this")
                    ->capture_default_str(),
                "a number from 0 to 255");
  expect_number(sub->add_option("--test-fraction", o->test_fraction, "fraction of photos held out for test")
                    ->capture_default_str(),
                "a fraction from 0 to 1");
  expect_integer(sub->add_option("--seed", o->seed, "seed of crops and the photo split")->capture_default_str(),
                 "a whole number");
  run = [o, out] {
    PhotoPairsOptions options = *o;
    options.output_dir = *out;
    const PhotoPairsSummary s = build_photo_pairs(options);
    std::cout << fmt::format("pairs: {} train crops from {} photos, {} test crops from {} photos, {} flat crops "
                             "rejected; see {}/crops.csv\n",
                             s.train_crops, s.train_photos, s.test_crops, s.test_photos, s.rejected_flat, *out);
    if (const std::string note = upscaled_crops_note(s, options.crop_size); !note.empty())
      std::cout << "note: " << note << "\n";
    if (s.test_crops == 0) {
      const std::string why =
          options.test_fraction <= 0 ? "--test-fraction is 0"
          : s.test_photos == 0       ? fmt::format("{} photo(s) cannot be split by photo", s.train_photos)
                                     : fmt::format("every crop of the {} test photo(s) was flat (below --min-std {})",
                                                   s.test_photos, options.min_std);
      std::cout << fmt::format("warning: the test split is empty ({}); training runs without a held-out test set. "
                               "Add photos to --input, raise --test-fraction or lower --min-std.\n",
                               why);
    }
    return 0;
  };
  return sub;
}

}  // namespace

Command setup_dataset(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("dataset", "Build training data sets (terrain, pairs, combine, split)");
  sub->require_subcommand(1);
  auto runs = std::make_shared<std::vector<std::pair<CLI::App*, std::function<int()>>>>(4);
  (*runs)[0].first = setup_terrain(*sub, (*runs)[0].second);
  (*runs)[1].first = setup_pairs(*sub, (*runs)[1].second);
  (*runs)[2].first = setup_combine(*sub, (*runs)[2].second);
  (*runs)[3].first = setup_split(*sub, (*runs)[3].second);
  return {sub, [runs]() -> int {
            for (auto& [app, run] : *runs)
              if (app->parsed()) return run();
            return 0;
          }};
}

}  // namespace img2img::cli

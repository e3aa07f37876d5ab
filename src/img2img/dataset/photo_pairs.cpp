#include "img2img/dataset/photo_pairs.h"

#include <fmt/format.h>           // fmt::format
#include <opencv2/imgcodecs.hpp>  // cv::imread, cv::imencode
#include <opencv2/imgproc.hpp>    // cv::resize, cv::cvtColor, cv::Canny

#include <algorithm>  // std::shuffle
#include <cmath>      // std::ceil
#include <random>     // std::mt19937_64
#include <sstream>    // std::ostringstream

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "img2img/data/paired_dataset.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {

void write_png(const fs::path& path, const cv::Mat& image) {
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", image, bytes)) throw WriteError(fmt::format("cannot encode PNG {}", path.string()));
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

/// A decoded photo (any depth, 1-4 channels, read_image_raw) -> 8-bit BGR.
cv::Mat to_bgr8(const cv::Mat& raw) {
  cv::Mat m = raw;
  if (m.depth() == CV_16U) m.convertTo(m, CV_8U, 1.0 / 257.0);
  else if (m.depth() != CV_8U) m.convertTo(m, CV_8U, 255.0);  // float photos: [0, 1]
  cv::Mat out;
  if (m.channels() == 1 || m.channels() == 2) {
    cv::Mat grey;
    cv::extractChannel(m, grey, 0);
    cv::cvtColor(grey, out, cv::COLOR_GRAY2BGR);
  } else if (m.channels() == 4) {
    cv::cvtColor(m, out, cv::COLOR_BGRA2BGR);
  } else {
    out = m;
  }
  return out;
}

}  // namespace

PhotoPairsSummary build_photo_pairs(const PhotoPairsOptions& o) {
  std::vector<std::string> problems;
  // Upper bounds keep a typo (--size 100000: a 30 GB allocation) a message instead of an internal error.
  if (o.crop_size < 16 || o.crop_size > 8192)
    problems.push_back(fmt::format("--size must be 16 to 8192 pixels, got {}", o.crop_size));
  if (o.crops_per_photo < 1 || o.crops_per_photo > 10000)
    problems.push_back(fmt::format("--crops must be 1 to 10000, got {}", o.crops_per_photo));
  if (!(o.min_std >= 0 && o.min_std <= 255))
    problems.push_back(fmt::format("--min-std must be 0 to 255 (grey standard deviation of 8-bit values), got {}",
                                   o.min_std));
  if (o.scales.empty()) problems.push_back("--scales: give at least one");
  for (double s : o.scales)
    if (!(s > 0 && s <= 1)) problems.push_back(fmt::format("--scales must each be in (0, 1], got {}", s));
  if (o.test_fraction < 0 || o.test_fraction >= 1)
    problems.push_back(fmt::format("--test-fraction must be in [0, 1), got {}", o.test_fraction));
  if (!problems.empty()) {
    std::string text = "invalid `img2img dataset pairs` options:";
    for (const auto& p : problems) text += "\n  " + p;
    throw ConfigError(text);
  }
  // A folder holding an earlier run would mix its crops with this run's (stale test crops beside new
  // train crops of the same photo), so only a missing or empty --output is written to.
  require_empty_output_folder(o.output_dir, "--output", "crops");
  std::vector<fs::path> photos = list_image_files(o.photo_dir);
  // Decode every photo first, so a bad file leaves nothing half-written (as `dataset split` and `infer`).
  std::vector<std::string> bad;
  for (const auto& photo : photos) {
    try {
      const cv::Mat m = read_image_raw(photo);
      if (std::min(m.cols, m.rows) < 8)
        bad.push_back(fmt::format("{}: {}x{} pixels, expected at least 8x8", photo.string(), m.cols, m.rows));
    } catch (const DataError& e) {
      bad.push_back(e.what());
    }
  }
  if (!bad.empty()) {
    std::string text = fmt::format("cannot build photo pairs: {} of {} photo(s) in --input '{}' cannot be used, "
                                   "nothing written. Fix or remove them:",
                                   bad.size(), photos.size(), o.photo_dir.string());
    for (size_t i = 0; i < bad.size() && i < 10; ++i) text += "\n  " + bad[i];
    if (bad.size() > 10) text += fmt::format("\n  ... and {} more", bad.size() - 10);
    throw DataError(text);
  }
  std::mt19937_64 rng(static_cast<uint64_t>(o.seed));
  std::shuffle(photos.begin(), photos.end(), rng);
  int64_t test_count = static_cast<int64_t>(std::ceil(o.test_fraction * static_cast<double>(photos.size())));
  if (o.test_fraction > 0 && photos.size() >= 2) test_count = std::max<int64_t>(test_count, 1);
  test_count = std::min<int64_t>(test_count, static_cast<int64_t>(photos.size()) - 1);

  PhotoPairsSummary summary;
  std::ostringstream csv;
  csv << "name,split,source,x,y,width,height\n";
  for (const char* split : {"train", "test"})
    for (const char* kind : {"gray", "edges", "color"}) fs::create_directories(o.output_dir / split / kind);
  for (size_t p = 0; p < photos.size(); ++p) {
    const bool test = static_cast<int64_t>(p) < test_count;
    const std::string split = test ? "test" : "train";
    const cv::Mat photo = to_bgr8(read_image_raw(photos[p]));  // EXIF orientation applied; clear errors
    const int shorter = std::min(photo.cols, photo.rows);
    int64_t kept = 0;
    UpscaledPhoto upscaled{photos[p].filename().string(), photo.cols, photo.rows, 0, 1.0};
    for (int64_t attempt = 0; attempt < o.crops_per_photo * 4 && kept < o.crops_per_photo; ++attempt) {
      const double scale = o.scales[static_cast<size_t>(attempt) % o.scales.size()];
      const int side = std::max(8, static_cast<int>(scale * shorter));
      std::uniform_int_distribution<int> px(0, photo.cols - side), py(0, photo.rows - side);
      const cv::Rect box(px(rng), py(rng), side, side);
      cv::Mat color, gray, edges;
      cv::resize(photo(box), color, cv::Size(static_cast<int>(o.crop_size), static_cast<int>(o.crop_size)), 0, 0,
                 side > o.crop_size ? cv::INTER_AREA : cv::INTER_LINEAR);
      cv::cvtColor(color, gray, cv::COLOR_BGR2GRAY);
      cv::Scalar mean, stddev;
      cv::meanStdDev(gray, mean, stddev);
      if (stddev[0] < o.min_std) {
        ++summary.rejected_flat;
        continue;
      }
      cv::Canny(gray, edges, o.canny_low, o.canny_high);
      edges = 255 - edges;  // black edges on white
      const std::string name = fmt::format("{}_{:02d}", photos[p].stem().string(), kept);
      write_png(o.output_dir / split / "color" / (name + ".png"), color);
      write_png(o.output_dir / split / "gray" / (name + ".png"), gray);
      write_png(o.output_dir / split / "edges" / (name + ".png"), edges);
      csv << fmt::format("{},{},{},{},{},{},{}\n", name, split, photos[p].filename().string(), box.x, box.y,
                         box.width, box.height);
      ++kept;
      if (summary.smallest_box == 0 || side < summary.smallest_box) summary.smallest_box = side;
      if (side < o.crop_size) {
        ++upscaled.crops;
        upscaled.max_factor = std::max(upscaled.max_factor, static_cast<double>(o.crop_size) / side);
      }
    }
    if (upscaled.crops > 0) {
      summary.upscaled_crops += upscaled.crops;
      summary.upscaled_photos.push_back(std::move(upscaled));
    }
    (test ? summary.test_crops : summary.train_crops) += kept;
    (test ? summary.test_photos : summary.train_photos) += 1;
  }
  if (summary.train_crops == 0) {
    // Nothing to train on: remove what this call wrote (--output was missing or empty at the start).
    for (const char* split : {"train", "test"}) fs::remove_all(o.output_dir / split);
    throw DataError(fmt::format(
        "dataset pairs: every crop of the {} train photo(s) was flat (grey standard deviation below --min-std {}), "
        "so there is no train crop; nothing written. Lower --min-std (default {}) or use photos with more detail.",
        summary.train_photos, o.min_std, PhotoPairsOptions{}.min_std));
  }
  write_file_atomic(o.output_dir / "crops.csv", csv.str());
  return summary;
}

std::string upscaled_crops_note(const PhotoPairsSummary& s, int64_t crop_size) {
  if (s.upscaled_crops == 0) return "";
  double max_factor = 1.0;
  for (const UpscaledPhoto& u : s.upscaled_photos) max_factor = std::max(max_factor, u.max_factor);
  std::string photos;
  for (size_t i = 0; i < s.upscaled_photos.size() && i < 10; ++i) {
    const UpscaledPhoto& u = s.upscaled_photos[i];
    photos += fmt::format("{}{} ({} crop{}, up to {:.2f}x{})", i == 0 ? "" : ", ", u.file, u.crops,
                          u.crops == 1 ? "" : "s", u.max_factor,
                          std::min(u.width, u.height) < crop_size
                              ? fmt::format("; the photo is {}x{}, smaller than --size", u.width, u.height)
                              : "");
  }
  if (s.upscaled_photos.size() > 10) photos += fmt::format(", ... and {} more", s.upscaled_photos.size() - 10);
  const int64_t crops = s.train_crops + s.test_crops;
  // --size has a minimum of 16 (build_photo_pairs' check): below it only the photos and scales can change.
  const std::string smaller_size =
      s.smallest_box >= 16 ? fmt::format("--size {} or less, ", s.smallest_box) : std::string();
  return fmt::format("{} of {} crop{} {} upscaled to --size {} because their box in the photo was smaller (by up "
                     "to {:.2f}x; upscaled crops are softer than the photo), from {} photo{}: {}. The smallest box "
                     "was {} px: {}larger photos or larger --scales avoid it (crops.csv lists each crop's box).",
                     s.upscaled_crops, crops, crops == 1 ? "" : "s", s.upscaled_crops == 1 ? "was" : "were", crop_size,
                     max_factor,
                     s.upscaled_photos.size(), s.upscaled_photos.size() == 1 ? "" : "s", photos, s.smallest_box,
                     smaller_size);
}

}  // namespace img2img

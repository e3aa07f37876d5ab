#include "img2img/dataset/composite.h"

#include <fmt/format.h>           // fmt::format
#include <opencv2/imgcodecs.hpp>  // cv::imread, cv::imencode
#include <opencv2/imgproc.hpp>    // cv::cvtColor

#include <map>  // std::map

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "img2img/data/paired_dataset.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {

std::map<std::string, fs::path> images_by_stem(const fs::path& dir) {
  std::map<std::string, fs::path> out;
  for (const auto& file : list_image_files(dir)) out[file.stem().string()] = file;
  return out;
}

// Decoded as stored (read_image_raw: clear errors naming the file; grey + alpha PNGs as 2 channels).
cv::Mat read_raw(const fs::path& path) { return read_image_raw(path); }

void write_png(const fs::path& path, const cv::Mat& image) {
  std::vector<uchar> bytes;
  if (!cv::imencode(".png", image, bytes)) throw WriteError(fmt::format("cannot encode PNG {}", path.string()));
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

/// Converts to `depth` (CV_8U / CV_16U) and `channels` (1, 3 or 4; grey repeated, alpha opaque;
/// grey + alpha -> grey, grey, grey, alpha).
cv::Mat conform(cv::Mat image, int depth, int channels) {
  if (image.depth() != depth) {
    const double scale = depth == CV_16U ? 257.0 : 1.0 / 257.0;
    image.convertTo(image, CV_MAKETYPE(depth, image.channels()), scale);
  }
  if (image.channels() == channels) return image;
  cv::Mat out;
  if (image.channels() == 2) {  // PNG has no 2-channel colour type OpenCV writes: expand to BGRA
    out.create(image.size(), CV_MAKETYPE(depth, 4));
    const int from_to[] = {0, 0, 0, 1, 0, 2, 1, 3};
    cv::mixChannels(&image, 1, &out, 1, from_to, 4);
    return out;
  }
  if (image.channels() == 1 && channels == 3) cv::cvtColor(image, out, cv::COLOR_GRAY2BGR);
  else if (image.channels() == 1 && channels == 4) cv::cvtColor(image, out, cv::COLOR_GRAY2BGRA);
  else if (image.channels() == 3 && channels == 4) cv::cvtColor(image, out, cv::COLOR_BGR2BGRA);
  else out = image;
  return out;
}

}  // namespace

int64_t combine_paired_folders(const CombineOptions& o) {
  std::vector<fs::path> dirs{o.left_dir, o.right_dir};
  dirs.insert(dirs.end(), o.more_dirs.begin(), o.more_dirs.end());
  check_distinct_folders({{"--left", o.left_dir}, {"--right", o.right_dir}}, {{"--output", o.output_dir}});
  for (const auto& more : o.more_dirs) check_distinct_folders({{"input folder", more}}, {{"--output", o.output_dir}});
  // Same-named files of an earlier run would be replaced and others left beside the new ones.
  require_empty_output_folder(o.output_dir, "--output", "composites");
  std::vector<std::map<std::string, fs::path>> sides;
  for (const auto& dir : dirs) sides.push_back(images_by_stem(dir));
  std::vector<std::string> problems;
  std::map<std::string, size_t> seen;  // stem -> number of folders holding it
  for (const auto& side : sides)
    for (const auto& [stem, path] : side) ++seen[stem];
  for (size_t d = 0; d < sides.size(); ++d)
    for (const auto& [stem, path] : sides[d])
      if (seen[stem] != sides.size())
        problems.push_back(fmt::format("{}: in {} but not in every folder", path.filename().string(), dirs[d].string()));
  std::vector<std::vector<cv::Mat>> panels;
  std::vector<std::string> names;
  for (const auto& [stem, count] : seen) {
    if (count != sides.size()) continue;
    std::vector<cv::Mat> images;
    for (const auto& side : sides) images.push_back(read_raw(side.at(stem)));
    bool sizes_match = true;
    for (size_t d = 1; d < images.size(); ++d)
      if (images[d].size() != images[0].size()) {
        problems.push_back(fmt::format("{}: sizes differ ({}x{} in {}, {}x{} in {})", stem, images[0].cols,
                                       images[0].rows, dirs[0].string(), images[d].cols, images[d].rows,
                                       dirs[d].string()));
        sizes_match = false;
      }
    if (!sizes_match) continue;
    panels.push_back(images);
    names.push_back(stem);
  }
  if (!problems.empty()) {
    std::string text = fmt::format("cannot combine {} and {}: {} problem(s), nothing written:",
                                   o.left_dir.string(), o.right_dir.string(), problems.size());
    for (const auto& p : problems) text += "\n  " + p;
    throw DataError(text);
  }
  fs::create_directories(o.output_dir);
  for (size_t i = 0; i < panels.size(); ++i) {
    std::vector<cv::Mat> images = panels[i];
    int depth = CV_8U, channels = 1;
    for (const auto& m : images) {
      if (m.depth() == CV_16U) depth = CV_16U;
      channels = std::max(channels, m.channels() == 2 ? 4 : m.channels());
    }
    for (auto& m : images) m = conform(m, depth, channels);
    cv::Mat joined;
    cv::hconcat(images, joined);
    write_png(o.output_dir / (names[i] + ".png"), joined);
  }
  return static_cast<int64_t>(panels.size());
}

int64_t split_composite_folder(const SplitOptions& o) {
  check_distinct_folders({{"--input", o.composite_dir}}, {{"--left", o.left_dir}, {"--right", o.right_dir}});
  require_empty_output_folder(o.left_dir, "--left", "left halves");
  require_empty_output_folder(o.right_dir, "--right", "right halves");
  const auto files = list_image_files(o.composite_dir);
  // Check every composite first (decodes, even width), so a bad file leaves nothing half-written.
  std::vector<std::string> problems;
  for (const auto& file : files) {
    try {
      const cv::Mat image = read_raw(file);
      if (image.cols % 2 != 0)
        problems.push_back(fmt::format("{}: width {} is odd, so it is not a left|right composite", file.string(),
                                       image.cols));
    } catch (const DataError& e) {
      problems.push_back(e.what());
    }
  }
  if (!problems.empty()) {
    std::string text = fmt::format("cannot split {}: {} of {} composite(s) unusable, nothing written. Fix or remove "
                                   "them (--input):",
                                   o.composite_dir.string(), problems.size(), files.size());
    for (const auto& p : problems) text += "\n  " + p;
    throw DataError(text);
  }
  fs::create_directories(o.left_dir);
  fs::create_directories(o.right_dir);
  for (const auto& file : files) {
    const cv::Mat image = read_raw(file);
    const int half = image.cols / 2;
    for (const auto& [dir, x] : {std::pair{o.left_dir, 0}, std::pair{o.right_dir, half}}) {
      cv::Mat side = image(cv::Rect(x, 0, half, image.rows)).clone();
      if (side.channels() == 2) side = conform(side, side.depth(), 4);  // grey + alpha: PNG needs 1, 3 or 4
      write_png(dir / (file.stem().string() + ".png"), side);
    }
  }
  return static_cast<int64_t>(files.size());
}

}  // namespace img2img

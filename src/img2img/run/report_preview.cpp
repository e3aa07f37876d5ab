#include "img2img/run/report_preview.h"

#include <fmt/format.h>  // fmt::format

#include <opencv2/imgcodecs.hpp>  // cv::imencode
#include <opencv2/imgproc.hpp>    // cv::Sobel, cv::applyColorMap

#include <algorithm>  // std::max
#include <cmath>      // std::sqrt

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"

namespace img2img {
namespace fs = std::filesystem;

cv::Mat height_preview(const cv::Mat& height, std::optional<HeightRange> range) {
  if (height.empty() || height.type() != CV_32FC1)
    throw DataError(fmt::format("height_preview needs a non-empty one-channel float image, got {}x{} of type {}",
                                height.cols, height.rows, height.type()));
  double lo = 0, hi = 0;
  if (range)
    lo = range->lo, hi = range->hi;
  else
    cv::minMaxLoc(height, &lo, &hi);
  cv::Mat h;  // [0, 1]
  if (hi > lo) {
    height.convertTo(h, CV_32F, 1.0 / (hi - lo), -lo / (hi - lo));
    cv::min(cv::max(h, 0.0), 1.0, h);
  } else {
    h = cv::Mat(height.size(), CV_32F, cv::Scalar(0.5));
  }
  cv::Mat index, colour;
  h.convertTo(index, CV_8U, 255.0);  // rounds (saturate_cast)
  cv::applyColorMap(index, colour, cv::COLORMAP_VIRIDIS);
  const double relief = kPreviewReliefFraction * std::max(height.rows, height.cols);
  cv::Mat dx, dy;
  cv::Sobel(h, dx, CV_32F, 1, 0, 3, relief / 8.0, 0, cv::BORDER_REPLICATE);
  cv::Sobel(h, dy, CV_32F, 0, 1, 3, relief / 8.0, 0, cv::BORDER_REPLICATE);
  const double lx = -0.5, ly = -0.5, lz = 1.0 / std::sqrt(2.0);
  cv::Mat out(height.size(), CV_8UC3);
  for (int y = 0; y < h.rows; ++y)
    for (int x = 0; x < h.cols; ++x) {
      const double gx = dx.at<float>(y, x), gy = dy.at<float>(y, x);
      const double shade = std::max(0.0, (-gx * lx - gy * ly + lz) / std::sqrt(gx * gx + gy * gy + 1.0));
      const double f = kPreviewAmbient + (1.0 - kPreviewAmbient) * shade;
      const cv::Vec3b c = colour.at<cv::Vec3b>(y, x);
      out.at<cv::Vec3b>(y, x) = {cv::saturate_cast<uchar>(c[0] * f), cv::saturate_cast<uchar>(c[1] * f),
                                 cv::saturate_cast<uchar>(c[2] * f)};
    }
  return out;
}

cv::Mat height_channel(const DecodedImage& image) {
  std::vector<cv::Mat> c;
  cv::split(image.pixels, c);
  if (c.size() <= 2) return c.at(0);
  return (c[0] + c[1] + c[2]) / 3.0;
}

PreviewKind preview_kind(const DecodedImage& image, const fs::path& path) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  const bool browser_decodes = ext == ".png" || ext == ".jpg" || ext == ".jpeg";
  if (image.depth != PixelDepth::k8) {
    bool grey = image.channels <= 2;
    if (image.channels >= 3) {
      std::vector<cv::Mat> c;
      cv::split(image.pixels, c);
      grey = cv::norm(c[0], c[1], cv::NORM_INF) == 0 && cv::norm(c[0], c[2], cv::NORM_INF) == 0;
    }
    if (grey) return PreviewKind::kHeight;
  }
  return browser_decodes ? PreviewKind::kNone : PreviewKind::kConvert;
}

void write_preview(const DecodedImage& image, PreviewKind kind, const fs::path& path,
                   std::optional<HeightRange> range) {
  if (kind == PreviewKind::kHeight) {
    std::vector<uchar> bytes;
    if (!cv::imencode(".png", height_preview(height_channel(image), range), bytes))
      throw WriteError(fmt::format("cannot encode the preview '{}' as PNG", path.string()));
    write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
    return;
  }
  cv::Mat clamped;  // [0, 1], R, G, B, A order as read_image gives it
  cv::min(cv::max(image.pixels, 0.0), 1.0, clamped);
  if (clamped.channels() == 2) {  // grey, alpha -> R, G, B, A (PNG encoders take 1, 3 or 4 channels)
    std::vector<cv::Mat> c;
    cv::split(clamped, c);
    cv::merge(std::vector<cv::Mat>{c[0], c[0], c[0], c[1]}, clamped);
  }
  write_image(path, clamped, PixelDepth::k8);
}

}  // namespace img2img

#include "img2img/data/image_io.h"

#include <fmt/format.h>               // fmt::format
#include <opencv2/core.hpp>           // cv::split, cv::merge
#include <opencv2/imgcodecs.hpp>      // cv::imread, cv::imwrite
#include <opencv2/imgproc.hpp>        // cv::cvtColor, cv::resize

#include <algorithm>  // std::transform
#include <cctype>     // std::tolower
#include <set>        // std::set

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {
std::string lower_ext(const fs::path& path) {
  std::string e = path.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e;
}
}  // namespace

std::string to_string(PixelDepth depth) {
  switch (depth) {
    case PixelDepth::k8: return "8-bit";
    case PixelDepth::k16: return "16-bit";
    case PixelDepth::kFloat: return "float";
  }
  return "?";
}

PixelDepth parse_pixel_depth(const std::string& text) {
  if (text == "8-bit") return PixelDepth::k8;
  if (text == "16-bit") return PixelDepth::k16;
  if (text == "float") return PixelDepth::kFloat;
  throw DataError(fmt::format("unknown pixel depth '{}'; expected 8-bit, 16-bit or float", text));
}

bool has_image_extension(const fs::path& path) {
  static const std::set<std::string> kExt{".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".bmp",
                                          ".webp", ".ppm", ".pgm", ".pnm", ".hdr"};
  return kExt.count(lower_ext(path)) > 0;
}

DecodedImage read_image(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw DataError(fmt::format("cannot read image '{}': no such file. Check the path.", path.string()));
  if (fs::file_size(path, ec) == 0)
    throw DataError(fmt::format("cannot read image '{}': the file is empty (0 bytes). Replace or remove it.",
                                path.string()));
  const std::string ext = lower_ext(path);
  // IMREAD_UNCHANGED keeps alpha and 16-bit/float but ignores EXIF orientation, which only JPEGs carry.
  const bool jpeg = ext == ".jpg" || ext == ".jpeg";
  cv::Mat raw;
  try {
    raw = cv::imread(path.string(), jpeg ? (cv::IMREAD_ANYCOLOR | cv::IMREAD_ANYDEPTH) : cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {  // e.g. a header declaring more than OpenCV's pixel limit (found by fuzzing)
    throw DataError(fmt::format("cannot decode image '{}': {}. Re-export it or remove it from the folder.",
                                path.string(), e.err));
  }
  if (raw.empty())
    throw DataError(fmt::format("cannot decode image '{}': truncated, corrupt, or not a format OpenCV reads "
                                "(png, jpg, tif, exr, bmp, webp). Re-export it or remove it from the folder.",
                                path.string()));
  DecodedImage out;
  out.channels = raw.channels();
  double scale = 1.0;
  switch (raw.depth()) {
    case CV_8U: out.depth = PixelDepth::k8, scale = 1.0 / 255.0; break;
    case CV_16U: out.depth = PixelDepth::k16, scale = 1.0 / 65535.0; break;
    case CV_32F:
    case CV_64F: out.depth = PixelDepth::kFloat; break;
    default:
      throw DataError(fmt::format("image '{}' has an unsupported sample type (signed or 8/16-bit integer other "
                                  "than unsigned); convert it to 8/16-bit unsigned or float.",
                                  path.string()));
  }
  if (out.channels > 4 || out.channels == 0)
    throw DataError(fmt::format("image '{}' has {} channels; expected 1-4.", path.string(), out.channels));
  cv::Mat f;
  raw.convertTo(f, CV_32F, scale);
  // OpenCV decodes to BGR(A); keep R, G, B, A order internally.
  if (out.channels == 3) cv::cvtColor(f, f, cv::COLOR_BGR2RGB);
  if (out.channels == 4) cv::cvtColor(f, f, cv::COLOR_BGRA2RGBA);
  out.pixels = f;
  return out;
}

cv::Mat apply_channel_rule(const cv::Mat& image, int channel_count) {
  std::vector<cv::Mat> planes;
  cv::split(image, planes);
  while (static_cast<int>(planes.size()) < channel_count) planes.push_back(planes.back().clone());
  planes.resize(channel_count);
  cv::Mat out;
  cv::merge(planes, out);
  return out;
}

cv::Mat resize_square(const cv::Mat& image, int size) {
  if (image.rows == size && image.cols == size) return image;
  cv::Mat out;
  const bool shrink = image.rows > size || image.cols > size;
  cv::resize(image, out, cv::Size(size, size), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  if (out.channels() == 1 && image.channels() == 1) out = out.reshape(1, size);
  return out;
}

torch::Tensor image_to_tensor(const cv::Mat& image) {
  CV_Assert(image.depth() == CV_32F);
  const cv::Mat c = image.isContinuous() ? image : image.clone();
  torch::Tensor hwc = torch::from_blob(c.data, {c.rows, c.cols, c.channels()}, torch::kFloat32);
  return hwc.permute({2, 0, 1}).mul(2.0).sub(1.0).contiguous();  // [C, H, W] in [-1, 1]
}

cv::Mat tensor_to_image(const torch::Tensor& chw) {
  TORCH_CHECK(chw.dim() == 3, "tensor_to_image expects [C, H, W], got ", chw.sizes());
  torch::Tensor hwc = chw.detach().to(torch::kCPU, torch::kFloat32).clamp(-1, 1).add(1).mul(0.5).permute({1, 2, 0}).contiguous();
  const int c = static_cast<int>(hwc.size(2));
  cv::Mat view(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), CV_32FC(c), hwc.data_ptr<float>());
  return view.clone();
}

void write_image(const fs::path& path, const cv::Mat& image, PixelDepth depth) {
  cv::Mat bgr = image;
  if (image.channels() == 3) cv::cvtColor(image, bgr, cv::COLOR_RGB2BGR);
  if (image.channels() == 4) cv::cvtColor(image, bgr, cv::COLOR_RGBA2BGRA);
  cv::Mat out;
  std::vector<int> params;
  const std::string ext = lower_ext(path);
  if (depth == PixelDepth::kFloat && (ext == ".tif" || ext == ".tiff" || ext == ".exr")) {
    out = bgr;
    if (ext != ".exr") params = {cv::IMWRITE_TIFF_COMPRESSION, 1};  // lossless for float TIFF
  } else if (depth == PixelDepth::k16 || depth == PixelDepth::kFloat) {
    bgr.convertTo(out, CV_16U, 65535.0);  // saturates to [0, 65535]; rounds to nearest
  } else {
    bgr.convertTo(out, CV_8U, 255.0);
  }
  std::vector<uchar> bytes;
  bool ok = false;
  try {
    ok = cv::imencode(ext.empty() ? ".png" : ext, out, bytes, params);
  } catch (const cv::Exception& e) {
    throw WriteError(fmt::format("cannot encode image '{}': {}", path.string(), e.what()));
  }
  if (!ok) throw WriteError(fmt::format("cannot encode image '{}' as {}", path.string(), ext));
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace img2img

#pragma once
// Image files <-> float images <-> tensors, keeping 8-bit, 16-bit and float precision.

#include <opencv2/core/mat.hpp>  // cv::Mat
#include <torch/types.h>         // torch::Tensor

#include <filesystem>  // std::filesystem::path
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/core/image_files.h"  // has_image_extension

namespace img2img {

/// Sample type of an image file: 8-bit, 16-bit unsigned, or floating point.
enum class PixelDepth { k8 = 8, k16 = 16, kFloat = 32 };

/// "8-bit" / "16-bit" / "float".
std::string to_string(PixelDepth depth);
/// Inverse of to_string(PixelDepth); throws DataError on anything else.
PixelDepth parse_pixel_depth(const std::string& text);

/// A decoded image: CV_32FC(n), n = 1-4 channels in R, G, B, A order, values in [0, 1] (8-bit / 255,
/// 16-bit / 65535; float files as stored). `depth` and `channels` describe the file.
struct DecodedImage {
  cv::Mat pixels;
  PixelDepth depth = PixelDepth::k8;
  int channels = 0;
  double min_value = 0, max_value = 1;  ///< float files: the smallest and largest sample; 8/16-bit: 0 and 1
};

/// Decodes `path` as stored: 8/16-bit or float samples, OpenCV channel order (grey; grey, alpha for
/// 2-channel PNGs, which OpenCV alone would expand to 4; BGR; BGRA). JPEGs get their EXIF orientation
/// applied and are checked with libjpeg first: any libjpeg warning (e.g. "Premature end of JPEG
/// file") is an error, so no library message reaches stderr; PNGs get their chunk list checked
/// (a truncated PNG is an error before libpng sees it). Throws DataError naming the file if it is
/// missing, empty, truncated, corrupt or not a decodable image.
cv::Mat read_image_raw(const std::filesystem::path& path);

/// What a decoded image is for: the error about NaN or infinite samples says what they would do there.
enum class ImageUse {
  kTraining,   ///< training and test data: "they would make every loss NaN"
  kInference,  ///< infer's inputs: the generator would turn its output NaN
  kComparison  ///< ssim's files: the SSIM would be NaN
};

/// read_image_raw() converted to CV_32FC(n) in [0, 1] with channels in R, G, B, A order (1: grey,
/// 2: grey, alpha). Throws DataError as read_image_raw, for unsupported sample types or > 4 channels,
/// and for a float image (EXR, float TIFF) with NaN or infinite samples (naming the file, how many
/// pixels and the first one, and what they would do for `use`). Every loader (paired/unpaired
/// datasets, test sets, infer, ssim) uses it.
DecodedImage read_image(const std::filesystem::path& path, ImageUse use = ImageUse::kTraining);

/// The channel rule (spec data.channel_count): fewer channels -> the last one repeated, more ->
/// extra ones dropped. Input and output CV_32FC(n).
cv::Mat apply_channel_rule(const cv::Mat& image, int channel_count);

/// Resizes a float image to size x size (INTER_AREA when shrinking, bilinear when enlarging).
cv::Mat resize_square(const cv::Mat& image, int size);

/// CV_32FC(C) in [0, 1] -> [C, H, W] float32 in [-1, 1] (x * 2 - 1).
torch::Tensor image_to_tensor(const cv::Mat& image);

/// [C, H, W] float tensor in [-1, 1] (clamped) -> CV_32FC(C) in [0, 1], channels in R, G, B, A order.
cv::Mat tensor_to_image(const torch::Tensor& chw);

/// Writes a CV_32FC(C) [0, 1] image at `depth`: 8/16-bit PNG (or JPEG etc. by extension), float as
/// TIFF/EXR. Written to a temporary file and renamed. Throws WriteError on failure.
void write_image(const std::filesystem::path& path, const cv::Mat& image, PixelDepth depth);

}  // namespace img2img

#pragma once
// Viewable previews of test images a browser shows badly or not at all (run/report.h): 16-bit and
// float height fields (an image viewer shows them near-black or flat grey) as colour-mapped,
// hill-shaded 8-bit PNGs, float TIFF/EXR files as 8-bit PNGs.

#include <opencv2/core/mat.hpp>  // cv::Mat

#include <filesystem>  // std::filesystem::path
#include <optional>    // std::optional

#include "img2img/data/image_io.h"

namespace img2img {

/// Vertical exaggeration of height_preview: the field's whole range rises by this fraction of the
/// image's longer side (so a tile's relief reads the same at any height scale).
inline constexpr double kPreviewReliefFraction = 0.25;
/// Share of the colour kept on a face turned away from the light (ambient light) in height_preview.
inline constexpr double kPreviewAmbient = 0.35;

/// A height value range [lo, hi] shared by the previews of one gallery row (so colours compare).
struct HeightRange {
  double lo = 0, hi = 0;
};

/// A colour-mapped, hill-shaded view of a height field. `height`: CV_32FC1; `range`: the heights
/// mapped to the colour map's ends (values outside are clamped), default the field's own min and max
/// (a flat field shows as the colour map's middle, unshaded). Returns CV_8UC3 in OpenCV's BGR order:
///   h = clamp((height - lo) / (hi - lo), 0, 1), colour = OpenCV COLORMAP_VIRIDIS of round(255 h);
///   z = h * kPreviewReliefFraction * max(rows, cols) (pixels), dz/dx and dz/dy = the 3x3 Sobel
///   derivatives / 8 with replicated borders (Horn 1981, as GDAL's gdaldem hillshade);
///   shade = max(0, n . l) with n = (-dz/dx, -dz/dy, 1) / |.| and the light l from the upper left at
///   45 degrees altitude, l = (-1/2, -1/2, 1/sqrt(2)) (x right, y down, z up);
///   pixel = round(colour * (kPreviewAmbient + (1 - kPreviewAmbient) * shade)).
/// Throws DataError for an empty image or another type.
cv::Mat height_preview(const cv::Mat& height, std::optional<HeightRange> range = std::nullopt);

/// The height field of a decoded image (read_image): its first channel for 1 or 2 channels (grey,
/// alpha), the mean of R, G, B for 3 or 4 (a height repeated to RGB, or a model's RGB estimate of
/// one). CV_32FC1.
cv::Mat height_channel(const DecodedImage& image);

/// How a test image is shown in the report.
enum class PreviewKind {
  kNone,    ///< the file itself (8-bit, or 16-bit colour PNG/JPEG a browser decodes)
  kHeight,  ///< height_preview of its first channel: 16-bit or float, and grey (1 or 2 channels, or all colour channels equal)
  kConvert  ///< an 8-bit PNG of it (float TIFF/EXR, which browsers do not decode), alpha kept
};

/// The PreviewKind of `image` decoded from `path` (read_image).
PreviewKind preview_kind(const DecodedImage& image, const std::filesystem::path& path);

/// Writes the preview of `image` (read_image of the file) as an 8-bit PNG at `path`, atomically:
/// kHeight = height_preview(height_channel(image), `range`), kConvert = its channels at 8 bits (alpha
/// kept). Throws WriteError.
void write_preview(const DecodedImage& image, PreviewKind kind, const std::filesystem::path& path,
                   std::optional<HeightRange> range = std::nullopt);

}  // namespace img2img

#pragma once
// SSIM of image files and folders (`img2img ssim A B`).

#include <filesystem>  // std::filesystem::path
#include <string>      // std::string
#include <vector>      // std::vector

namespace img2img {

/// SSIM (see ssim()) of two image files decoded at full precision to [0, 1] (8-bit / 255, 16-bit /
/// 65535). Channel counts must match, except grey (1) against RGB (3): the grey file is repeated to 3
/// channels and `note` (when given) says so; else "" there. Throws DataError if a file is unreadable,
/// the sizes differ, or the channel counts differ otherwise (an alpha channel on one side only),
/// naming both counts and the fix.
double ssim_image_files(const std::filesystem::path& a, const std::filesystem::path& b, std::string* note = nullptr);

/// One line of a folder comparison.
struct SsimFileScore {
  std::string name;  ///< file stem, the pairing key
  double ssim = 0;
  std::string note;  ///< what was done to compare different channel counts (ssim_image_files), or ""
};

/// SSIM of every pair of images with the same stem in folders `a` and `b`, sorted by name. Throws
/// DataError if a folder is missing or empty, an image has no counterpart (naming up to 10), or pairs
/// cannot be compared (every such pair checked and up to 10 named, each as ssim_image_files says).
std::vector<SsimFileScore> ssim_image_folders(const std::filesystem::path& a, const std::filesystem::path& b);

}  // namespace img2img

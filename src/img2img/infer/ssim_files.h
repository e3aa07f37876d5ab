#pragma once
// SSIM of image files and folders (`img2img ssim A B`).

#include <filesystem>  // std::filesystem::path
#include <string>      // std::string
#include <vector>      // std::vector

namespace img2img {

/// SSIM (see ssim()) of two image files decoded at full precision to [0, 1] (8-bit / 255, 16-bit /
/// 65535). A grey file compared with a colour one is repeated to the larger channel count (the
/// data.channel_count rule). Throws DataError if a file is unreadable or the sizes differ.
double ssim_image_files(const std::filesystem::path& a, const std::filesystem::path& b);

/// One line of a folder comparison.
struct SsimFileScore {
  std::string name;  ///< file stem, the pairing key
  double ssim = 0;
};

/// SSIM of every pair of images with the same stem in folders `a` and `b`, sorted by name. Throws
/// DataError if a folder is missing or empty, or an image has no counterpart (naming up to 10).
std::vector<SsimFileScore> ssim_image_folders(const std::filesystem::path& a, const std::filesystem::path& b);

}  // namespace img2img

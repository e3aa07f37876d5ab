#pragma once
// Which files of a folder are images: the listing every data set, `ssim` and config validation use.
// Needs no LibTorch or OpenCV (the config fuzz target compiles it).

#include <cstdint>     // int64_t
#include <filesystem>  // std::filesystem::path
#include <vector>      // std::vector

namespace img2img {

/// What list_image_files skipped (hidden files, ._* AppleDouble, Thumbs.db, non-images), for the log.
struct ListingStats {
  int64_t ignored = 0;
  int64_t subfolders = 0;  ///< folders inside it (list_image_files does not descend into them)
};

/// Whether the file extension is one OpenCV decodes here (png, jpg/jpeg, tif/tiff, exr, bmp, webp,
/// ppm/pgm/pnm, hdr). Case-insensitive.
bool has_image_extension(const std::filesystem::path& path);

/// Image files of `dir` (not recursive), sorted by name; hidden files, `._*`, Thumbs.db / desktop.ini
/// and non-image extensions are skipped and counted (subfolders separately: not searched). Throws DataError if `dir` is missing, has no
/// images, or holds two images with the same stem (e.g. a.png and a.jpg).
std::vector<std::filesystem::path> list_image_files(const std::filesystem::path& dir, ListingStats* stats = nullptr);

}  // namespace img2img

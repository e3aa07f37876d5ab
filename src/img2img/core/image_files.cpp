#include "img2img/core/image_files.h"

#include <fmt/format.h>  // fmt::format

#include <algorithm>  // std::sort, std::transform
#include <cctype>     // std::tolower
#include <map>        // std::map
#include <set>        // std::set
#include <string>     // std::string

#include "img2img/core/error.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {

bool ignored_name(const std::string& name) {
  return name.empty() || name[0] == '.' || name == "Thumbs.db" || name == "desktop.ini";  // .* covers ._*
}

}  // namespace

bool has_image_extension(const fs::path& path) {
  static const std::set<std::string> kExt{".png", ".jpg", ".jpeg", ".tif", ".tiff", ".exr", ".bmp",
                                          ".webp", ".ppm", ".pgm", ".pnm", ".hdr"};
  std::string e = path.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return kExt.count(e) > 0;
}

std::vector<fs::path> list_image_files(const fs::path& dir, ListingStats* stats) {
  std::error_code ec;
  if (!fs::exists(dir, ec))
    throw DataError(fmt::format("folder '{}' does not exist. Check the path.", dir.string()));
  if (!fs::is_directory(dir, ec))
    throw DataError(fmt::format("'{}' is a file, not a folder of images. Check the path.", dir.string()));
  std::vector<fs::path> files;
  int64_t ignored = 0, subfolders = 0;
  for (const auto& entry : fs::directory_iterator(dir, ec)) {
    const fs::path p = entry.path();
    if (!entry.is_regular_file() || ignored_name(p.filename().string()) || !has_image_extension(p)) {
      if (entry.is_regular_file() || p.filename().string()[0] == '.') ++ignored;
      else if (entry.is_directory()) ++subfolders;
      continue;
    }
    files.push_back(p);
  }
  if (ec) throw DataError(fmt::format("cannot list folder '{}': {}", dir.string(), ec.message()));
  std::sort(files.begin(), files.end());
  std::map<std::string, fs::path> stems;
  for (const auto& f : files) {
    auto [it, inserted] = stems.emplace(f.stem().string(), f);
    if (!inserted)
      throw DataError(fmt::format("folder '{}' has two images named '{}' ('{}' and '{}'); images are matched "
                                  "(and infer's outputs named) by the name without the extension, so keep only one "
                                  "of them.",
                                  dir.string(), f.stem().string(), it->second.filename().string(),
                                  f.filename().string()));
  }
  if (files.empty())
    throw DataError(fmt::format("folder '{}' has no images ({} other files ignored); expected .png, .jpg/.jpeg, "
                                ".tif/.tiff, .exr, .bmp, .webp, .ppm/.pgm/.pnm or .hdr files.",
                                dir.string(), ignored));
  if (stats != nullptr) stats->ignored += ignored, stats->subfolders += subfolders;
  return files;
}

}  // namespace img2img

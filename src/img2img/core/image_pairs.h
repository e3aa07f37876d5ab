#pragma once
// Pairing two folders of images by file name: the rule of paired training and test data, shared by the
// data sets (data/paired_dataset.h) and config validation, which checks it before a run folder exists.
// Needs no LibTorch or OpenCV (the config fuzz target compiles it).

#include <filesystem>  // std::filesystem::path
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/core/image_files.h"  // ListingStats

namespace img2img {

/// Two images with the same name (stem) in an input and a reference folder.
struct ImagePair {
  std::string name;  ///< the shared stem ("rock" for rock.png and rock.tif)
  std::filesystem::path input;
  std::filesystem::path reference;
};

/// The images of `input_dir` and `reference_dir` (list_image_files) paired by stem, sorted by name.
/// Throws DataError as list_image_files does, and when a name is in one folder only: "input and reference
/// folders do not pair up by file name:", then for each folder how many names are only there and the
/// first 10 of them, and the fix. `stats` gains both folders' ListingStats.
std::vector<ImagePair> pair_image_files(const std::filesystem::path& input_dir,
                                        const std::filesystem::path& reference_dir, ListingStats* stats = nullptr);

}  // namespace img2img

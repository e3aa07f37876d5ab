#pragma once
// `img2img dataset combine` / `split`: two paired folders <-> one folder of left|right composites
// (the composite_paired layout).

#include <filesystem>  // std::filesystem::path
#include <string>      // std::string
#include <vector>      // std::vector

namespace img2img {

/// Options of combine_paired_folders. Example:
///   CombineOptions o; o.left_dir = "train/sketch"; o.right_dir = "train/height"; o.output_dir = "train/composite";
struct CombineOptions {
  std::filesystem::path left_dir;    ///< input side (left half)
  std::filesystem::path right_dir;   ///< reference side (right half), files paired by stem
  std::filesystem::path output_dir;  ///< receives <stem>.png, width = 2 x side width
  std::vector<std::filesystem::path> more_dirs;  ///< further panels right of right_dir (e.g. sketch|generated|real); split needs 2
};

/// Writes one composite PNG per name: left | right (| more...) side by side, at the deeper of the two bit
/// depths (8 or 16-bit) and the larger channel count (grey is repeated to RGB; alpha kept),
/// so that split_composite_folder gives back the two sides bit-exactly when both had the same type.
/// Throws DataError listing every name found on one side only and every pair whose sizes differ
/// (nothing is skipped silently; no file is written then), WriteError if a file cannot be written.
/// Returns the number of composites written.
int64_t combine_paired_folders(const CombineOptions& options);

/// Options of split_composite_folder.
struct SplitOptions {
  std::filesystem::path composite_dir;  ///< folder of left|right images (even width)
  std::filesystem::path left_dir;       ///< receives the left halves as <stem>.png
  std::filesystem::path right_dir;      ///< receives the right halves as <stem>.png
};

/// Splits every composite into its halves, keeping bit depth and channels (grey + alpha halves are
/// written as BGRA PNGs). Every composite is decoded and checked first: throws DataError listing
/// each unreadable, truncated or odd-width image, with nothing written; WriteError if a file cannot
/// be written. Returns the count.
int64_t split_composite_folder(const SplitOptions& options);

}  // namespace img2img

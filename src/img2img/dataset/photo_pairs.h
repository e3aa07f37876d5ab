#pragma once
// `img2img dataset pairs`: a folder of photographs -> paired crops for colourisation (gray -> color)
// and edges -> photo (edges -> color), split train/test by source photo.

#include <cstdint>     // int64_t
#include <filesystem>  // std::filesystem::path
#include <string>      // std::string
#include <vector>      // std::vector

namespace img2img {

/// Options of build_photo_pairs. Example:
///   PhotoPairsOptions o; o.photo_dir = "data/photos"; o.output_dir = "data/photo_pairs"; o.crop_size = 128;
struct PhotoPairsOptions {
  std::filesystem::path photo_dir;      ///< folder of photographs (JPEG/PNG ...; EXIF orientation applied)
  std::filesystem::path output_dir;     ///< receives {train,test}/{gray,edges,color}/<photo>_<n>.png and crops.csv;
                                        ///< must not exist yet or be empty
  int64_t crop_size = 256;              ///< side of the written crops, pixels (16 to 8192)
  int64_t crops_per_photo = 8;          ///< crops kept per photo (fewer if too many are flat)
  std::vector<double> scales = {0.25, 0.5, 1.0};  ///< crop side / photo's shorter side, each in (0, 1]
  double min_std = 12.0;                ///< reject crops whose grey standard deviation (0-255) is below this;
                                        ///< DataError when no train crop is left
  double test_fraction = 0.2;           ///< fraction of photos held out for test (at least one if >= 2 photos)
  double canny_low = 100.0;             ///< Canny hysteresis thresholds (8-bit grey)
  double canny_high = 200.0;
  int64_t seed = 0;                     ///< seed of crop boxes and the photo split
};

/// A photo some of whose crops were upscaled (their box in the photo was smaller than crop_size).
struct UpscaledPhoto {
  std::string file;        ///< file name in photo_dir
  int width = 0, height = 0;  ///< the photo's size in pixels (EXIF orientation applied)
  int64_t crops = 0;       ///< its kept crops that were upscaled
  double max_factor = 1.0;  ///< the largest crop_size / box side among them
};

/// What build_photo_pairs wrote. test_crops == 0 (one photo, --test-fraction 0, or only flat test
/// crops) is not an error: the caller reports it (the CLI prints a warning line).
struct PhotoPairsSummary {
  int64_t train_photos = 0, test_photos = 0;
  int64_t train_crops = 0, test_crops = 0;
  int64_t rejected_flat = 0;  ///< crops drawn and rejected as flat
  int64_t upscaled_crops = 0;  ///< kept crops whose box side was below crop_size (written upscaled, softer)
  int64_t smallest_box = 0;    ///< the smallest box side of a kept crop, pixels (0 = none kept)
  std::vector<UpscaledPhoto> upscaled_photos;  ///< the photos of the upscaled crops, in the order written
};

/// The note on the upscaled crops of `summary` (built with crop size `crop_size`): how many, by up to which
/// factor, from which photos (at most 10 named, with their crops and factors; a photo whose shorter side is
/// below crop_size says so), and the fixes (a --size at most the smallest box, larger photos, larger
/// --scales). "" when no crop was upscaled.
std::string upscaled_crops_note(const PhotoPairsSummary& summary, int64_t crop_size);

/// Writes random square crops at several scales of every photo: color/ (8-bit RGB), gray/ (8-bit
/// grey of the same crop), edges/ (black Canny edges on white, 8-bit grey); same names in all three.
/// No photo contributes to both train and test. crops.csv records name, split, source file and the
/// crop box in source pixels. Checks before writing anything: throws ConfigError for bad options,
/// DataError if output_dir exists and is not an empty folder (a re-run would leave stale crops of
/// the previous run, e.g. old test crops beside new train crops), if photo_dir has no photo, or if
/// any photo cannot be decoded (read_image_raw) or is under 8x8 px (one error listing them all).
/// WriteError if a file cannot be written.
PhotoPairsSummary build_photo_pairs(const PhotoPairsOptions& options);

}  // namespace img2img

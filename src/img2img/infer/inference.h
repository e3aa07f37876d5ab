#pragma once

#include <opencv2/core/mat.hpp>  // cv::Mat

#include <atomic>      // std::atomic
#include <filesystem>  // std::filesystem::path
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/config/run_config.h"
#include "img2img/data/image_io.h"
#include "img2img/infer/checkpoint_weights.h"
#include "img2img/models/unet_generator.h"
#include "img2img/run/checkpoint.h"

namespace img2img {

/// How `infer` handles an image whose size differs from the training size.
/// kResize (default): resize to data.image_size, run, resize the result back to the original size
/// (matches what the model saw in training). kPad: reflect-pad to a multiple of 2^layers, run at
/// full resolution, crop back (keeps detail; features are then at a different scale than trained).
enum class InferMode { kResize, kPad };

/// A trained generator loaded from a checkpoint, in eval mode (dropout off, batch-norm running
/// statistics), with the architecture read from the checkpoint's stored config.
class GeneratorRunner {
 public:
  /// `checkpoint`: generator weights file, its .json, or a run folder (newest generator of `index`:
  /// unpaired runs have 0 = input -> reference domain, 1 = back; -1 = 0 for folders, any for files).
  /// `weights_kind`: the checkpoint's moving average (X.pt) or its trained weights (load_checkpoint_weights).
  /// Throws CheckpointError if missing, damaged, not a generator or of another index, or if the
  /// trained weights asked for are not beside it.
  GeneratorRunner(const std::filesystem::path& checkpoint, const std::string& device = "auto", int64_t index = -1,
                  WeightsKind weights_kind = WeightsKind::kAverage);

  /// Applies the generator to a CV_32FC(n) [0, 1] image of any size and channel count (channel
  /// rule applied); returns CV_32FC(C) [0, 1] of the same height and width.
  cv::Mat run(const cv::Mat& image, InferMode mode = InferMode::kResize);

  const RunConfig& config() const { return config_; }
  const CheckpointMeta& meta() const { return meta_; }
  /// The weights file loaded (for a run folder: its newest generator checkpoint of the index).
  const std::filesystem::path& weights() const { return weights_; }
  /// Which weights were loaded, from which file (X.pt or X.optim.pt), and a note for the user if any.
  const LoadedWeights& loaded() const { return loaded_; }

 private:
  std::filesystem::path weights_;
  RunConfig config_;
  CheckpointMeta meta_;
  LoadedWeights loaded_;
  torch::Device device_;
  UnetGenerator generator_ = nullptr;
};

/// Checks infer's `output_dir` for `input` (an image file or folder) before anything is loaded or
/// written: throws DataError when it is the input folder, an existing file (or inside one: infer takes
/// a folder, also for one input image), or a path with an image extension that is not a folder.
void check_infer_output(const std::filesystem::path& input, const std::filesystem::path& output_dir);

/// Runs `runner` on one image file or every image of a folder, writing `<output_dir>/<stem>.png`
/// (8- or 16-bit as the training references; .tif for float references). Returns the files written.
/// Every input is decoded before anything is written: throws DataError listing the unreadable
/// inputs (up to 10, then the count) with nothing written, and when `output_dir` is an input folder, an
/// existing file (or inside one), or a path with an image extension that is not a folder; WriteError if
/// an output cannot be written.
/// `notes` (if given) receives what the user should know but that is no error: files of the folder that
/// were skipped (non-images, hidden files, subfolders, which are not searched), and inputs with more
/// channels than the model takes (the channel rule drops the rest: an RGB image into a 1-channel model
/// keeps only its red channel), and float inputs with samples outside [0, 1] (used as they are; the
/// generator's images stay within [0, 1]).
/// `stop_requested` (if given) is checked before each image is decoded, run and written: once it is set,
/// the call returns the files written so far (whole files: each is written atomically), fewer than the
/// inputs. `image_count` (if given) receives the number of input images found.
std::vector<std::filesystem::path> infer_images(GeneratorRunner& runner, const std::filesystem::path& input,
                                                const std::filesystem::path& output_dir, InferMode mode,
                                                std::vector<std::string>* notes = nullptr,
                                                const std::atomic<bool>* stop_requested = nullptr,
                                                size_t* image_count = nullptr);

}  // namespace img2img

#pragma once
// The checkpoint files of a run on disk as --resume finds them: the training-state file beside each
// weights file, the resume point of a run folder or checkpoint (which files make a complete save),
// and the checks of a resumed configuration. Writing and restoring the state is train/training_state.h.

#include <torch/serialize/archive.h>  // torch::serialize::InputArchive
#include <torch/types.h>              // torch::Device

#include <filesystem>  // std::filesystem::path
#include <map>         // std::map
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/config/config_keys.h"
#include "img2img/config/run_config.h"

namespace img2img {

/// The optimiser-state file belonging to a weights file: X.pt -> X.optim.pt.
std::filesystem::path training_state_path(const std::filesystem::path& weights);

/// The key of a network in ResumePoint::networks and in file names: "{network}_{index}" ("generator_0").
std::string network_key(const std::string& network, int64_t index);

/// Generator 0's training-state entry naming network (`network`, `index`)'s weights file:
/// "discriminator_weights", "generator_1_weights" (index 0 unnumbered, as checkpoints have always been written).
std::string weights_entry(const std::string& network, int64_t index);

/// The network_key of a weights_entry ("generator_1_weights" -> "generator_1"); "" for other entries.
std::string network_of_entry(const std::string& entry);

/// Reads a training-state file (X.optim.pt); tensors land on `device`. Throws CheckpointError naming
/// the file when it cannot be opened or is not a training state.
torch::serialize::InputArchive read_training_state(const std::filesystem::path& path, const torch::Device& device);

/// The string entry `key` of a training state. Throws c10::Error when missing.
std::string read_state_string(torch::serialize::InputArchive& archive, const std::string& key);

/// A checkpoint to resume from, found by find_resume_point.
struct ResumePoint {
  std::filesystem::path generator_weights;      ///< X.pt of generator 0
  /// X.pt of every network of the save by network_key ("generator_0", "discriminator_0", "generator_1", ...).
  std::map<std::string, std::filesystem::path> networks;
  bool unpaired = false;                          ///< a CycleGAN checkpoint (data.input_type = multiple_unpaired)
  int64_t iteration = 0;                        ///< iterations completed
  int64_t world_size = 0;                       ///< processes that trained it (CheckpointMeta::world_size; 0 = unknown)
  std::string config_toml;                      ///< the run's resolved configuration
  std::filesystem::path origin;                 ///< what the user passed (for messages)
  /// Folder of the run that wrote it: the checkpoint's recorded run_dir if it exists, else (older
  /// or moved checkpoints) the nearest folder above the weights holding outputs.json, else "".
  std::filesystem::path run_dir;
  /// Run folder only: newer checkpoints passed over because they cannot be resumed, one line each
  /// naming the file and why ("... has no training state ...", "... is truncated ..."), newest first.
  /// The trainers print each as a warning (line and `warning` event) before resuming.
  std::vector<std::string> skipped;
};

/// The resume point of `run_or_checkpoint`: a run folder (its newest generator checkpoint), a
/// generator X.pt or its X.json (unpaired: generator 0's). Throws CheckpointError naming the file
/// when the metadata, the X.optim.pt training state (checkpoints written before resume existed) or
/// the discriminator checkpoint (unpaired: any of the other three networks' files) is missing, or the
/// training state cannot be read. In a run folder, a newest checkpoint that cannot be resumed (a run
/// killed while writing it, a damaged file) is skipped for the newest complete one, and listed in
/// ResumePoint::skipped with the reason. A run folder without a resumable checkpoint whose run lock
/// (run_lock.h) a live run holds throws ConfigError naming that run's PID instead.
ResumePoint find_resume_point(const std::filesystem::path& run_or_checkpoint);

/// Checks a resumed run's resolved config against the checkpoint's (point.config_toml): every architecture key
/// (generator.* except l1_lambda, discriminator.*, data.channel_count, data.image_size) and
/// train.optimizer must be unchanged, data.input_type must stay paired or unpaired as the
/// checkpoint's, and train.max_iterations must exceed the iterations done.
/// `assignments` (optional: what resolved the config, in order) name where each contradicting value
/// came from: "data.image_size = 64 (from base.toml:3) contradicts the checkpoint's data.image_size = 32".
/// Throws ConfigError listing each contradiction with both values and, per kind of problem, the fix.
void check_resume_config(const RunConfig& resolved, const ResumePoint& point,
                         const std::vector<ConfigAssignment>* assignments = nullptr);

/// For a resumed run whose config fails validation: a note (starting with a newline) when data or test
/// folders (data.input_dir, test.reference_dir, ...) are relative paths taken from the checkpoint's saved
/// configuration (their last assignment's origin is `checkpoint_origin`) that do not exist from the
/// current folder, naming them, saying where they came from, and the fixes (run from the folder the
/// run was started in, or give --data.input_dir=PATH ...); "" otherwise.
std::string resume_relative_paths_note(const std::vector<ConfigAssignment>& assignments,
                                       const std::string& checkpoint_origin);

}  // namespace img2img

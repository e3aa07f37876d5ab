#pragma once
// Training state for `img2img train --resume`: beside each checkpoint's weights X.pt the trainer
// writes X.optim.pt (torch::serialize archive) holding that network's optimiser state; the
// generator's also holds the iteration, the RNG states (torch's CPU generator, the training
// device's generator, the std::mt19937_64 that shuffles and augments) and the discriminator's
// weights file. With these, 3 iterations + resume 3 equal 6 in one go bit for bit on the CPU.
// Unpaired (CycleGAN) saves write the same run state into generator 0's X.optim.pt (the optimiser
// of both generators, plus the paths of the other three weights files); discriminator 0's holds the
// optimiser of both discriminators and image pool 0, discriminator 1's image pool 1; generator 1
// shares generator 0's optimiser and has no state file. 2 + resume 2 equal 4 bit for bit, pools included.

#include <array>       // std::array
#include <filesystem>  // std::filesystem::path
#include <random>      // std::mt19937_64
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/config/config_keys.h"
#include "img2img/config/run_config.h"
#include "img2img/train/cycle_gan_model.h"
#include "img2img/train/pix2pix_model.h"

namespace img2img {

/// The optimiser-state file belonging to a weights file: X.pt -> X.optim.pt.
std::filesystem::path training_state_path(const std::filesystem::path& weights);

/// Writes X.optim.pt beside `generator_weights` (optimiser state, `iteration` completed, RNG states
/// of torch's CPU and `device` generators and of `rng`) and beside `discriminator_weights`
/// (optimiser state), each atomically. Throws WriteError.
void save_training_state(const std::filesystem::path& generator_weights,
                         const std::filesystem::path& discriminator_weights, Pix2PixModel& model,
                         int64_t iteration, const std::mt19937_64& rng, const torch::Device& device);

/// Unpaired (CycleGAN) variant of save_training_state. `weights`: the four weights files of one save
/// in TrainSummary::checkpoints' order (generator 0, discriminator 0, generator 1, discriminator 1).
/// Writes the X.optim.pt files of generator 0, discriminator 0 and discriminator 1 (see the top of
/// this file), generator 0's last, each atomically; returns their paths in that order. Throws WriteError.
std::vector<std::filesystem::path> save_cycle_training_state(const std::array<std::filesystem::path, 4>& weights,
                                                             CycleGanModel& model, int64_t iteration,
                                                             const std::mt19937_64& rng, const torch::Device& device);

/// A checkpoint to resume from, found by find_resume_point.
struct ResumePoint {
  std::filesystem::path generator_weights;      ///< X.pt of the generator (unpaired: generator 0)
  std::filesystem::path discriminator_weights;  ///< X.pt of the discriminator (unpaired: discriminator 0)
  bool unpaired = false;                          ///< a CycleGAN checkpoint (data.input_type = multiple_unpaired)
  std::filesystem::path generator_1_weights;      ///< unpaired only: X.pt of generator 1
  std::filesystem::path discriminator_1_weights;  ///< unpaired only: X.pt of discriminator 1
  int64_t iteration = 0;                        ///< iterations completed
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

/// Loads weights, optimiser states and RNG states of `point` into `model` / `rng` / torch's
/// generators (CPU and `device`); returns the iteration to continue from. Throws CheckpointError
/// (also for an unpaired point, naming both input types).
int64_t restore_training_state(const ResumePoint& point, Pix2PixModel& model, std::mt19937_64& rng,
                               const torch::Device& device);

/// Unpaired (CycleGAN) variant: the four networks' weights, both optimisers, both image pools and
/// the RNG states. Throws CheckpointError (also for a paired point, naming both input types).
int64_t restore_training_state(const ResumePoint& point, CycleGanModel& model, std::mt19937_64& rng,
                               const torch::Device& device);

}  // namespace img2img

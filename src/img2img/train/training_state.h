#pragma once
// Training state for `img2img train --resume`, for any GanModel: beside a checkpoint's weights X.pt
// the loop writes X.optim.pt (torch::serialize archive) for every network that has state: the
// optimiser of each parameter group goes into the file of `{group network}_0` ("optimizer"), the
// model's own state of a network (GanModel::save_state: CycleGAN's image pools) into that network's
// file, and generator 0's file also holds the iteration, the RNG states (torch's CPU generator, the
// training device's generator, the std::mt19937_64 that shuffles and augments), the weights file of
// every other network ("discriminator_weights", "generator_1_weights", ...) and which of them have a
// state file. Generator 0's file is written last: a save is complete once it exists. pix2pix: the
// generator's and the discriminator's files; CycleGAN: generator 0 (both generators' optimiser),
// discriminator 0 (both discriminators' optimiser, pool 0), discriminator 1 (pool 1). With these,
// 3 iterations + resume 3 equal 6 in one go bit for bit on the CPU.

#include <filesystem>  // std::filesystem::path
#include <random>      // std::mt19937_64
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/models/gan_model.h"
#include "img2img/run/resume_point.h"
#include "img2img/run/run_writer.h"  // TrainingStateFile
#include "img2img/train/optimizers.h"
#include "img2img/train/weight_average.h"

namespace img2img {

/// The training state of one save (see the top of this file), ready to be written: the X.optim.pt
/// files of `weights`, one weights file per network of `model` in GanModel::networks() order
/// (generator 0 first). Networks without state get no file. The files come in the order they must be
/// written, generator 0's last (a save is complete once it exists); RunWriter::save_training_state
/// writes them. `averages` (nullptr or empty = none): the WeightAverage of generator k at [k]; its
/// state (the trained weights; X.pt holds the average) goes into generator k's file. Throws Error if
/// `weights` does not match the networks.
std::vector<TrainingStateFile> training_state_files(const std::vector<std::filesystem::path>& weights,
                                                    GanModel& model, ModelOptimizers& optimizers, int64_t iteration,
                                                    const std::mt19937_64& rng, const torch::Device& device,
                                                    const std::vector<WeightAverage>* averages = nullptr);

/// Loads the weights of every network of `model`, the optimiser states, the model's own state
/// (GanModel::load_state) and the RNG states of `point` into `model` / `optimizers` / `rng` / torch's
/// generators (CPU and `device`); returns the iteration to continue from. `unpaired_run`: whether this
/// run trains an unpaired model (a paired checkpoint cannot continue as unpaired, nor the reverse).
/// `averages` (as for training_state_files): generator k's average is X.pt, its trained weights come
/// from the state file (WeightAverage::load; a checkpoint without them restarts the average).
/// Throws CheckpointError naming the file (a missing network, state that does not fit, or the
/// pairing mismatch, naming both input types).
int64_t restore_training_state(const ResumePoint& point, GanModel& model, ModelOptimizers& optimizers,
                               std::mt19937_64& rng, const torch::Device& device, bool unpaired_run,
                               std::vector<WeightAverage>* averages = nullptr);

}  // namespace img2img

#pragma once
// The one training loop: runs any GanModel (models/gan_model.h) on its TrainingData, with the
// learning-rate schedule, NaN policy, statistics, progress, events, testing and early stop,
// checkpoints and training state, ONNX files, plots, stop requests and --resume. It knows neither
// which model it runs nor how the data is laid out: a ModelRecipe builds those. docs/architecture.md.

#include <torch/types.h>  // torch::Device

#include <functional>  // std::function
#include <memory>      // std::unique_ptr
#include <string>      // std::string

#include "img2img/config/run_config.h"
#include "img2img/models/gan_model.h"
#include "img2img/train/model_tester.h"
#include "img2img/train/trainer.h"
#include "img2img/train/training_data.h"

namespace img2img {

/// How to build one kind of model and its data from the resolved configuration, in the order the
/// loop calls them: check (before the run folder exists), data (decoded before the model, so a data
/// problem costs no initialisation), test (only when test.enabled), then model (after torch's global
/// RNG is seeded with train.seed: weight initialisation is part of the seeded run).
struct ModelRecipe {
  /// The model's name in the run_start event ("pix2pix", "cycle_gan").
  std::string name;
  /// Whether it trains on unpaired data: a --resume from a checkpoint of the other kind is refused.
  bool unpaired = false;
  /// Throws ConfigError when `config` cannot train this model. Empty = nothing to check.
  std::function<void(const RunConfig& config)> check;
  std::function<std::unique_ptr<TrainingData>(const RunConfig& config, const torch::Device& device)> data;
  std::function<std::unique_ptr<ModelTest>(const RunConfig& config, const torch::Device& device)> test;
  std::function<std::unique_ptr<GanModel>(const RunConfig& config, const torch::Device& device)> model;
};

/// pix2pix: PairedTrainingData, PairedModelTest, Pix2PixModel.
ModelRecipe pix2pix_recipe();
/// CycleGAN: UnpairedTrainingData, CycleModelTest, CycleGanModel; checks data.input_type.
ModelRecipe cycle_gan_recipe();

/// Runs a training run of the model `recipe` builds, as train() documents (trainer.h). `config` must be
/// validated. Throws Error after recording the failure (error event, failed manifest, train.log), or, for
/// an Error before a new run completed its first iteration, after removing the folder it made
/// (RunWriter::remove_untrained_folder; the message ends by saying so; run_end's run_dir_removed).
TrainSummary run_training(const RunConfig& config, const TrainOptions& options, const ModelRecipe& recipe);

}  // namespace img2img

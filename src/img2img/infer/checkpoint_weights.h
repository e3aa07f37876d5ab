#pragma once
// Which weights of a generator checkpoint `infer` and `export` load (their --weights flag). A run with
// generator.ema_decay > 0 saves a moving average of the generator's weights as X.pt and keeps the
// trained weights in the training state beside it, X.optim.pt (train/weight_average.h, docs/quality.md);
// a run without the average saves the trained weights as X.pt.

#include <torch/nn/module.h>  // torch::nn::Module

#include <filesystem>  // std::filesystem::path
#include <string>      // std::string

#include "img2img/run/checkpoint.h"

namespace img2img {

/// The weights of a generator checkpoint to load.
enum class WeightsKind {
  kAverage,  ///< X.pt as saved: the moving average (generator.ema_decay > 0), else the trained weights
  kTrained,  ///< the trained weights: from X.optim.pt when X.pt is an average, else X.pt itself
};

/// "average" | "trained" (the values of --weights).
std::string weights_kind_name(WeightsKind kind);

/// The WeightsKind called `name` ("average" or "trained"). Throws ConfigError listing both otherwise.
WeightsKind parse_weights_kind(const std::string& name);

/// What load_checkpoint_weights put into the module.
struct LoadedWeights {
  std::filesystem::path file;  ///< where they came from: X.pt, or X.optim.pt (the trained weights of an average)
  bool averaged = false;       ///< a moving average of the trained weights; false: the trained weights
  /// For the user: which weights from which file, e.g. "trained weights: runs/r/checkpoints/generator_0_4.optim.pt".
  std::string description;
  /// "" or a line the command prints as a note: --weights trained on a checkpoint that holds no average
  /// (its X.pt already is the trained weights, and is used).
  std::string note;
};

/// Loads generator checkpoint `weights` (X.pt; `meta` as read_checkpoint_meta returned it) into
/// `module`, built from the checkpoint's configuration: X.pt, then for kTrained of an averaged
/// checkpoint the trained weights from X.optim.pt (load_trained_weights). Throws CheckpointError naming
/// the file, what is missing and the fix when X.pt does not fit (load_weights) or, for kTrained, when
/// X.optim.pt is missing, damaged, holds no trained weights or trained weights of another generator.
LoadedWeights load_checkpoint_weights(const std::filesystem::path& weights, const CheckpointMeta& meta,
                                      torch::nn::Module& module, WeightsKind kind);

}  // namespace img2img

#pragma once
// Checkpoint files. Per network and save: `X.pt` (the state dict, PyTorch zip-pickle format that
// Python's torch.load reads), `X.json` (metadata: network, index, iteration, the resolved config
// as TOML, data bit depths, parameter shapes) and, when training state is saved, `X.optim.pt`.

#include <torch/nn/module.h>  // torch::nn::Module

#include <filesystem>  // std::filesystem::path
#include <string>      // std::string

#include "img2img/config/run_config.h"
#include "img2img/data/image_io.h"

namespace img2img {

/// Metadata stored next to every weights file.
struct CheckpointMeta {
  std::string network;  ///< "generator" | "discriminator"
  int64_t index = 0;    ///< 0 (paired); 0 or 1 (unpaired)
  int64_t iteration = 0;  ///< iterations completed when saved
  std::string config_toml;  ///< the run's resolved configuration
  PixelDepth input_depth = PixelDepth::k8;      ///< deepest training input file
  PixelDepth reference_depth = PixelDepth::k8;  ///< deepest training reference file (infer writes this)
  /// Absolute folder of the run that wrote it (--resume continues there); "" in older checkpoints.
  std::string run_dir;
  /// Generators: the weights are a moving average of the trained weights (generator.ema_decay) with
  /// this decay after `average_steps` updates; 0 = the trained weights themselves.
  double average_decay = 0;
  int64_t average_steps = 0;
  /// Processes of the data-parallel run that saved it (docs/distributed.md; the effective batch is
  /// data.batch_size x this); 0 = not recorded (older checkpoints).
  int64_t world_size = 0;
};

/// The metadata file belonging to a weights file: X.pt -> X.json.
std::filesystem::path checkpoint_meta_path(const std::filesystem::path& weights);

/// Writes `module`'s parameters and buffers (state dict) to `weights` and its metadata beside it,
/// each atomically. Throws WriteError.
void save_checkpoint(const std::filesystem::path& weights, const torch::nn::Module& module, const CheckpointMeta& meta);

/// Reads the metadata of a checkpoint. `path` may be the weights file, its .json, or a run folder
/// (its newest generator checkpoint of network `index`; -1 = 0). With `index` >= 0 a file must hold
/// that index. Throws CheckpointError naming the file if missing, invalid or of another index.
CheckpointMeta read_checkpoint_meta(const std::filesystem::path& path, std::filesystem::path* weights = nullptr,
                                    int64_t index = -1);

/// Loads a weights file into `module`. Every parameter and buffer must be present with the same
/// shape; throws CheckpointError naming the file, the tensor, and both shapes otherwise (e.g. a
/// checkpoint of another architecture or channel count), or if the file is truncated / not a
/// state dict.
void load_weights(const std::filesystem::path& weights, torch::nn::Module& module);

/// The resolved configuration stored with a checkpoint.
RunConfig checkpoint_config(const CheckpointMeta& meta);

}  // namespace img2img

#pragma once
// The model contract: what the one training loop (train/training_loop.h) knows of a model. In the
// spirit of the pix2pix reference code's BaseModel (optimize_parameters, model_names, optimizers,
// loss_names), without its global options object: a model is built from its own options struct and
// sees nothing of the configuration, the data layout or the run folder. docs/architecture.md.

#include <torch/nn/module.h>          // torch::nn::Module
#include <torch/serialize/archive.h>  // torch::serialize::{Input,Output}Archive
#include <torch/types.h>              // torch::Tensor

#include <cstddef>  // size_t
#include <cstdint>  // int64_t
#include <memory>   // std::shared_ptr
#include <string>   // std::string
#include <utility>  // std::move
#include <vector>   // std::vector

#include "img2img/core/error.h"
#include "img2img/models/unet_generator.h"

namespace img2img {

/// A network of a model as checkpoints name it: files `{network}_{index}`, e.g. generator_0.
struct NamedNetwork {
  std::string network;  ///< "generator" | "discriminator"
  int64_t index = 0;    ///< 0 (paired); 0 or 1 (unpaired: the direction)
  std::shared_ptr<torch::nn::Module> module;
};

/// Parameters that one optimiser updates (train.optimizer, one per group). Its state is saved in the
/// training state of the network named `network`_0 (the generators' optimiser beside generator_0).
struct ParameterGroup {
  std::string network;                   ///< "generator" | "discriminator"
  std::vector<torch::Tensor> parameters;  ///< in a fixed order (the optimiser state follows it)
};

/// How a model applies its gradients, given to GanModel::train_step by the training loop. The model
/// calls zero_grad(g) before the backward pass of parameter group g and step(g) after it.
class StepUpdater {
 public:
  virtual ~StepUpdater() = default;
  /// Sets the gradients of group `group` (index into GanModel::parameter_groups()) to none.
  virtual void zero_grad(size_t group) = 0;
  /// Applies the gradients of group `group` with its optimiser: the one place between backward and
  /// the optimiser step (where data-parallel training averages gradients over ranks).
  virtual void step(size_t group) = 0;
};

/// One statistic a training step reports (a loss, a score, the train SSIM): how the loop averages,
/// prints, plots and emits it. Statistics sharing a `label` print together ("G_GAN 0.7 0.8"), those
/// sharing an `event` field form an array in the `iteration` event (docs/events.md).
struct StatisticInfo {
  std::string key;     ///< unique name ("g_l1", "cycle_0"); the key in TrainSummary::last
  std::string label;   ///< per-iteration log line label ("G_L1"); "" = not printed
  int precision = 4;   ///< digits after the point in that line
  std::string event;   ///< field of the `iteration` event ("g_l1"); "" = none
  std::string plot;    ///< plot it belongs to ("loss", "score", "ssim"); "" = not plotted
  std::string series;  ///< series name in that plot ("g_l1", "real", "train")
  bool headline = false;  ///< also printed in the run's last ("done") line as "final LABEL value"
};

/// A loss term became NaN/inf. Thrown by check_finite() inside a training step, before any
/// optimiser step uses that loss (train.nan_policy then stops the run or skips the batch).
class NonFiniteLossError : public Error {
 public:
  NonFiniteLossError(const std::string& what, std::string term) : Error(what), term_(std::move(term)) {}
  /// The loss term, e.g. "generator L1".
  const std::string& term() const { return term_; }

 private:
  std::string term_;
};

/// Throws NonFiniteLossError naming the loss `term` and the fix when `value` is NaN or infinite.
void check_finite(double value, const char* term);

/// Turns gradients of every parameter of `m` on or off (freezes D during the generator step).
void set_requires_grad(torch::nn::Module& m, bool on);

/// A trainable image-to-image GAN. Implemented by Pix2PixModel and CycleGanModel; a third model
/// implements these and runs through the same loop, checkpoints, resume, tests and ONNX export.
class GanModel {
 public:
  virtual ~GanModel() = default;

  /// The networks in checkpoint order: generator 0 first (its files carry the run's training state).
  virtual std::vector<NamedNetwork> networks() = 0;
  /// The optimised parameter groups; the loop makes one optimiser per group, in this order.
  virtual std::vector<ParameterGroup> parameter_groups() = 0;
  /// The statistics train_step returns, in its order.
  virtual std::vector<StatisticInfo> statistics() const = 0;
  /// One optimisation step on `batch` (the tensors the model's data gives: paired {input, reference},
  /// unpaired {A, B}; each [N, C, S, S] in [-1, 1] on the model's device), applying gradients only
  /// through `updater`. Returns the values of statistics(), each a mean over the batch. Throws
  /// NonFiniteLossError before any update uses a non-finite loss.
  virtual std::vector<double> train_step(const std::vector<torch::Tensor>& batch, StepUpdater& updater) = 0;
  /// The generators that are tested and exported (ONNX), by {index}.
  virtual std::vector<UnetGenerator> exported_generators() = 0;
  /// Extra state of network `i` (networks() order) kept with its training state for --resume
  /// (CycleGAN: its discriminator's image pool). Returns whether it wrote anything.
  virtual bool save_state(size_t /*i*/, torch::serialize::OutputArchive& /*archive*/) { return false; }
  /// Restores what save_state wrote for network `i`. Throws c10::Error for a missing key.
  virtual void load_state(size_t /*i*/, torch::serialize::InputArchive& /*archive*/) {}
};

/// Puts every network of `model` in training (`on`) or evaluation mode.
void set_train_mode(GanModel& model, bool on);

}  // namespace img2img

#pragma once
// An exponential moving average of a generator's weights (generator.ema_decay; docs/quality.md): the
// generator a run tests, saves (X.pt), exports and `infer`s. Yazıcı et al., "The Unusual Effectiveness
// of Averaging in GAN Training" (ICLR 2019); the same average is StyleGAN's G_ema. The trained weights
// stay in the module (the optimiser updates them); the average is kept beside them and swapped in
// (AveragedWeights) for a test, a checkpoint or an ONNX file.

#include <torch/nn/module.h>          // torch::nn::Module
#include <torch/serialize/archive.h>  // torch::serialize::{Input,Output}Archive
#include <torch/types.h>              // torch::Tensor

#include <cstddef>  // std::ptrdiff_t, size_t
#include <cstdint>  // int64_t
#include <memory>   // std::shared_ptr
#include <vector>   // std::vector

namespace img2img {

/// The decay of update number `t` (0 = the first): min(decay, (1 + t) / (10 + t)), the warm-up of
/// TensorFlow's tf.train.ExponentialMovingAverage (its num_updates argument). Early updates weigh the
/// new weights heavily (t = 0: 0.1), so the average never holds much of the random initial weights:
/// until (1 + t) / (10 + t) reaches `decay` it covers roughly the last 10% of the steps.
double average_decay_at(double decay, int64_t t);

/// The moving average of one module's parameters and floating-point buffers (BatchNorm running
/// mean/var; integer buffers such as num_batches_tracked are the module's own). Starts equal to the
/// module's weights. Each update(): avg <- avg + (1 - d_t) (w - avg), d_t = average_decay_at(decay, t).
/// Buffers are averaged like the parameters, as timm's ModelEmaV2 does: at batch 1 the running
/// statistics (momentum 0.1) follow the last ~10 images only; averaged, they describe the same window
/// of steps as the averaged weights.
class WeightAverage {
 public:
  /// `decay` in (0, 1) (generator.ema_decay; validated by the configuration).
  WeightAverage(std::shared_ptr<torch::nn::Module> module, double decay);

  /// One update after an optimiser step of the module (not while swapped in).
  void update();
  /// Updates done so far (the next uses average_decay_at(decay, steps())).
  int64_t steps() const { return steps_; }
  double decay() const { return decay_; }
  /// The averaged parameters, then the averaged floating buffers, in the module's order.
  const std::vector<torch::Tensor>& averaged() const { return average_; }
  /// The averaged floating buffers alone (the tail of averaged()).
  std::vector<torch::Tensor> averaged_buffers() const {
    return {average_.begin() + static_cast<std::ptrdiff_t>(parameter_count_), average_.end()};
  }

  /// Puts the average into the module and keeps the trained weights aside; restore() puts them back
  /// bit for bit. Throws Error when already swapped in (or, for restore, not swapped in).
  void swap_in();
  void restore();
  bool swapped_in() const { return !trained_.empty(); }

  /// Writes the training state of the average into `archive` (key "weight_average": the step count
  /// and the module's trained weights; the average itself is the checkpoint's X.pt). Not while swapped in.
  void save(torch::serialize::OutputArchive& archive) const;
  /// After the module was loaded from X.pt (the average): takes the module's weights as the average,
  /// then loads the trained weights and the step count that save() wrote. Returns false, and restarts
  /// the average from the module's weights at 0 steps, when `archive` holds none (a checkpoint of a
  /// run without generator.ema_decay). Throws c10::Error when the saved tensors do not fit.
  bool load(torch::serialize::InputArchive& archive);
  /// Restarts the average from the module's weights at 0 steps.
  void restart();

 private:
  std::vector<torch::Tensor> state() const;  // the module's parameters, then floating buffers
  std::shared_ptr<torch::nn::Module> module_;
  double decay_;
  int64_t steps_ = 0;
  size_t parameter_count_ = 0;
  std::vector<torch::Tensor> average_;  // same order as state()
  std::vector<torch::Tensor> trained_;  // while swapped in: the trained weights
};

/// Reads the trained weights that WeightAverage::save wrote into `archive` (key "weight_average") into
/// `module`'s parameters and floating buffers (a resume with generator.ema_decay now 0: training goes on
/// from the trained weights, not from the average in X.pt). Returns the saved step count of the
/// average, or -1 (module unchanged) when `archive` holds none. Throws c10::Error when the saved
/// tensors do not fit the module.
int64_t load_trained_weights(torch::nn::Module& module, torch::serialize::InputArchive& archive);

/// Swaps the averages in for a scope (a test, a checkpoint, an ONNX file) and back when it ends,
/// also when it throws. Averages that are already swapped in are left alone.
class AveragedWeights {
 public:
  explicit AveragedWeights(std::vector<WeightAverage>& averages);
  ~AveragedWeights();
  AveragedWeights(const AveragedWeights&) = delete;
  AveragedWeights& operator=(const AveragedWeights&) = delete;

 private:
  std::vector<WeightAverage*> swapped_;
};

}  // namespace img2img

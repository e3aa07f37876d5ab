#include "img2img/train/weight_average.h"

#include <c10/util/Exception.h>              // TORCH_CHECK
#include <torch/csrc/autograd/grad_mode.h>  // torch::NoGradGuard

#include <algorithm>  // std::min
#include <string>     // std::to_string
#include <utility>    // std::move

#include "img2img/core/error.h"

namespace img2img {

namespace {
// The module's parameters, then floating buffers (WeightAverage's order).
std::vector<torch::Tensor> floating_state(torch::nn::Module& module) {
  std::vector<torch::Tensor> out = module.parameters(/*recurse=*/true);
  for (const torch::Tensor& b : module.buffers(/*recurse=*/true))
    if (b.is_floating_point()) out.push_back(b);
  return out;
}
}  // namespace

double average_decay_at(double decay, int64_t t) {
  const double warm = (1.0 + static_cast<double>(t)) / (10.0 + static_cast<double>(t));
  return std::min(decay, warm);
}

WeightAverage::WeightAverage(std::shared_ptr<torch::nn::Module> module, double decay)
    : module_(std::move(module)), decay_(decay) {
  torch::NoGradGuard no_grad;
  parameter_count_ = module_->parameters(/*recurse=*/true).size();
  for (const torch::Tensor& t : state()) average_.push_back(t.detach().clone());
}

std::vector<torch::Tensor> WeightAverage::state() const { return floating_state(*module_); }

void WeightAverage::update() {
  if (swapped_in()) throw Error("WeightAverage::update while the average is swapped in (a bug: please report it)");
  torch::NoGradGuard no_grad;
  const double weight = 1.0 - average_decay_at(decay_, steps_);  // of the new weights
  const std::vector<torch::Tensor> now = state();
  for (size_t i = 0; i < now.size(); ++i) average_[i].lerp_(now[i].detach(), weight);
  ++steps_;
}

void WeightAverage::swap_in() {
  if (swapped_in()) throw Error("WeightAverage::swap_in twice (a bug: please report it)");
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> now = state();
  for (size_t i = 0; i < now.size(); ++i) {
    trained_.push_back(now[i].detach().clone());
    now[i].copy_(average_[i]);
  }
}

void WeightAverage::restore() {
  if (!swapped_in()) throw Error("WeightAverage::restore without swap_in (a bug: please report it)");
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> now = state();
  for (size_t i = 0; i < now.size(); ++i) now[i].copy_(trained_[i]);
  trained_.clear();
}

void WeightAverage::save(torch::serialize::OutputArchive& archive) const {
  if (swapped_in()) throw Error("WeightAverage::save while the average is swapped in (a bug: please report it)");
  torch::serialize::OutputArchive own;
  own.write("steps", c10::IValue(steps_));
  const std::vector<torch::Tensor> now = state();
  // Keys by position (archive keys cannot hold the modules' dotted names); load() checks the count and shapes.
  own.write("count", c10::IValue(static_cast<int64_t>(now.size())));
  for (size_t i = 0; i < now.size(); ++i) own.write("trained_" + std::to_string(i), now[i].detach(), /*is_buffer=*/true);
  archive.write("weight_average", own);
}

void WeightAverage::restart() {
  torch::NoGradGuard no_grad;
  const std::vector<torch::Tensor> now = state();
  for (size_t i = 0; i < now.size(); ++i) average_[i].copy_(now[i]);
  trained_.clear();
  steps_ = 0;
}

int64_t load_trained_weights(torch::nn::Module& module, torch::serialize::InputArchive& archive) {
  torch::NoGradGuard no_grad;
  torch::serialize::InputArchive own;
  if (!archive.try_read("weight_average", own)) return -1;
  const std::vector<torch::Tensor> now = floating_state(module);
  c10::IValue steps, count;
  own.read("steps", steps);
  own.read("count", count);
  TORCH_CHECK(count.toInt() == static_cast<int64_t>(now.size()), "weight_average holds ", count.toInt(),
              " tensors, the generator has ", now.size());
  std::vector<torch::Tensor> saved;
  for (size_t i = 0; i < now.size(); ++i) {  // all checked before any is copied
    torch::Tensor t;
    own.read("trained_" + std::to_string(i), t, /*is_buffer=*/true);
    TORCH_CHECK(t.sizes() == now[i].sizes(), "weight_average tensor ", i, " has shape ", t.sizes(), ", the generator's ",
                now[i].sizes());
    saved.push_back(std::move(t));
  }
  for (size_t i = 0; i < now.size(); ++i) now[i].copy_(saved[i]);
  return steps.toInt();
}

bool WeightAverage::load(torch::serialize::InputArchive& archive) {
  restart();  // the module holds X.pt, the average
  const int64_t steps = load_trained_weights(*module_, archive);
  if (steps < 0) return false;
  steps_ = steps;
  return true;
}

AveragedWeights::AveragedWeights(std::vector<WeightAverage>& averages) {
  try {
    for (WeightAverage& a : averages) {
      if (a.swapped_in()) continue;
      a.swap_in();
      swapped_.push_back(&a);
    }
  } catch (...) {
    for (WeightAverage* a : swapped_) a->restore();
    throw;
  }
}

AveragedWeights::~AveragedWeights() {
  for (WeightAverage* a : swapped_) a->restore();
}

}  // namespace img2img

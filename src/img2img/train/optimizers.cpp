#include "img2img/train/optimizers.h"

#include <torch/optim/sgd.h>   // torch::optim::SGD

#include <algorithm>  // std::max
#include <chrono>   // std::chrono
#include <cstdio>   // std::fprintf
#include <cstdlib>  // std::getenv, std::strtod
#include <string>   // std::to_string

#include "img2img/core/error.h"
#include "img2img/train/optim/adadelta.h"
#include "img2img/train/optim/asgd.h"
#include "img2img/train/optim/fused_adam.h"

namespace img2img {

std::unique_ptr<torch::optim::Optimizer> make_optimizer(const TrainConfig& c, std::vector<torch::Tensor> params) {
  switch (c.optimizer) {
    case OptimizerKind::kAdam:
      return std::make_unique<FusedAdam>(
          std::move(params), torch::optim::AdamOptions(c.learning_rate).betas({c.beta1, c.beta2}));
    case OptimizerKind::kSgd:
      return std::make_unique<torch::optim::SGD>(std::move(params),
                                                 torch::optim::SGDOptions(c.learning_rate).momentum(c.momentum));
    case OptimizerKind::kAdadelta:  // eps 1e-6, weight_decay 0 (PyTorch defaults)
      return std::make_unique<Adadelta>(std::move(params), AdadeltaOptions(c.learning_rate).rho(c.rho));
    case OptimizerKind::kAsgd:  // lambd 1e-4, alpha 0.75, t0 1e6 (PyTorch defaults)
      return std::make_unique<Asgd>(std::move(params), AsgdOptions(c.learning_rate));
  }
  throw ConfigError("unknown train.optimizer " + std::to_string(static_cast<int>(c.optimizer)));
}

void set_learning_rate(torch::optim::Optimizer& optimizer, double lr) {
  for (auto& group : optimizer.param_groups()) group.options().set_lr(lr);
}

GradientSyncOptions gradient_sync_options_from_env(const std::function<const char*(const char*)>& get_fn) {
  const auto get = [&get_fn](const char* name) -> const char* {
    const char* v = get_fn ? get_fn(name) : std::getenv(name);
    return v != nullptr && *v != '\0' ? v : nullptr;
  };
  const auto flag = [&get](const char* name, bool fallback) {
    const char* v = get(name);
    if (v == nullptr) return fallback;
    const std::string s = v;
    if (s == "0" || s == "1") return s == "1";
    throw ConfigError(std::string("environment variable ") + name + " = '" + s + "': expected 0 or 1");
  };
  const auto mebibytes = [&get](const char* name, int64_t fallback) {
    const char* v = get(name);
    if (v == nullptr) return fallback;
    char* end = nullptr;
    const double mib = std::strtod(v, &end);
    if (*end != '\0' || !(mib > 0) || mib > 1 << 20)
      throw ConfigError(std::string("environment variable ") + name + " = '" + v +
                        "': expected a bucket size in MiB, a number > 0 (e.g. 25 or 0.5)");
    return std::max<int64_t>(1, static_cast<int64_t>(mib * (1 << 20)));
  };
  GradientSyncOptions o;
  o.overlap = flag("IMG2IMG_OVERLAP", o.overlap);
  o.step_timing = flag("IMG2IMG_STEP_TIMING", o.step_timing);
  o.buckets.bucket_bytes = mebibytes("IMG2IMG_BUCKET_MB", o.buckets.bucket_bytes);
  o.buckets.first_bucket_bytes = mebibytes("IMG2IMG_FIRST_BUCKET_MB", o.buckets.first_bucket_bytes);
  return o;
}

ModelOptimizers::ModelOptimizers(GanModel& model, const TrainConfig& config, ProcessGroup* group,
                                 const GradientSyncOptions& sync)
    : group_(group), step_timing_(sync.step_timing) {
  for (ParameterGroup& g : model.parameter_groups()) {
    optimizers_.push_back(make_optimizer(config, std::move(g.parameters)));
    networks_.push_back(g.network);
  }
  if (group_ != nullptr && group_->size() > 1 && sync.overlap)
    for (auto& o : optimizers_) {
      std::vector<torch::Tensor> params;
      for (auto& g : o->param_groups())
        for (auto& p : g.params()) params.push_back(p);
      reducers_.push_back(std::make_unique<GradientReducer>(std::move(params), *group_, sync.buckets));
    }
}

void ModelOptimizers::zero_grad(size_t group) {
  zero_grad_to_none(*optimizers_.at(group));
  if (group_ == nullptr) return;
  pending_ = group;
  // Only the pending group's hooks react: another network's backward in this step (none, as the models
  // freeze it) leaves its reducer alone.
  for (size_t g = 0; g < reducers_.size(); ++g) {
    if (g == group)
      reducers_[g]->arm();
    else if (reducers_[g]->armed())
      reducers_[g]->cancel();
  }
}

namespace {
// The gradients of every parameter of `optimizer`, in parameter order; a parameter without one (unused
// by this step's backward) gets zeros, so every rank packs the same layout.
std::vector<torch::Tensor> gradients(torch::optim::Optimizer& optimizer) {
  std::vector<torch::Tensor> grads;
  for (auto& g : optimizer.param_groups())
    for (auto& p : g.params()) {
      if (!p.grad().defined()) p.mutable_grad() = torch::zeros_like(p);
      grads.push_back(p.grad());
    }
  return grads;
}
}  // namespace

// Averages group `group`'s gradients over the ranks; returns how many ranks abandoned the step.
static int average_gradients(ProcessGroup& pg, torch::optim::Optimizer& optimizer, bool poison, double& seconds) {
  const auto t0 = std::chrono::steady_clock::now();
  const int failed = pg.average(gradients(optimizer), poison);
  seconds += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return failed;
}

// Ends the bucketed all-reduce of group `group` (GradientReducer::finish), adding up its timing.
int ModelOptimizers::finish_reduce(size_t group, bool poison) {
  GradientReducer& r = *reducers_.at(group);
  const int failed = r.finish(poison);
  const ReduceTiming& t = r.last_timing();
  allreduce_seconds_ += t.blocked;
  allreduce_hidden_seconds_ += t.hidden();
  if (step_timing_)
    std::fprintf(stderr,
                 "step timing: rank %d %s: backward %.1f ms, all-reduce %.1f ms in %zu bucket(s), blocked %.1f ms, "
                 "hidden %.1f ms\n",
                 group_->rank(), networks_.at(group).c_str(), 1e3 * t.backward, 1e3 * t.in_flight, r.bucket_count(),
                 1e3 * t.blocked, 1e3 * t.hidden());
  return failed;
}

void ModelOptimizers::step(size_t group) {
  if (group_ != nullptr && group_->size() > 1) {
    pending_.reset();
    // A step without zero_grad (not armed) falls back to the one-buffer all-reduce, on every rank alike.
    const bool bucketed = group < reducers_.size() && reducers_[group]->armed();
    if (const int failed = bucketed ? finish_reduce(group, false)
                                    : average_gradients(*group_, *optimizers_.at(group), false, allreduce_seconds_);
        failed > 0)
      throw NonFiniteLossError(std::to_string(failed) + " other rank(s) of the data-parallel run had a non-finite "
                               "loss in this step (their own log names the term); train.nan_policy applies to the "
                               "whole group",
                               "another rank");
  }
  optimizers_.at(group)->step();
}

void ModelOptimizers::abandon_step() {
  if (group_ == nullptr || group_->size() <= 1 || !pending_) return;
  const size_t group = *pending_;
  pending_.reset();
  if (group < reducers_.size() && reducers_[group]->armed())
    finish_reduce(group, true);  // issues every bucket's collective, as the peers do
  else
    average_gradients(*group_, *optimizers_.at(group), true, allreduce_seconds_);
}

double ModelOptimizers::take_allreduce_seconds() {
  const double s = allreduce_seconds_;
  allreduce_seconds_ = 0;
  return s;
}

double ModelOptimizers::take_allreduce_hidden_seconds() {
  const double s = allreduce_hidden_seconds_;
  allreduce_hidden_seconds_ = 0;
  return s;
}

void ModelOptimizers::set_learning_rate(double lr) {
  for (auto& o : optimizers_) img2img::set_learning_rate(*o, lr);
}

}  // namespace img2img

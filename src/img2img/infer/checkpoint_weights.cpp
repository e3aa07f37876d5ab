#include "img2img/infer/checkpoint_weights.h"

#include <c10/util/Exception.h>       // c10::Error
#include <fmt/format.h>               // fmt::format
#include <torch/serialize/archive.h>  // torch::serialize::InputArchive

#include "img2img/core/error.h"
#include "img2img/run/resume_point.h"
#include "img2img/train/weight_average.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {
// The way back for every --weights trained error: the default still works from X.pt alone.
constexpr const char* kUseTheAverage = "or use the moving average in the .pt (--weights average, the default)";
}  // namespace

std::string weights_kind_name(WeightsKind kind) { return kind == WeightsKind::kTrained ? "trained" : "average"; }

WeightsKind parse_weights_kind(const std::string& name) {
  if (name == "average") return WeightsKind::kAverage;
  if (name == "trained") return WeightsKind::kTrained;
  throw ConfigError(fmt::format("unknown --weights '{}'; expected one of: average, trained", name));
}

LoadedWeights load_checkpoint_weights(const fs::path& weights, const CheckpointMeta& meta, torch::nn::Module& module,
                                      WeightsKind kind) {
  load_weights(weights, module);  // integer buffers (num_batches_tracked) stay X.pt's either way
  LoadedWeights out;
  out.file = weights;
  out.averaged = meta.average_decay > 0;
  if (!out.averaged) {
    // A run with generator.ema_decay = 0 (or older than the average): X.pt is the trained weights.
    out.description = fmt::format("trained weights (the run kept no moving average): {}", weights.string());
    if (kind == WeightsKind::kTrained)
      out.note = fmt::format("--weights trained: checkpoint '{}' holds no moving average (its run had "
                             "generator.ema_decay = 0, or predates the average), so its weights already are the trained weights; using them",
                             weights.string());
    return out;
  }
  if (kind == WeightsKind::kAverage) {
    out.description = fmt::format("moving average of the trained weights (generator.ema_decay = {}, {} updates): {}",
                                  meta.average_decay, meta.average_steps, weights.string());
    return out;
  }
  const fs::path state = training_state_path(weights);
  std::error_code ec;
  if (!fs::exists(state, ec))
    throw CheckpointError(fmt::format(
        "--weights trained: checkpoint '{}' holds a moving average of the generator's weights (generator.ema_decay "
        "= {}); the trained weights are kept in its training state '{}', which does not exist (was the .pt copied "
        "without it?). Copy '{}' from the run's checkpoint folder beside the .pt, {}.",
        weights.string(), meta.average_decay, state.string(), state.filename().string(), kUseTheAverage));
  torch::serialize::InputArchive archive;
  try {
    archive = read_training_state(state, torch::kCPU);
  } catch (const CheckpointError& e) {
    throw CheckpointError(fmt::format("--weights trained: {} It holds the trained weights of '{}'; copy it again from "
                                      "the run's checkpoint folder, {}.",
                                      e.what(), weights.string(), kUseTheAverage));
  }
  int64_t steps = -1;
  try {
    steps = load_trained_weights(module, archive);
  } catch (const c10::Error& e) {
    throw CheckpointError(fmt::format("--weights trained: the trained weights in '{}' do not fit the generator of '{}' "
                                      "({}); the state file belongs to another checkpoint. Copy the '{}' written "
                                      "with the .pt, {}.",
                                      state.string(), weights.string(), e.what_without_backtrace(),
                                      state.filename().string(), kUseTheAverage));
  }
  if (steps < 0)
    throw CheckpointError(fmt::format(
        "--weights trained: training state '{}' holds no trained weights (no 'weight_average' entry), but '{}' says "
        "'{}' is a moving average (generator.ema_decay = {}); the state file belongs to another checkpoint. Copy the "
        "'{}' written with the .pt, {}.",
        state.string(), checkpoint_meta_path(weights).string(), weights.string(), meta.average_decay,
        state.filename().string(), kUseTheAverage));
  if (steps != meta.average_steps)  // same shapes, another save: the step counts tell them apart
    throw CheckpointError(fmt::format(
        "--weights trained: training state '{}' holds the trained weights after {} updates of the average, but '{}' "
        "says '{}' is the average after {}; the state file belongs to another checkpoint. Copy the '{}' written "
        "with the .pt, {}.",
        state.string(), steps, checkpoint_meta_path(weights).string(), weights.string(), meta.average_steps,
        state.filename().string(), kUseTheAverage));
  out.file = state;
  out.averaged = false;
  out.description = fmt::format("trained weights: {}", state.string());
  return out;
}

}  // namespace img2img

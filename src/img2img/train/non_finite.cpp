#include "img2img/train/non_finite.h"

#include <fmt/format.h>  // fmt::format

#include <torch/csrc/autograd/grad_mode.h>  // torch::NoGradGuard

#include <limits>  // std::numeric_limits

#include "img2img/core/process_group.h"  // DistributedError

namespace img2img {

double used_samples_factor(int64_t used) {
  return used > 0 ? 1.0 / static_cast<double>(used) : std::numeric_limits<double>::quiet_NaN();
}

std::string NanGuard::run(const std::vector<torch::nn::Module*>& modules, int64_t iteration, int64_t step_index,
                          const std::function<void()>& step) {
  // Skip mode keeps a copy of every buffer (running mean / var: small next to the weights).
  std::vector<std::pair<torch::Tensor, torch::Tensor>> saved;
  if (policy_ == NanPolicy::kSkip)
    for (torch::nn::Module* m : modules)
      for (const torch::Tensor& b : m->buffers()) saved.emplace_back(b, b.clone());
  try {
    step();
    consecutive_ = 0;
    return "";
  } catch (const NonFiniteLossError& e) {
    if (policy_ == NanPolicy::kStop)
      throw Error(fmt::format("iteration {}, step {}: {}", iteration, step_index, e.what()));
    if (++consecutive_ >= max_skips_)
      throw Error(fmt::format("iteration {}, step {}: {} {} consecutive steps were skipped (train.nan_policy = skip, "
                              "train.nan_max_skips = {}); stopping.",
                              iteration, step_index, e.what(), consecutive_, max_skips_));
    torch::NoGradGuard no_grad;
    for (auto& [live, copy] : saved) live.copy_(copy);
    ++skipped_;
    return fmt::format("iteration {}, step {}: the {} loss is not finite; batch skipped (train.nan_policy = skip; "
                       "{} in a row, {} in a row stop the run)",
                       iteration, step_index, e.term(), consecutive_, max_skips_);
  } catch (const DistributedError& e) {  // a lost peer stays what it is (the loop names the run folder)
    throw DistributedError(fmt::format("iteration {}, step {}: {}", iteration, step_index, e.what()));
  } catch (const Error& e) {
    throw Error(fmt::format("iteration {}, step {}: {}", iteration, step_index, e.what()));
  }
}

}  // namespace img2img

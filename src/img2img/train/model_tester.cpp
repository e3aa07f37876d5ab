#include "img2img/train/model_tester.h"

#include <fmt/format.h>          // fmt::format
#include <torch/csrc/autograd/grad_mode.h>  // torch::NoGradGuard

#include <algorithm>  // std::shuffle, std::sort
#include <chrono>     // std::chrono
#include <numeric>    // std::iota
#include <random>     // std::mt19937_64, std::seed_seq

#include "img2img/core/path_template.h"
#include "img2img/data/image_io.h"
#include "img2img/metrics/ssim.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {
const char* extension_for(PixelDepth depth) { return depth == PixelDepth::kFloat ? ".tif" : ".png"; }
}  // namespace

ModelTester::ModelTester(const RunConfig& config, const torch::Device& device)
    : config_(config),
      device_(device),
      dataset_(config.test, config.data.channel_count, config.data.image_size, /*limit_count=*/0),
      loader_(dataset_) {
  if (config.test.storage == Storage::kDevice) dataset_.to(device);
}

std::vector<int64_t> draw_test_samples(int64_t n, int64_t size, int64_t seed, int64_t iteration,
                                       uint32_t stream) {
  std::vector<int64_t> all(static_cast<size_t>(n));
  std::iota(all.begin(), all.end(), 0);
  if (size <= 0 || size >= n) return all;
  std::seed_seq seq{static_cast<uint32_t>(seed), static_cast<uint32_t>(static_cast<uint64_t>(seed) >> 32),
                    0x7e575eedu + stream, static_cast<uint32_t>(iteration), static_cast<uint32_t>(iteration >> 32)};
  std::mt19937_64 rng(seq);
  std::shuffle(all.begin(), all.end(), rng);
  all.resize(static_cast<size_t>(size));
  std::sort(all.begin(), all.end());
  return all;
}

TestResult ModelTester::run(UnetGenerator& generator, int64_t iteration,
                            const std::map<std::string, std::string>& template_values) {
  const auto t0 = std::chrono::steady_clock::now();
  TestResult result;
  result.iteration = iteration;
  const std::vector<int64_t> samples =
      draw_test_samples(dataset_.size(), config_.test.size, config_.train.seed, iteration);
  result.samples = static_cast<int64_t>(samples.size());

  fs::path out_dir;
  if (!config_.test.output_dir.empty()) {
    auto values = template_values;
    values["iteration"] = std::to_string(iteration);
    out_dir = expand_template(config_.test.output_dir, values);
  }
  const bool was_training = generator->is_training();
  generator->eval();
  torch::NoGradGuard no_grad;
  double ssim_sum = 0;
  const int64_t batch = std::max<int64_t>(1, config_.test.batch_size);
  loader_.start(samples, batch);
  for (size_t begin = 0; begin < samples.size(); begin += static_cast<size_t>(batch)) {
    const size_t end = std::min(samples.size(), begin + static_cast<size_t>(batch));
    const std::vector<int64_t> chunk(samples.begin() + static_cast<std::ptrdiff_t>(begin),
                                     samples.begin() + static_cast<std::ptrdiff_t>(end));
    const auto [loaded_input, loaded_reference] = loader_.next();
    const torch::Tensor input = loaded_input.to(device_);          // [B, C, S, S]
    const torch::Tensor reference = loaded_reference.to(device_);  // [B, C, S, S]
    const torch::Tensor generated = generator(input);                                         // [B, C, S, S]
    ssim_sum += ssim(signed_to_unit(generated), signed_to_unit(reference)).sum().item<double>();
    if (out_dir.empty()) continue;
    for (size_t i = 0; i < chunk.size(); ++i) {
      const PairedFiles& files = dataset_.files(chunk[i]);
      const auto ii = static_cast<int64_t>(i);
      const std::pair<const char*, std::pair<torch::Tensor, PixelDepth>> images[] = {
          {"input", {input[ii], dataset_.input_depth()}},
          {"generated", {generated[ii], dataset_.reference_depth()}},
          {"reference", {reference[ii], dataset_.reference_depth()}}};
      for (const auto& [role, image] : images) {
        const fs::path path = out_dir / fmt::format("{}_{}_{}{}", format_iteration(iteration), files.name, role,
                                                    extension_for(image.second));
        write_image(path, tensor_to_image(image.first), image.second);
        result.files.push_back({path, role, chunk[i]});
      }
    }
  }
  if (was_training) generator->train();
  result.ssim = ssim_sum / std::max<double>(1.0, static_cast<double>(samples.size()));
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

}  // namespace img2img

#include "img2img/data/augment.h"

#include <torch/nn/functional/vision.h>  // affine_grid, grid_sample

#include <cmath>   // std::cos, std::sin
#include <vector>  // std::vector

namespace img2img {

bool augmentation_enabled(const DataConfig& c) {
  return c.crop > 0 || c.flip_horizontal > 0 || c.flip_vertical > 0 || c.rotation > 0;
}

std::pair<torch::Tensor, torch::Tensor> augment_pair(const torch::Tensor& input, const torch::Tensor& reference,
                                                     const DataConfig& config, std::mt19937_64& rng) {
  if (!augmentation_enabled(config)) return {input, reference};
  const int64_t n = input.size(0), c = input.size(1);
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  torch::Tensor both = torch::cat({input, reference}, 1);  // one draw per sample for both sides
  std::vector<torch::Tensor> out;
  std::vector<float> theta;  // [N, 2, 3] affine from output to input coordinates (normalised)
  bool any_warp = false;
  for (int64_t i = 0; i < n; ++i) {
    torch::Tensor s = both[i];
    // Draw every parameter for every sample so the random stream does not depend on outcomes.
    const bool hflip = u01(rng) < config.flip_horizontal;
    const bool vflip = u01(rng) < config.flip_vertical;
    const double crop_draw = u01(rng), cx_draw = u01(rng), cy_draw = u01(rng);
    const bool rotate = u01(rng) < config.rotation;
    const double angle = (u01(rng) * 2.0 - 1.0) * M_PI;
    if (hflip) s = s.flip({2});
    if (vflip) s = s.flip({1});
    out.push_back(s);
    double scale = 1.0, cx = 0.0, cy = 0.0, a = 0.0;
    if (config.crop > 0) {
      scale = config.crop + (1.0 - config.crop) * crop_draw;  // side fraction in [crop, 1]
      cx = (cx_draw * 2.0 - 1.0) * (1.0 - scale);
      cy = (cy_draw * 2.0 - 1.0) * (1.0 - scale);
    }
    if (rotate) a = angle;
    const double zoom = 1.0 / (std::abs(std::cos(a)) + std::abs(std::sin(a)));
    const double k = scale * zoom;
    theta.insert(theta.end(), {static_cast<float>(k * std::cos(a)), static_cast<float>(-k * std::sin(a)),
                               static_cast<float>(cx), static_cast<float>(k * std::sin(a)),
                               static_cast<float>(k * std::cos(a)), static_cast<float>(cy)});
    any_warp = any_warp || scale < 1.0 || rotate;
  }
  torch::Tensor result = torch::stack(out);
  if (any_warp) {
    namespace F = torch::nn::functional;
    torch::Tensor t = torch::from_blob(theta.data(), {n, 2, 3}, torch::kFloat32).clone().to(input.device());
    torch::Tensor grid = F::affine_grid(t, result.sizes(), /*align_corners=*/false);
    result = F::grid_sample(result, grid,
                            F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
  }
  return {result.slice(1, 0, c), result.slice(1, c)};
}

}  // namespace img2img

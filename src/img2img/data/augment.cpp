#include "img2img/data/augment.h"

#include <torch/nn/functional/vision.h>  // affine_grid, grid_sample

#include <cmath>  // std::cos, std::sin, std::abs

namespace img2img {

bool augmentation_enabled(const DataConfig& c) {
  return c.crop > 0 || c.flip_horizontal > 0 || c.flip_vertical > 0 || c.rotation > 0;
}

AugmentDraw draw_augmentation(int64_t n, const DataConfig& config, std::mt19937_64& rng) {
  std::uniform_real_distribution<double> u01(0.0, 1.0);
  AugmentDraw d;
  std::vector<float> theta;
  theta.reserve(static_cast<size_t>(n) * 6);
  for (int64_t i = 0; i < n; ++i) {
    // Draw every parameter for every sample so the random stream does not depend on outcomes.
    const bool hflip = u01(rng) < config.flip_horizontal;
    const bool vflip = u01(rng) < config.flip_vertical;
    const double crop_draw = u01(rng), cx_draw = u01(rng), cy_draw = u01(rng);
    const bool rotate = u01(rng) < config.rotation;
    const double angle = (u01(rng) * 2.0 - 1.0) * M_PI;
    d.flip_horizontal.push_back(hflip);
    d.flip_vertical.push_back(vflip);
    double scale = 1.0, cx = 0.0, cy = 0.0, a = 0.0;
    if (config.crop > 0) {
      scale = config.crop + (1.0 - config.crop) * crop_draw;  // side fraction in [crop, 1]
      cx = (cx_draw * 2.0 - 1.0) * (1.0 - scale);               // the window stays inside [-1, 1]
      cy = (cy_draw * 2.0 - 1.0) * (1.0 - scale);
    }
    if (rotate) a = angle;
    // A square of half-side k rotated by a reaches k (|cos a| + |sin a|) along each axis: <= 1.
    const double zoom = 1.0 / (std::abs(std::cos(a)) + std::abs(std::sin(a)));
    const double k = scale * zoom;
    theta.insert(theta.end(), {static_cast<float>(k * std::cos(a)), static_cast<float>(-k * std::sin(a)),
                               static_cast<float>(cx), static_cast<float>(k * std::sin(a)),
                               static_cast<float>(k * std::cos(a)), static_cast<float>(cy)});
    d.any_warp = d.any_warp || scale < 1.0 || rotate;
  }
  d.theta = torch::from_blob(theta.data(), {n, 2, 3}, torch::kFloat32).clone();
  return d;
}

AugmentDraw gather_draws(const std::vector<std::pair<const AugmentDraw*, int64_t>>& samples) {
  AugmentDraw out;
  std::vector<torch::Tensor> rows;
  for (const auto& [d, i] : samples) {
    const auto k = static_cast<size_t>(i);
    out.flip_horizontal.push_back(d->flip_horizontal.at(k));
    out.flip_vertical.push_back(d->flip_vertical.at(k));
    rows.push_back(d->theta[i]);
    out.any_warp = out.any_warp || d->any_warp;
  }
  out.theta = rows.empty() ? torch::zeros({0, 2, 3}) : torch::stack(rows);
  return out;
}

namespace {
// [N] bool mask on `device` broadcastable to [N, C, H, W].
torch::Tensor sample_mask(const std::vector<uint8_t>& flags, const torch::Device& device) {
  const auto n = static_cast<int64_t>(flags.size());
  return torch::from_blob(const_cast<uint8_t*>(flags.data()), {n, 1, 1, 1}, torch::kUInt8)
      .to(device)
      .to(torch::kBool);
}
}  // namespace

torch::Tensor augment_images(const torch::Tensor& images, const DataConfig& config, std::mt19937_64& rng) {
  if (!augmentation_enabled(config)) return images;
  return apply_augmentation(images, draw_augmentation(images.size(0), config, rng), config);
}

torch::Tensor apply_augmentation(const torch::Tensor& images, const AugmentDraw& d, const DataConfig& config) {
  torch::Tensor x = images;
  if (config.flip_horizontal > 0) x = torch::where(sample_mask(d.flip_horizontal, x.device()), x.flip({3}), x);
  if (config.flip_vertical > 0) x = torch::where(sample_mask(d.flip_vertical, x.device()), x.flip({2}), x);
  if (d.any_warp) {
    namespace F = torch::nn::functional;
    const torch::Tensor theta = d.theta.to(x.device(), x.scalar_type());
    const torch::Tensor grid = F::affine_grid(theta, x.sizes(), /*align_corners=*/false);
    // Border padding only matters for the half-pixel rim between the outer pixel centres and the
    // image edge, which still lies inside the source image.
    x = F::grid_sample(x, grid,
                       F::GridSampleFuncOptions().mode(torch::kBilinear).padding_mode(torch::kBorder).align_corners(false));
  }
  return x;
}

std::pair<torch::Tensor, torch::Tensor> augment_pair(const torch::Tensor& input, const torch::Tensor& reference,
                                                     const DataConfig& config, std::mt19937_64& rng) {
  if (!augmentation_enabled(config)) return {input, reference};
  const int64_t c = input.size(1);
  // [N, 2C, S, S]: one draw per sample serves both sides.
  const torch::Tensor both = augment_images(torch::cat({input, reference}, 1), config, rng);
  return {both.slice(1, 0, c), both.slice(1, c)};
}

std::pair<torch::Tensor, torch::Tensor> augment_unpaired(const torch::Tensor& a, const torch::Tensor& b,
                                                         const DataConfig& config, std::mt19937_64& rng) {
  torch::Tensor out_a = augment_images(a, config, rng);  // A's draws first, then B's (reproducible order)
  return {out_a, augment_images(b, config, rng)};
}

}  // namespace img2img

#pragma once
// Structural similarity (SSIM), the one implementation used for test scores, the train-SSIM plot,
// `img2img ssim` and data-set tools.

#include <torch/types.h>  // torch::Tensor

namespace img2img {

/// Gaussian SSIM parameters (Wang et al. 2004, "Image quality assessment: from error visibility to
/// structural similarity"; scikit-image structural_similarity with gaussian_weights=True).
struct SsimOptions {
  double sigma = 1.5;  ///< Gaussian window sigma (Wang et al.: 1.5)
  int64_t radius = 5;  ///< window radius: int(truncate 3.5 * sigma + 0.5) = 5 -> 11 taps (scikit-image)
  double k1 = 0.01;    ///< C1 = (k1 * data_range)^2 (Wang et al.: 0.01)
  double k2 = 0.03;    ///< C2 = (k2 * data_range)^2 (Wang et al.: 0.03)
  /// Arithmetic: kFloat64 (scores, `img2img ssim`: matches scikit-image to ~1e-7) or kFloat32 (the
  /// per-step train-SSIM curve: within ~1e-5 of float64, and vectorised float arithmetic, faster).
  torch::Dtype dtype = torch::kFloat64;
};

/// Per-image mean SSIM of `a` vs `b`, both [N, C, H, W] (any float or integer dtype) in [0, 1]
/// (data_range 1) on any device. Returns [N] float64 on the inputs' device: the mean over channels
/// and over all pixels at least `radius` from the border, i.e. exactly scikit-image's
/// structural_similarity(a, b, gaussian_weights=True, sigma=1.5, use_sample_covariance=False,
/// data_range=1.0, channel_axis=-1). Symmetric; identical images give 1. Computed in options.dtype with a
/// separable Gaussian filter (shifted-slice sums over the valid region, no padding). Throws DataError if
/// the shapes differ, are not 4-D or H or W < 2*radius+1.
torch::Tensor ssim(const torch::Tensor& a, const torch::Tensor& b, const SsimOptions& options = {});

/// The mean of ssim(a, b) over the batch, as a double (synchronises with the device).
double ssim_mean(const torch::Tensor& a, const torch::Tensor& b, const SsimOptions& options = {});

/// Maps [-1, 1] model tensors to SSIM's [0, 1] range: (x + 1) / 2, clamped.
torch::Tensor signed_to_unit(const torch::Tensor& x);

}  // namespace img2img

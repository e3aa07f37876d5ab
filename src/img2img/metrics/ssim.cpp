#include "img2img/metrics/ssim.h"

#include <cmath>    // std::exp
#include <sstream>  // std::ostringstream
#include <string>   // std::to_string
#include <vector>   // std::vector

#include "img2img/core/error.h"

namespace img2img {
namespace {

std::string shape_string(const torch::Tensor& t) {
  std::ostringstream s;
  s << t.sizes();
  return s.str();
}

// scipy.ndimage.gaussian_filter1d's kernel: exp(-x^2 / (2 sigma^2)) for |x| <= radius, normalised.
std::vector<double> gaussian_taps(const SsimOptions& o) {
  std::vector<double> w(static_cast<size_t>(2 * o.radius + 1));
  double sum = 0;
  for (int64_t i = -o.radius; i <= o.radius; ++i) {
    const double v = std::exp(-0.5 * static_cast<double>(i * i) / (o.sigma * o.sigma));
    w[static_cast<size_t>(i + o.radius)] = v, sum += v;
  }
  for (double& v : w) v /= sum;
  return w;
}

// Valid 1-d correlation along `dim`: out[i] = sum_k taps[k] t[i + k], size shrinks by taps - 1.
// Shifted slices summed with add_ (one vectorised pass per tap); a 1-channel conv2d ran ~10x slower.
torch::Tensor filter_valid(const torch::Tensor& t, const std::vector<double>& taps, int64_t dim) {
  const int64_t out = t.size(dim) - static_cast<int64_t>(taps.size()) + 1;
  torch::Tensor acc = t.narrow(dim, 0, out) * taps[0];
  for (size_t k = 1; k < taps.size(); ++k) acc.add_(t.narrow(dim, static_cast<int64_t>(k), out), taps[k]);
  return acc;
}

}  // namespace

torch::Tensor ssim(const torch::Tensor& a, const torch::Tensor& b, const SsimOptions& options) {
  const int64_t win = 2 * options.radius + 1;
  if (a.dim() != 4 || !a.sizes().equals(b.sizes()))
    throw DataError("SSIM needs two [N, C, H, W] tensors of the same shape, got " + shape_string(a) + " and " +
                    shape_string(b));
  if (a.size(2) < win || a.size(3) < win)
    throw DataError("SSIM needs images of at least " + std::to_string(win) + "x" + std::to_string(win) +
                    " pixels (the Gaussian window), got " + std::to_string(a.size(3)) + "x" +
                    std::to_string(a.size(2)));
  const int64_t n = a.size(0), c = a.size(1), h = a.size(2), w = a.size(3);
  if (options.dtype != torch::kFloat64 && options.dtype != torch::kFloat32)
    throw DataError("SSIM computes in float64 or float32 only (SsimOptions::dtype)");
  const torch::Tensor x = a.to(options.dtype).reshape({n * c, 1, h, w});
  const torch::Tensor y = b.to(x.device(), options.dtype).reshape({n * c, 1, h, w});
  const std::vector<double> taps = gaussian_taps(options);
  // Five maps filtered at once: [5 N C, 1, H, W]. A valid (unpadded) separable filter gives exactly
  // the pixels scikit-image keeps after cropping `radius` from each border, so its padding mode
  // (scipy 'reflect') never matters: [5 N C, 1, H - 2r, W - 2r].
  torch::Tensor maps = torch::cat({x, y, x * x, y * y, x * y}, 0);
  maps = filter_valid(filter_valid(maps, taps, 2), taps, 3);
  const auto m = maps.chunk(5, 0);
  const torch::Tensor &ux = m[0], &uy = m[1];
  const torch::Tensor vx = m[2] - ux * ux, vy = m[3] - uy * uy, vxy = m[4] - ux * uy;  // population (co)variance
  const double c1 = options.k1 * options.k1, c2 = options.k2 * options.k2;           // data_range = 1
  const torch::Tensor s = ((2 * ux * uy + c1) * (2 * vxy + c2)) / ((ux * ux + uy * uy + c1) * (vx + vy + c2));
  return s.reshape({n, -1}).to(torch::kFloat64).mean(1);  // [N]: mean over channels and pixels
}

double ssim_mean(const torch::Tensor& a, const torch::Tensor& b, const SsimOptions& options) {
  return ssim(a, b, options).mean().item<double>();
}

torch::Tensor signed_to_unit(const torch::Tensor& x) { return ((x + 1) * 0.5).clamp(0, 1); }

}  // namespace img2img

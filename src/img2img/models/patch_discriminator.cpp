#include "img2img/models/patch_discriminator.h"

#include <algorithm>  // std::min
#include <string>     // std::to_string

#include "img2img/models/activation.h"
#include "img2img/models/fast_conv.h"
#include "img2img/models/norm_layer.h"

namespace img2img {

PatchDiscriminatorImpl::PatchDiscriminatorImpl(PatchDiscriminatorOptions options_) : options(std::move(options_)) {
  reset();
}

void PatchDiscriminatorImpl::reset() {
  const int64_t k = options.kernel_size(), pad = (k - 1) / 2, ndf = options.initial_layer_size();
  const int64_t n = options.layers();
  convs.clear(), norms.clear();
  const bool bias = conv_bias_for(options.norm());
  auto add = [&](int64_t in, int64_t out, int64_t stride, bool first_or_last) {
    const size_t i = convs.size();
    convs.push_back(register_module(
        "conv" + std::to_string(i),
        torch::nn::Conv2d(torch::nn::Conv2dOptions(in, out, k).stride(stride).padding(pad).bias(first_or_last || bias))));
    norms.push_back(first_or_last ? torch::nn::AnyModule() : make_norm_layer(options.norm(), out));
    if (!norms.back().is_empty()) register_module("conv" + std::to_string(i) + "_norm", norms.back().ptr());
  };
  add(options.in_channels(), ndf, 2, true);  // [N, ndf, H/2, W/2]
  int64_t mult = 1;
  for (int64_t i = 1; i < n; ++i) {
    const int64_t prev = mult;
    mult = std::min<int64_t>(int64_t{1} << i, 8);
    add(ndf * prev, ndf * mult, 2, false);  // [N, ndf*mult, H/2^(i+1), ...]
  }
  const int64_t prev = mult;
  mult = std::min<int64_t>(int64_t{1} << std::min<int64_t>(n, 4), 8);
  add(ndf * prev, ndf * mult, 1, false);  // stride 1
  add(ndf * mult, 1, 1, true);            // [N, 1, H', W'] logits
}

torch::Tensor PatchDiscriminatorImpl::forward(const torch::Tensor& x) {
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_channels(), "PatchDiscriminator expects [N, ",
              options.in_channels(), ", H, W], got ", x.sizes());
  torch::Tensor h = x;
  const size_t last = convs.size() - 1;
  for (size_t i = 0; i < convs.size(); ++i) {
    h = conv2d_fast(*convs[i], h);
    if (i == last) break;
    if (!norms[i].is_empty()) h = norms[i].forward(h);
    h = apply_activation(options.activation(), h);
  }
  return h;
}

}  // namespace img2img

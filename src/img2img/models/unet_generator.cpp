#include "img2img/models/unet_generator.h"

#include <torch/nn/functional/dropout.h>  // torch::nn::functional::dropout

#include <string>  // std::to_string

#include "img2img/models/activation.h"
#include "img2img/models/fast_conv.h"
#include "img2img/models/norm_layer.h"

namespace img2img {

UnetGeneratorImpl::UnetGeneratorImpl(UnetGeneratorOptions options_) : options(std::move(options_)) { reset(); }

void UnetGeneratorImpl::reset() {
  const auto& c = options.channels();
  const int64_t n = static_cast<int64_t>(c.size());
  TORCH_CHECK(n >= 1, "UnetGenerator needs at least one layer");
  const int64_t k = options.kernel_size(), pad = (k - 1) / 2, out_pad = 2 + 2 * pad - k;
  const bool bias = conv_bias_for(options.norm());
  down.clear(), down_norm.clear(), up.clear(), up_norm.clear(), up_dropout.clear();
  for (int64_t i = 0; i < n; ++i) {
    const int64_t in = i == 0 ? options.in_channels() : c[i - 1];
    const bool outer = i == 0, inner = i == n - 1;
    // Every down conv has a bias only without batch norm, the outermost too (pix2pix: use_bias).
    down.push_back(register_module(
        "down" + std::to_string(i),
        torch::nn::Conv2d(torch::nn::Conv2dOptions(in, c[i], k).stride(2).padding(pad).bias(bias))));
    down_norm.push_back(outer || inner ? torch::nn::AnyModule() : make_norm_layer(options.norm(), c[i]));
    if (!down_norm.back().is_empty()) register_module("down" + std::to_string(i) + "_norm", down_norm.back().ptr());

    const int64_t up_in = inner ? c[i] : 2 * c[i];
    const int64_t up_out = outer ? options.out_channels() : c[i - 1];
    up.push_back(register_module(
        "up" + std::to_string(i),
        torch::nn::ConvTranspose2d(torch::nn::ConvTranspose2dOptions(up_in, up_out, k)
                                       .stride(2)
                                       .padding(pad)
                                       .output_padding(out_pad)
                                       .bias(outer ? true : bias))));
    up_norm.push_back(outer ? torch::nn::AnyModule() : make_norm_layer(options.norm(), up_out));
    if (!up_norm.back().is_empty()) register_module("up" + std::to_string(i) + "_norm", up_norm.back().ptr());
    up_dropout.push_back(options.dropout() > 0 && !outer && !inner && i >= n - 1 - kUnetDropoutLevels);
  }
}

torch::Tensor UnetGeneratorImpl::forward(const torch::Tensor& x) {
  const int64_t n = static_cast<int64_t>(down.size());
  const int64_t multiple = int64_t{1} << n;
  TORCH_CHECK(x.dim() == 4 && x.size(1) == options.in_channels(), "UnetGenerator expects [N, ",
              options.in_channels(), ", H, W], got ", x.sizes());
  TORCH_CHECK(x.size(2) % multiple == 0 && x.size(3) % multiple == 0, "UnetGenerator(layers=", n,
              ") needs H and W divisible by ", multiple, ", got ", x.size(2), "x", x.size(3));
  // Encoder. skips[i] = down-activated output of level i, the input of level i + 1.
  std::vector<torch::Tensor> skips;
  torch::Tensor h = x;  // [N, C_in, H, W]
  for (int64_t i = 0; i < n; ++i) {
    h = conv2d_fast(*down[i], h);  // [N, C_i, H/2^(i+1), W/2^(i+1)]
    if (!down_norm[i].is_empty()) h = down_norm[i].forward(h);
    if (i < n - 1) {
      h = apply_activation(options.down_activation(), h);
      skips.push_back(h);
    }
  }
  // Decoder, innermost first; level i < n-1 sees cat(skip_i, decoder output of level i+1).
  for (int64_t i = n - 1; i >= 0; --i) {
    if (i < n - 1) h = torch::cat({skips[i], h}, 1);  // [N, 2 C_i, ...]
    h = conv_transpose2d_fast(*up[i], apply_activation(options.up_activation(), h));  // [N, C_{i-1}, H/2^i, W/2^i]
    if (i == 0) return torch::tanh(h);                          // [N, C_out, H, W] in [-1, 1]
    if (!up_norm[i].is_empty()) h = up_norm[i].forward(h);
    if (up_dropout[i]) h = torch::nn::functional::dropout(h, torch::nn::functional::DropoutFuncOptions()
                                                                   .p(options.dropout())
                                                                   .training(is_training()));
  }
  return h;  // unreachable
}

}  // namespace img2img

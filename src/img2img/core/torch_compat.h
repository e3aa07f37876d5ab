#pragma once
// The one place for code that differs between Debian's libtorch 1.13 (CPU) and upstream libtorch 2.x.
// Everything else in img2img uses APIs that exist in both.
//
// The LibTorch-only build (IMG2IMG_TORCH_ONLY: models/, train/optim, optimizers, lr_schedule, ssim, runtime,
// sgemm, this file) relies on these APIs, checked against the libtorch 2.x C++ headers / docs
// (pytorch/pytorch main: torch/csrc/api/include/torch/..., aten/src/ATen/...):
// - modules: torch::nn::Module / Cloneable / TORCH_MODULE / AnyModule, Conv2d / ConvTranspose2d (+Options,
//   padding as a variant: explicit_conv_padding above), BatchNorm2d, InstanceNorm2d, functional dropout,
//   conv2d, activations (relu, leaky_relu, elu, selu, gelu, silu, tanh, sigmoid);
// - optimisers: torch::optim::Optimizer (param_groups, state_ keyed by optimizer_state_key above),
//   OptimizerParamState / OptimizerCloneableParamState, AdamOptions, SGD / SGDOptions, OptimizerOptions::set_lr;
// - tensors: at::mm_out, at::from_blob, RECORD_FUNCTION, at::set_num_threads / get_num_threads,
//   torch::manual_seed, NoGradGuard, Tensor::item / data_ptr / unsafeGetTensorImpl, c10::Dict;
// - devices: torch::cuda::is_available / device_count (size_t in 1.13, c10::DeviceIndex in recent 2.x: cast) /
//   synchronize(int64_t device_index = -1) (torch/cuda.h), torch::Device.
// Serialisation: torch::pickle_save / pickle_load, torch::serialize::Input/OutputArchive.

#include <torch/version.h>  // TORCH_VERSION_MAJOR

#include <ATen/core/Dict.h>  // c10::Dict
#include <torch/nn/options/conv.h>  // torch::nn::detail::conv_padding_t
#include <torch/types.h>     // torch::Tensor

#include <sstream>      // std::ostringstream
#include <string>       // std::string
#include <type_traits>  // std::is_same_v
#include <vector>  // std::vector

namespace img2img::compat {

/// True when built against libtorch >= 2.
constexpr bool kTorch2 = TORCH_VERSION_MAJOR >= 2;

/// Serialises a state dict (name -> tensor) in PyTorch's zip pickle format, readable by Python's
/// `torch.load`. Tensors are copied to the CPU first.
std::vector<char> pickle_state_dict(const c10::Dict<std::string, torch::Tensor>& dict);

/// Inverse of pickle_state_dict. Throws c10::Error on malformed data.
c10::Dict<std::string, torch::Tensor> unpickle_state_dict(const std::vector<char>& bytes);

/// The explicit {pad_h, pad_w} of a 2-d convolution's `padding` option, or nullptr when it is
/// torch::kValid / torch::kSame. (The option is a c10::variant up to libtorch 2.1, a std::variant after.)
const torch::ExpandingArray<2>* explicit_conv_padding(const torch::nn::detail::conv_padding_t<2>& padding);

/// Key of torch::optim::Optimizer::state_ for parameter `p`, whose type differs between versions:
/// the TensorImpl address as a string in 1.13 (what c10::guts::to_string writes), the address itself
/// (void*) in 2.x. Call as `optimizer_state_key<decltype(state_)::key_type>(p)` inside a subclass.
template <class Key>
Key optimizer_state_key(const torch::Tensor& p) {
  if constexpr (std::is_same_v<Key, std::string>) {
    std::ostringstream s;
    s << static_cast<const void*>(p.unsafeGetTensorImpl());
    return s.str();
  } else {
    return p.unsafeGetTensorImpl();
  }
}

/// Whether a CUDA device is usable in this build and on this machine.
bool cuda_available();

/// Number of visible CUDA devices (0 in CPU-only builds).
int cuda_device_count();

/// Waits until the queued work of `device` is done (CUDA kernels run asynchronously); a no-op on the CPU.
/// Timings of a CUDA step call it before reading the clock.
void synchronize(const torch::Device& device);

}  // namespace img2img::compat

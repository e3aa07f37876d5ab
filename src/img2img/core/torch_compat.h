#pragma once
// The one place for code that differs between Debian's libtorch 1.13 (CPU) and upstream libtorch 2.x.
// Everything else in img2img uses APIs that exist in both.

#include <torch/version.h>  // TORCH_VERSION_MAJOR

#include <ATen/core/Dict.h>  // c10::Dict
#include <torch/types.h>     // torch::Tensor

#include <string>  // std::string
#include <vector>  // std::vector

namespace img2img::compat {

/// True when built against libtorch >= 2.
constexpr bool kTorch2 = TORCH_VERSION_MAJOR >= 2;

/// Serialises a state dict (name -> tensor) in PyTorch's zip pickle format, readable by Python's
/// `torch.load`. Tensors are copied to the CPU first.
std::vector<char> pickle_state_dict(const c10::Dict<std::string, torch::Tensor>& dict);

/// Inverse of pickle_state_dict. Throws c10::Error on malformed data.
c10::Dict<std::string, torch::Tensor> unpickle_state_dict(const std::vector<char>& bytes);

/// Whether a CUDA device is usable in this build and on this machine.
bool cuda_available();

/// Number of visible CUDA devices (0 in CPU-only builds).
int cuda_device_count();

}  // namespace img2img::compat

#include "img2img/core/torch_compat.h"

#include <torch/cuda.h>           // torch::cuda::is_available, torch::cuda::synchronize
#include <torch/serialize.h>      // torch::pickle_save, torch::pickle_load

namespace img2img::compat {

std::vector<char> pickle_state_dict(const c10::Dict<std::string, torch::Tensor>& dict) {
  c10::Dict<std::string, torch::Tensor> cpu;
  for (const auto& item : dict) cpu.insert(item.key(), item.value().detach().to(torch::kCPU).contiguous());
  return torch::pickle_save(c10::IValue(cpu));
}

c10::Dict<std::string, torch::Tensor> unpickle_state_dict(const std::vector<char>& bytes) {
  const c10::IValue value = torch::pickle_load(bytes);
  TORCH_CHECK(value.isGenericDict(), "expected a pickled dict of tensors, got ", value.tagKind());
  c10::Dict<std::string, torch::Tensor> out;
  for (const auto& item : value.toGenericDict()) {
    TORCH_CHECK(item.key().isString() && item.value().isTensor(),
                "expected a dict of str -> Tensor, got an entry of type ", item.value().tagKind());
    out.insert(item.key().toStringRef(), item.value().toTensor());
  }
  return out;
}

const torch::ExpandingArray<2>* explicit_conv_padding(const torch::nn::detail::conv_padding_t<2>& padding) {
#if TORCH_VERSION_MAJOR > 2 || (TORCH_VERSION_MAJOR == 2 && TORCH_VERSION_MINOR >= 2)
  return std::get_if<torch::ExpandingArray<2>>(&padding);
#else
  return c10::get_if<torch::ExpandingArray<2>>(&padding);
#endif
}

bool cuda_available() { return torch::cuda::is_available(); }

int cuda_device_count() { return static_cast<int>(torch::cuda::device_count()); }

void synchronize(const torch::Device& device) {
  if (device.is_cuda()) torch::cuda::synchronize(device.has_index() ? device.index() : -1);
}

}  // namespace img2img::compat

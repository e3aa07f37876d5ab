#include "img2img/models/norm_layer.h"

#include <torch/nn/modules/batchnorm.h>     // torch::nn::BatchNorm2d
#include <torch/nn/functional/instancenorm.h>  // needed by the module header in 1.13
#include <torch/nn/modules/instancenorm.h>    // torch::nn::InstanceNorm2d

namespace img2img {

torch::nn::AnyModule make_norm_layer(NormKind kind, int64_t channels) {
  switch (kind) {
    case NormKind::kBatch:
      return torch::nn::AnyModule(torch::nn::BatchNorm2d(torch::nn::BatchNorm2dOptions(channels)));
    case NormKind::kInstance:
      return torch::nn::AnyModule(torch::nn::InstanceNorm2d(
          torch::nn::InstanceNorm2dOptions(channels).affine(false).track_running_stats(false)));
    case NormKind::kNone:
      return {};
  }
  TORCH_CHECK(false, "unknown norm ", static_cast<int>(kind));
}

}  // namespace img2img

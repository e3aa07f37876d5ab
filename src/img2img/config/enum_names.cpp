#include "img2img/config/enum_names.h"

namespace img2img {

template <>
const std::vector<std::pair<InputType, std::string>>& enum_names<InputType>() {
  static const std::vector<std::pair<InputType, std::string>> k{
      {InputType::kSinglePaired, "single_paired"},
      {InputType::kMultiplePaired, "multiple_paired"},
      {InputType::kMultipleUnpaired, "multiple_unpaired"},
      {InputType::kCompositePaired, "composite_paired"}};
  return k;
}
template <>
const std::vector<std::pair<Storage, std::string>>& enum_names<Storage>() {
  static const std::vector<std::pair<Storage, std::string>> k{{Storage::kAutomatic, "automatic"},
                                                              {Storage::kDevice, "device"}};
  return k;
}
template <>
const std::vector<std::pair<Activation, std::string>>& enum_names<Activation>() {
  static const std::vector<std::pair<Activation, std::string>> k{
      {Activation::kRelu, "relu"},   {Activation::kLeakyRelu, "leaky_relu"},
      {Activation::kElu, "elu"},     {Activation::kSelu, "selu"},
      {Activation::kGelu, "gelu"},   {Activation::kTanh, "tanh"},
      {Activation::kSigmoid, "sigmoid"}, {Activation::kSilu, "silu"}};
  return k;
}
template <>
const std::vector<std::pair<NormKind, std::string>>& enum_names<NormKind>() {
  static const std::vector<std::pair<NormKind, std::string>> k{
      {NormKind::kBatch, "batch"}, {NormKind::kInstance, "instance"}, {NormKind::kNone, "none"}};
  return k;
}
template <>
const std::vector<std::pair<SchedulerKind, std::string>>& enum_names<SchedulerKind>() {
  static const std::vector<std::pair<SchedulerKind, std::string>> k{
      {SchedulerKind::kCosine, "cosine"}, {SchedulerKind::kLinear, "linear"}, {SchedulerKind::kStep, "step"}};
  return k;
}
template <>
const std::vector<std::pair<InitKind, std::string>>& enum_names<InitKind>() {
  static const std::vector<std::pair<InitKind, std::string>> k{{InitKind::kNormal, "normal"},
                                                               {InitKind::kOrthogonal, "orthogonal"},
                                                               {InitKind::kXavier, "xavier"},
                                                               {InitKind::kKaiming, "kaiming"}};
  return k;
}
template <>
const std::vector<std::pair<OptimizerKind, std::string>>& enum_names<OptimizerKind>() {
  static const std::vector<std::pair<OptimizerKind, std::string>> k{{OptimizerKind::kAdam, "adam"},
                                                                    {OptimizerKind::kAdadelta, "adadelta"},
                                                                    {OptimizerKind::kSgd, "sgd"},
                                                                    {OptimizerKind::kAsgd, "asgd"}};
  return k;
}
template <>
const std::vector<std::pair<GanLoss, std::string>>& enum_names<GanLoss>() {
  static const std::vector<std::pair<GanLoss, std::string>> k{{GanLoss::kVanilla, "vanilla"},
                                                              {GanLoss::kLsgan, "lsgan"}};
  return k;
}
template <>
const std::vector<std::pair<NanPolicy, std::string>>& enum_names<NanPolicy>() {
  static const std::vector<std::pair<NanPolicy, std::string>> k{{NanPolicy::kStop, "stop"},
                                                                {NanPolicy::kSkip, "skip"}};
  return k;
}
template <>
const std::vector<std::pair<PlotType, std::string>>& enum_names<PlotType>() {
  static const std::vector<std::pair<PlotType, std::string>> k{
      {PlotType::kDisabled, "disabled"}, {PlotType::kCsv, "csv"}, {PlotType::kImage, "image"}};
  return k;
}
template <>
const std::vector<std::pair<DistributedBackend, std::string>>& enum_names<DistributedBackend>() {
  static const std::vector<std::pair<DistributedBackend, std::string>> k{
      {DistributedBackend::kAuto, "auto"}, {DistributedBackend::kGloo, "gloo"}, {DistributedBackend::kNccl, "nccl"}};
  return k;
}

}  // namespace img2img

#pragma once
// Spellings of every configuration enum, shared by the TOML reader/writer, --help and error messages.

#include <string>   // std::string
#include <utility>  // std::pair
#include <vector>   // std::vector

#include "img2img/config/run_config.h"

namespace img2img {

/// The config spelling of each enum value, in documentation order. Specialised per enum below.
template <class E>
const std::vector<std::pair<E, std::string>>& enum_names();

template <> const std::vector<std::pair<InputType, std::string>>& enum_names<InputType>();
template <> const std::vector<std::pair<Storage, std::string>>& enum_names<Storage>();
template <> const std::vector<std::pair<Activation, std::string>>& enum_names<Activation>();
template <> const std::vector<std::pair<NormKind, std::string>>& enum_names<NormKind>();
template <> const std::vector<std::pair<SchedulerKind, std::string>>& enum_names<SchedulerKind>();
template <> const std::vector<std::pair<InitKind, std::string>>& enum_names<InitKind>();
template <> const std::vector<std::pair<OptimizerKind, std::string>>& enum_names<OptimizerKind>();
template <> const std::vector<std::pair<GanLoss, std::string>>& enum_names<GanLoss>();
template <> const std::vector<std::pair<NanPolicy, std::string>>& enum_names<NanPolicy>();
template <> const std::vector<std::pair<PlotType, std::string>>& enum_names<PlotType>();
template <> const std::vector<std::pair<DistributedBackend, std::string>>& enum_names<DistributedBackend>();

/// Config spelling of `value`, e.g. Activation::kLeakyRelu -> "leaky_relu".
template <class E>
std::string to_string(E value) {
  for (const auto& [v, name] : enum_names<E>())
    if (v == value) return name;
  return "?";
}

/// "a, b, c": the valid spellings, for error messages and --help.
template <class E>
std::string enum_choices() {
  std::string out;
  for (const auto& [v, name] : enum_names<E>()) out += (out.empty() ? "" : ", ") + name;
  return out;
}

}  // namespace img2img

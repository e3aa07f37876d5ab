#include "img2img/run/checkpoint.h"

#include <c10/util/Exception.h>   // c10::Error
#include <fmt/format.h>           // fmt::format
#include <nlohmann/json.hpp>      // nlohmann::json

#include <algorithm>  // std::max_element
#include <string_view>  // std::string_view

#include "img2img/config/config_keys.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/core/torch_compat.h"

namespace img2img {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {
constexpr const char* kFormat = "img2img-checkpoint";
constexpr int kFormatVersion = 1;

std::string shape_string(c10::IntArrayRef sizes) {
  std::string s = "[";
  for (size_t i = 0; i < sizes.size(); ++i) s += (i ? ", " : "") + std::to_string(sizes[i]);
  return s + "]";
}

std::vector<std::pair<std::string, torch::Tensor>> state_of(const torch::nn::Module& module) {
  std::vector<std::pair<std::string, torch::Tensor>> out;
  for (const auto& p : module.named_parameters(/*recurse=*/true)) out.emplace_back(p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/true)) out.emplace_back(b.key(), b.value());
  return out;
}
}  // namespace

fs::path checkpoint_meta_path(const fs::path& weights) {
  fs::path p = weights;
  return p.extension() == ".pt" ? p.replace_extension(".json") : fs::path(weights.string() + ".json");
}

void save_checkpoint(const fs::path& weights, const torch::nn::Module& module, const CheckpointMeta& meta) {
  c10::Dict<std::string, torch::Tensor> dict;
  json shapes = json::object();
  for (const auto& [name, t] : state_of(module)) {
    dict.insert(name, t);
    shapes[name] = t.sizes().vec();
  }
  const std::vector<char> bytes = compat::pickle_state_dict(dict);
  json j{{"format", kFormat},
         {"version", kFormatVersion},
         {"network", meta.network},
         {"index", meta.index},
         {"iteration", meta.iteration},
         {"weights", weights.filename().string()},
         {"input_depth", to_string(meta.input_depth)},
         {"reference_depth", to_string(meta.reference_depth)},
         {"config", meta.config_toml},
         {"run_dir", meta.run_dir},
         {"parameters", shapes}};
  if (meta.world_size > 0) j["world_size"] = meta.world_size;
  if (meta.average_decay > 0)  // the trained weights are in the training state (X.optim.pt)
    j["weight_average"] = {{"decay", meta.average_decay}, {"steps", meta.average_steps}};
  // Weights first, metadata second: metadata that exists always describes complete weights.
  write_file_atomic(weights, std::string(bytes.begin(), bytes.end()));
  write_file_atomic(checkpoint_meta_path(weights), j.dump(2) + "\n");
}

CheckpointMeta read_checkpoint_meta(const fs::path& path_in, fs::path* weights_out, int64_t index) {
  fs::path path = path_in;
  std::error_code ec;
  if (fs::is_directory(path, ec)) {
    // A run folder: its newest generator checkpoint of `index` (highest iteration) anywhere below it.
    const int64_t wanted = index < 0 ? 0 : index;
    fs::path best;
    int64_t best_it = -1;
    for (const auto& e : fs::recursive_directory_iterator(path, ec)) {
      if (e.path().extension() != ".json") continue;
      try {
        const json j = json::parse(read_file(e.path()));
        if (j.value("format", "") == kFormat && j.value("network", "") == "generator" && j.value("index", int64_t{-1}) == wanted &&
            j.value("iteration", -1) > best_it)
          best_it = j["iteration"].get<int64_t>(), best = e.path();
      } catch (const std::exception&) {
      }
    }
    if (best.empty())
      throw CheckpointError(fmt::format("folder '{}' holds no img2img generator checkpoint of index {} (*.json next "
                                        "to *.pt). Pass the checkpoint's .pt file or a run folder that has one{}.",
                                        path.string(), wanted,
                                        wanted == 0 ? "" : " (index 1 exists only for unpaired runs)"));
    path = best;
  }
  if (!fs::exists(path, ec))
    throw CheckpointError(fmt::format("checkpoint '{}' does not exist. Pass a generator .pt written by `img2img "
                                      "train` (or its .json), or a run folder.",
                                      path.string()));
  const fs::path meta_path = path.extension() == ".json" ? path : checkpoint_meta_path(path);
  const std::string name = path.filename().string();
  constexpr std::string_view kStateSuffix = ".optim.pt";
  if (!fs::exists(meta_path) && name.size() > kStateSuffix.size() &&
      name.compare(name.size() - kStateSuffix.size(), kStateSuffix.size(), kStateSuffix) == 0) {
    const fs::path weights = path.parent_path() / (name.substr(0, name.size() - kStateSuffix.size()) + ".pt");
    throw CheckpointError(fmt::format("'{}' is a training state (optimiser, random state and the trained weights, "
                                      "for train --resume), not a checkpoint. Pass its checkpoint '{}' instead "
                                      "(with --weights trained for the trained weights this file holds).",
                                      path.string(), weights.string()));
  }
  if (!fs::exists(meta_path))
    throw CheckpointError(fmt::format("checkpoint '{}' has no metadata file '{}' beside it; expected an img2img "
                                      "checkpoint (X.pt + X.json written by `img2img train`).",
                                      path.string(), meta_path.string()));
  json j;
  const std::string text = read_file(meta_path);
  try {
    j = json::parse(text);
  } catch (const json::parse_error& e) {
    // nlohmann's own message quotes up to hundreds of characters of the file; the position is enough.
    const std::string where = e.byte > text.size() ? fmt::format("it ends too early, after {} bytes", text.size())
                                                    : fmt::format("syntax error at byte {} of {}", e.byte, text.size());
    throw CheckpointError(fmt::format("checkpoint metadata '{}' is not valid JSON ({}): the file is truncated or "
                                      "damaged. Use another checkpoint of the run, or train again.",
                                      meta_path.string(), where));
  }
  if (j.value("format", "") != kFormat)
    throw CheckpointError(fmt::format("'{}' is not an img2img checkpoint metadata file.", meta_path.string()));
  CheckpointMeta meta;
  try {
    meta.network = j.at("network").get<std::string>();
    meta.index = j.at("index").get<int64_t>();
    meta.iteration = j.at("iteration").get<int64_t>();
    meta.config_toml = j.at("config").get<std::string>();
    meta.input_depth = parse_pixel_depth(j.at("input_depth").get<std::string>());
    meta.reference_depth = parse_pixel_depth(j.at("reference_depth").get<std::string>());
    meta.run_dir = j.value("run_dir", std::string());
    meta.world_size = j.value("world_size", int64_t{0});
    if (j.contains("weight_average")) {
      meta.average_decay = j["weight_average"].at("decay").get<double>();
      meta.average_steps = j["weight_average"].at("steps").get<int64_t>();
    }
    // The weights file given wins over the name recorded at save time (the pair may have been renamed).
    if (weights_out != nullptr)
      *weights_out = path.extension() == ".pt" && fs::is_regular_file(path)
                         ? path
                         : meta_path.parent_path() / j.at("weights").get<std::string>();
  } catch (const std::exception& e) {
    throw CheckpointError(fmt::format("checkpoint metadata '{}' is incomplete: {}", meta_path.string(), e.what()));
  }
  if (index >= 0 && meta.index != index)
    throw CheckpointError(fmt::format("checkpoint '{}' is {} {}, not index {}; pass the file of index {} or the run "
                                      "folder.",
                                      meta_path.string(), meta.network, meta.index, index, index));
  return meta;
}

void load_weights(const fs::path& weights, torch::nn::Module& module) {
  std::string bytes;
  try {
    bytes = read_file(weights);
  } catch (const Error&) {
    throw CheckpointError(fmt::format("cannot open checkpoint weights '{}'.", weights.string()));
  }
  c10::Dict<std::string, torch::Tensor> dict;
  try {
    dict = compat::unpickle_state_dict(std::vector<char>(bytes.begin(), bytes.end()));
  } catch (const c10::Error& e) {
    throw CheckpointError(fmt::format("checkpoint weights '{}' are truncated or not a PyTorch state dict ({}).",
                                      weights.string(), e.what_without_backtrace()));
  }
  torch::NoGradGuard no_grad;
  std::vector<std::string> problems;
  size_t matched = 0;
  for (auto& [name, t] : state_of(module)) {
    if (!dict.contains(name)) {
      problems.push_back(fmt::format("missing '{}' (expected shape {})", name, shape_string(t.sizes())));
      continue;
    }
    const torch::Tensor& src = dict.at(name);
    if (src.sizes() != t.sizes()) {
      problems.push_back(fmt::format("'{}' has shape {} in the file but the model expects {}", name,
                                     shape_string(src.sizes()), shape_string(t.sizes())));
      continue;
    }
    t.copy_(src);
    ++matched;
  }
  if (dict.size() > matched + problems.size())
    problems.push_back(fmt::format("{} tensors in the file are not in the model", dict.size() - matched));
  if (!problems.empty()) {
    std::string msg = fmt::format("checkpoint '{}' does not match the model architecture:", weights.string());
    for (size_t i = 0; i < problems.size() && i < 8; ++i) msg += "\n  - " + problems[i];
    if (problems.size() > 8) msg += fmt::format("\n  - ... ({} problems in all)", problems.size());
    msg += "\nUse the checkpoint's own configuration (it is read from the .json beside it) and do not override "
           "architecture keys.";
    throw CheckpointError(msg);
  }
}

RunConfig checkpoint_config(const CheckpointMeta& meta) {
  return apply_config(parse_config_text(meta.config_toml, "checkpoint config"));
}

}  // namespace img2img

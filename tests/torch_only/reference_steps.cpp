#include "torch_only/reference_steps.h"

#include <ATen/Parallel.h>  // at::get_num_threads, at::set_num_threads
#include <torch/utils.h>    // torch::manual_seed

#include <cstdint>    // int64_t, uint64_t
#include <cstring>    // std::memcmp
#include <fstream>    // std::ifstream, std::ofstream
#include <stdexcept>  // std::runtime_error

#include "img2img/models/cycle_gan_model.h"
#include "img2img/models/factory.h"
#include "img2img/models/pix2pix_model.h"
#include "img2img/train/optimizers.h"

namespace img2img::torch_only {

namespace {

void append(NamedTensors& out, const std::string& prefix, const torch::nn::Module& m) {
  for (const auto& p : m.named_parameters()) out.emplace_back(prefix + p.key(), p.value().detach().to(torch::kCPU).clone());
  for (const auto& b : m.named_buffers()) out.emplace_back(prefix + "buffer." + b.key(), b.value().to(torch::kCPU).clone());
}

}  // namespace

RunConfig reference_config() {
  RunConfig c;
  c.data.image_size = 32, c.data.batch_size = 2;
  c.generator.layers = 5, c.generator.initial_layer_size = 8;
  c.discriminator.initial_layer_size = 8;
  return c;
}

NamedTensors reference_step_weights(const torch::Device& device, int steps) {
  const int threads = at::get_num_threads();
  at::set_num_threads(1);
  const RunConfig c = reference_config();
  const int64_t n = c.data.batch_size, ch = c.data.channel_count, s = c.data.image_size;
  torch::manual_seed(1);
  const torch::Tensor a = (torch::rand({n, ch, s, s}) * 2 - 1).to(device);
  const torch::Tensor b = (torch::rand({n, ch, s, s}) * 2 - 1).to(device);
  NamedTensors out;
  {
    torch::manual_seed(0);
    Pix2PixModel model(pix2pix_options(c), device);
    ModelOptimizers optimizers(model, c.train);  // the training loop's gradient-application point
    for (int i = 0; i < steps; ++i) model.train_step({a, b}, optimizers);
    append(out, "pix2pix.generator.", *model.generator);
    append(out, "pix2pix.discriminator.", *model.discriminator);
  }
  {
    RunConfig unpaired = c;
    unpaired.data.input_type = InputType::kMultipleUnpaired;  // what cycle_gan_options requires
    torch::manual_seed(0);
    CycleGanModel model(cycle_gan_options(unpaired), device);
    ModelOptimizers optimizers(model, c.train);
    for (int i = 0; i < steps; ++i) model.train_step({a, b}, optimizers);
    for (int k = 0; k < 2; ++k) {
      append(out, "cycle_gan.generator" + std::to_string(k) + ".", *model.generators[k]);
      append(out, "cycle_gan.discriminator" + std::to_string(k) + ".", *model.discriminators[k]);
    }
  }
  at::set_num_threads(threads);
  return out;
}

void write_weights(const std::string& path, const NamedTensors& weights) {
  std::ofstream out(path, std::ios::binary);
  const auto put = [&](uint64_t v) { out.write(reinterpret_cast<const char*>(&v), sizeof v); };
  put(weights.size());
  for (const auto& [name, t] : weights) {
    put(name.size());
    out.write(name.data(), static_cast<std::streamsize>(name.size()));
    put(static_cast<uint64_t>(t.dim()));
    for (int64_t d : t.sizes()) put(static_cast<uint64_t>(d));
    const torch::Tensor f = t.to(torch::kFloat32).contiguous();
    out.write(static_cast<const char*>(f.data_ptr()), static_cast<std::streamsize>(f.numel() * sizeof(float)));
  }
  if (!out.flush()) throw std::runtime_error("cannot write the weights file " + path);
}

NamedTensors read_weights(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open the weights file " + path);
  const auto get = [&] {
    uint64_t v = 0;
    if (!in.read(reinterpret_cast<char*>(&v), sizeof v)) throw std::runtime_error("truncated weights file " + path);
    return v;
  };
  NamedTensors weights(get());
  for (auto& [name, t] : weights) {
    name.resize(get());
    in.read(name.data(), static_cast<std::streamsize>(name.size()));
    std::vector<int64_t> sizes(get());
    for (auto& d : sizes) d = static_cast<int64_t>(get());
    t = torch::empty(sizes, torch::kFloat32);
    if (!in.read(static_cast<char*>(t.data_ptr()), static_cast<std::streamsize>(t.numel() * sizeof(float))))
      throw std::runtime_error("truncated weights file " + path);
  }
  return weights;
}

std::string compare_bitwise(const NamedTensors& a, const NamedTensors& b) {
  if (a.size() != b.size())
    return std::to_string(a.size()) + " tensors vs " + std::to_string(b.size());
  for (size_t i = 0; i < a.size(); ++i) {
    if (a[i].first != b[i].first) return "tensor " + std::to_string(i) + ": " + a[i].first + " vs " + b[i].first;
    const torch::Tensor x = a[i].second.to(torch::kFloat32).contiguous(), y = b[i].second.to(torch::kFloat32).contiguous();
    if (!x.sizes().equals(y.sizes())) return a[i].first + ": different shapes";
    if (std::memcmp(x.data_ptr(), y.data_ptr(), x.numel() * sizeof(float)) != 0)
      return a[i].first + ": values differ (max |diff| " + std::to_string((x - y).abs().max().item<double>()) + ")";
  }
  return "";
}

}  // namespace img2img::torch_only

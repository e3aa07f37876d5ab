// The step benchmark of the LibTorch-only build (IMG2IMG_TORCH_ONLY): seconds per pix2pix training step
// (through ModelOptimizers, as the training loop) at the standard cases of train_step_bench.cpp:
//   (a) 256 px, batch 1, unet_256 (8 layers, 64 initial, cap 512) + basic PatchGAN;
//   (b) 64 px, batch 4, the demo model (6 layers, 32 initial).
// Device: environment variable DEVICE (cpu, cuda, cuda:N; default cpu). Steps per case: STEPS (default 5),
// after one warm-up step; CUDA work is synchronised before each clock read. Prints one line per case.

#include <ATen/Parallel.h>  // at::get_num_threads
#include <torch/utils.h>    // torch::manual_seed
#include <torch/version.h>  // TORCH_VERSION

#include <chrono>     // std::chrono
#include <cstdio>     // std::printf
#include <cstdlib>    // std::getenv, std::atoi
#include <exception>  // std::exception
#include <string>     // std::string

#include "img2img/config/run_config.h"
#include "img2img/core/runtime.h"
#include "img2img/core/sgemm.h"
#include "img2img/core/torch_compat.h"
#include "img2img/models/factory.h"
#include "img2img/models/pix2pix_model.h"
#include "img2img/train/optimizers.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

void bench_case(const char* name, const img2img::RunConfig& config, const torch::Device& device, int steps) {
  torch::manual_seed(0);
  img2img::Pix2PixModel model(img2img::pix2pix_options(config), device);
  img2img::ModelOptimizers optimizers(model, config.train);
  const int64_t n = config.data.batch_size, c = config.data.channel_count, s = config.data.image_size;
  const torch::Tensor a = (torch::rand({n, c, s, s}) * 2 - 1).to(device);
  const torch::Tensor b = (torch::rand({n, c, s, s}) * 2 - 1).to(device);
  auto t = std::chrono::steady_clock::now();
  model.train_step({a, b}, optimizers);  // warm-up: allocations, kernel selection
  img2img::compat::synchronize(device);
  const double warm_up = seconds_since(t);
  t = std::chrono::steady_clock::now();
  for (int i = 0; i < steps; ++i) model.train_step({a, b}, optimizers);
  img2img::compat::synchronize(device);
  const double per_step = seconds_since(t) / steps;
  std::printf("bench %s: %.4f s/step, %.1f img/s (%d steps after a %.2f s warm-up step)\n", name, per_step,
              n / per_step, steps, warm_up);
}

}  // namespace

int main() {
  try {
    const char* env_device = std::getenv("DEVICE");
    const char* env_steps = std::getenv("STEPS");
    const torch::Device device = img2img::resolve_device(env_device && *env_device ? env_device : "cpu");
    const int steps = env_steps && std::atoi(env_steps) > 0 ? std::atoi(env_steps) : 5;
    img2img::configure_runtime(img2img::DeviceConfig{}.cpu_threads);
    std::printf("LibTorch %s, device %s, %d CPU threads, SGEMM %s\n", TORCH_VERSION, device.str().c_str(),
                at::get_num_threads(), img2img::sgemm_has_dnnl() ? "oneDNN" : "at::mm");

    img2img::RunConfig a;  // (a) pix2pix unet_256
    a.data.image_size = 256, a.data.batch_size = 1, a.generator.max_layer_size = 512;
    bench_case("(a) 256 px, batch 1, unet_256", a, device, steps);

    img2img::RunConfig b;  // (b) the demo model
    b.data.image_size = 64, b.data.batch_size = 4, b.generator.layers = 6, b.generator.initial_layer_size = 32;
    bench_case("(b) 64 px, batch 4, demo model (6 layers, 32 initial)", b, device, steps);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

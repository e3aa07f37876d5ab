// The test runner of the LibTorch-only build (IMG2IMG_TORCH_ONLY): networks, losses, optimisers, schedules
// and both models' training steps on the device named by the environment variable DEVICE (cpu, cuda,
// cuda:N; default cpu). A tiny runner rather than GoogleTest: the GPU image has no GoogleTest package
// and no network, and the project vendors no GoogleTest source to build from.
//   img2img_torch_tests                          run every check, one line each, exit 1 on any failure
//   img2img_torch_tests --write-weights FILE     also write the CPU reference weights (reference_steps.h)

#include <ATen/Parallel.h>  // at::get_num_threads
#include <torch/utils.h>    // torch::manual_seed
#include <torch/version.h>  // TORCH_VERSION

#include <chrono>     // std::chrono
#include <cmath>      // std::isfinite
#include <cstdlib>    // std::getenv
#include <exception>  // std::exception
#include <functional> // std::function
#include <iostream>   // std::cout
#include <string>     // std::string
#include <vector>     // std::vector

#include "img2img/core/runtime.h"
#include "img2img/core/sgemm.h"
#include "img2img/core/torch_compat.h"
#include "img2img/metrics/ssim.h"
#include "img2img/models/cycle_gan_model.h"
#include "img2img/models/factory.h"
#include "img2img/models/gan_loss.h"
#include "img2img/models/pix2pix_model.h"
#include "img2img/train/lr_schedule.h"
#include "img2img/train/optimizers.h"
#include "torch_only/reference_steps.h"

namespace {

using namespace img2img;
using torch_only::reference_config;

struct Failure {
  std::string what;
};

void check(bool ok, const std::string& what) {
  if (!ok) throw Failure{what};
}

std::string sizes(const torch::Tensor& t) {
  std::string s = "[";
  for (int64_t i = 0; i < t.dim(); ++i) s += (i ? ", " : "") + std::to_string(t.size(i));
  return s + "]";
}

void check_on(const torch::Tensor& t, const torch::Device& device, const std::string& what) {
  check(t.device().type() == device.type(), what + " is on " + t.device().str() + ", expected " + device.str());
}

bool all_finite(const torch::Tensor& t) { return torch::isfinite(t).all().item<bool>(); }

void check_step(GanModel& model, const std::vector<torch::Tensor>& batch, const torch::Device& device) {
  ModelOptimizers optimizers(model, reference_config().train);
  std::vector<torch::Tensor> before;
  for (const auto& g : model.parameter_groups())
    for (const auto& p : g.parameters) {
      check_on(p, device, "a parameter");
      before.push_back(p.detach().clone());
    }
  for (int i = 0; i < 2; ++i) {
    const std::vector<double> stats = model.train_step(batch, optimizers);
    check(stats.size() == model.statistics().size(), "train_step returned " + std::to_string(stats.size()) +
                                                         " statistics, statistics() names " +
                                                         std::to_string(model.statistics().size()));
    for (size_t k = 0; k < stats.size(); ++k)
      check(std::isfinite(stats[k]) || model.statistics()[k].key.find("ssim") != std::string::npos,
            "statistic " + model.statistics()[k].key + " = " + std::to_string(stats[k]));
  }
  size_t i = 0, changed = 0;
  for (const auto& g : model.parameter_groups())
    for (const auto& p : g.parameters) {
      check(all_finite(p), "a parameter of " + g.network + " is not finite");
      changed += !torch::equal(p.detach(), before[i++]);
    }
  check(changed * 2 > i, "only " + std::to_string(changed) + " of " + std::to_string(i) + " parameters changed");
}

using Test = std::pair<std::string, std::function<void(const torch::Device&)>>;

std::vector<Test> tests() {
  const RunConfig c = reference_config();
  const int64_t n = c.data.batch_size, ch = c.data.channel_count, s = c.data.image_size;
  const auto batch = [=](const torch::Device& d) {
    return (torch::rand({n, ch, s, s}) * 2 - 1).to(d);
  };
  return {
      {"unet_generator_forward",
       [=](const torch::Device& d) {
         torch::manual_seed(0);
         UnetGenerator g(generator_options(c));
         g->to(d);
         const torch::Tensor y = g->forward(batch(d));  // [N, C, S, S] in [-1, 1]
         check_on(y, d, "the output");
         check(y.sizes().equals({n, ch, s, s}), "output " + sizes(y));
         check(all_finite(y) && y.abs().max().item<double>() <= 1.0, "output not finite or outside [-1, 1]");
       }},
      {"patch_discriminator_forward",
       [=](const torch::Device& d) {
         torch::manual_seed(0);
         PatchDiscriminator D(discriminator_options(c));
         D->to(d);
         const torch::Tensor y = D->forward(torch::cat({batch(d), batch(d)}, 1));
         check_on(y, d, "the output");
         check(y.dim() == 4 && y.size(0) == n && y.size(1) == 1 && all_finite(y), "output " + sizes(y));
       }},
      {"gan_losses",
       [](const torch::Device& d) {
         const torch::Tensor p = torch::randn({2, 1, 4, 4}).to(d);
         for (GanLoss kind : {GanLoss::kVanilla, GanLoss::kLsgan}) {
           const torch::Tensor real = gan_loss(kind, p, true), fake = gan_loss(kind, p, false);
           check_on(real, d, "the loss");
           check(real.numel() == 1 && all_finite(real) && all_finite(fake) && real.item<double>() >= 0,
                 "loss not a finite non-negative scalar");
         }
       }},
      {"optimizers_step_on_device",
       [](const torch::Device& d) {
         for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kSgd, OptimizerKind::kAdadelta,
                                    OptimizerKind::kAsgd}) {
           TrainConfig t;
           t.optimizer = kind, t.learning_rate = kind == OptimizerKind::kAdadelta ? 1.0 : 0.01;
           torch::Tensor p = torch::ones({3, 4}, torch::TensorOptions().device(d).requires_grad(true));
           auto opt = make_optimizer(t, {p});
           for (int i = 0; i < 3; ++i) {
             opt->zero_grad();
             (p * p).sum().backward();
             opt->step();
           }
           check_on(p, d, "the parameter");
           const double v = p.detach().max().item<double>();
           check(std::isfinite(v) && v < 1.0, "optimizer " + std::to_string(static_cast<int>(kind)) +
                                                  " did not decrease x^2: max " + std::to_string(v));
         }
       }},
      {"learning_rate_schedules",
       [](const torch::Device&) {
         TrainConfig t;
         t.learning_rate = 0.1, t.max_iterations = 10;
         for (SchedulerKind kind : {SchedulerKind::kCosine, SchedulerKind::kLinear, SchedulerKind::kStep}) {
           t.scheduler = kind, t.linear_decay = 5, t.step_size = 3, t.gamma = 0.5;
           check(scheduled_learning_rate(t, 0) == 0.1, "first rate is not train.learning_rate");
           const double last = scheduled_learning_rate(t, 9);
           check(last >= 0 && last < 0.1, "last rate " + std::to_string(last));
         }
       }},
      {"ssim_on_device",
       [=](const torch::Device& d) {
         const torch::Tensor x = batch(d);
         check(std::abs(ssim_mean(x, x) - 1.0) < 1e-9, "ssim(x, x) != 1");
         check(ssim_mean(x, batch(d)) < 0.5, "ssim of two independent noise images not small");
       }},
      {"pix2pix_train_step",
       [=](const torch::Device& d) {
         torch::manual_seed(0);
         Pix2PixModel model(pix2pix_options(c), d);
         check_step(model, {batch(d), batch(d)}, d);
       }},
      {"cycle_gan_train_step",
       [=](const torch::Device& d) {
         torch::manual_seed(0);
         RunConfig unpaired = c;
         unpaired.data.input_type = InputType::kMultipleUnpaired;
         CycleGanModel model(cycle_gan_options(unpaired), d);
         check_step(model, {batch(d), batch(d)}, d);
       }},
      {"device_step_matches_cpu",  // CUDA vs CPU: same code, float rounding apart
       [](const torch::Device& d) {
         if (d.is_cpu()) return;
         const torch_only::NamedTensors on_device = torch_only::reference_step_weights(d, 2);
         const torch_only::NamedTensors on_cpu = torch_only::reference_step_weights(torch::kCPU, 2);
         check(on_device.size() == on_cpu.size(), "different tensor counts");
         double worst = 0;
         std::string where;
         for (size_t i = 0; i < on_cpu.size(); ++i) {
           const double diff = (on_device[i].second.to(torch::kFloat64) - on_cpu[i].second.to(torch::kFloat64))
                                   .abs().max().item<double>();
           if (diff > worst) worst = diff, where = on_cpu[i].first;
         }
         std::cout << "    max |cuda - cpu| after 2 steps: " << worst << " (" << where << ")\n";
         check(worst < 1e-2, "weights differ by " + std::to_string(worst) + " at " + where);
       }},
  };
}

double seconds_since(std::chrono::steady_clock::time_point t) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
}

}  // namespace

int main(int argc, char** argv) {
  std::string weights_path;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--write-weights" && i + 1 < argc) {
      weights_path = argv[++i];
    } else {
      std::cerr << "usage: img2img_torch_tests [--write-weights FILE]   (device: environment variable DEVICE)\n";
      return 2;
    }
  }
  const char* env = std::getenv("DEVICE");
  torch::Device device(torch::kCPU);
  try {
    device = resolve_device(env && *env ? env : "cpu");
  } catch (const std::exception& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 2;
  }
  std::cout << "LibTorch " << TORCH_VERSION << ", device " << device.str() << ", "
            << at::get_num_threads() << (at::get_num_threads() == 1 ? " CPU thread" : " CPU threads") << ", SGEMM " << (sgemm_has_dnnl() ? "oneDNN" : "at::mm") << "\n";
  int failed = 0, passed = 0;
  for (const auto& [name, run] : tests()) {
    const auto t = std::chrono::steady_clock::now();
    try {
      run(device);
      compat::synchronize(device);
      ++passed;
      std::cout << "PASS " << name << " (" << seconds_since(t) << " s)\n";
    } catch (const Failure& f) {
      ++failed;
      std::cout << "FAIL " << name << ": " << f.what << "\n";
    } catch (const std::exception& e) {
      ++failed;
      std::cout << "FAIL " << name << ": exception: " << e.what() << "\n";
    }
  }
  if (!weights_path.empty()) {
    torch_only::write_weights(weights_path, torch_only::reference_step_weights(torch::kCPU, 2));
    std::cout << "wrote the CPU reference weights to " << weights_path << "\n";
  }
  std::cout << (failed ? "FAILED" : "OK") << ": " << passed << " passed, " << failed << " failed\n";
  return failed ? 1 : 0;
}

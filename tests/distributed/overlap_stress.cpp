// Stress of the overlapped gradient all-reduce (GradientReducer), meant for a sanitizer build: one rank of
// a group (launch variables as for img2img train) trains a small pix2pix through ModelOptimizers with
// 20 KB buckets, a non-finite loss on one rank every 7th step (abandon_step: the peers fail it too),
// stops after the current step on SIGINT (as img2img train; the ranks agree on it), and at the end
// leaves a step armed with its buckets in flight, so the reducer is destroyed mid-step. Not a ctest
// test; docs/distributed.md ("Overlap") shows how to run two ranks of it under AddressSanitizer.
#include <signal.h>  // sigaction

#include <atomic>   // std::atomic
#include <cmath>    // std::nanf
#include <cstdio>   // std::printf
#include <cstdlib>  // std::atoi, std::getenv

#include "img2img/config/run_config.h"
#include "img2img/core/process_group.h"
#include "img2img/models/factory.h"
#include "img2img/models/pix2pix_model.h"
#include "img2img/train/optimizers.h"

std::atomic<bool> g_stop{false};
extern "C" void on_int(int) { g_stop = true; }

int main() {
  struct sigaction a {};
  a.sa_handler = on_int;
  sigemptyset(&a.sa_mask);
  a.sa_flags = SA_RESTART;
  sigaction(SIGINT, &a, nullptr);
  try {
    const auto env = img2img::launch_env();
    img2img::GroupOptions go;
    go.timeout_seconds = 30;
    auto group = img2img::join_process_group(*env, go);
    img2img::RunConfig c;
    c.data.image_size = 32;
    c.generator.layers = 5, c.generator.initial_layer_size = 8;
    c.discriminator.layers = 2, c.discriminator.initial_layer_size = 8;
    torch::manual_seed(1);
    img2img::Pix2PixModel model(img2img::pix2pix_options(c), torch::kCPU);
    img2img::GradientSyncOptions sync;
    sync.buckets.bucket_bytes = 20000, sync.buckets.first_bucket_bytes = 5000;
    const int steps = std::atoi(std::getenv("STEPS") ? std::getenv("STEPS") : "40");
    int done = 0, poisoned = 0;
    {
      img2img::ModelOptimizers opt(model, c.train, group.get(), sync);
      for (int s = 0; s < steps; ++s) {
        torch::manual_seed(100 + s * 2 + group->rank());
        std::vector<torch::Tensor> batch{torch::rand({2, 3, 32, 32}) * 2 - 1, torch::rand({2, 3, 32, 32}) * 2 - 1};
        if (s % 7 == 3) batch[group->rank()][0][0][0][0] = std::nanf("");  // a non-finite loss on one rank
        try {
          model.train_step(batch, opt);
        } catch (const img2img::NonFiniteLossError&) {
          opt.abandon_step();
          ++poisoned;
        }
        ++done;
        if (group->sum({g_stop ? 1.0 : 0.0})[0] > 0) break;
      }
      // Mid-step end: zero_grad arms, backward sends buckets, no step: the destructor must wait.
      opt.zero_grad(0);
      torch::Tensor x = torch::rand({2, 3, 32, 32});
      model.generator(x).sum().backward();
    }
    std::printf("rank %d: %d steps, %d failed with a non-finite loss%s\n", group->rank(), done, poisoned,
                g_stop ? ", stopped by SIGINT" : "");
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

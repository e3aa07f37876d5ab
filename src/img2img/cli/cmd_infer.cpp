#include <fmt/format.h>  // fmt::format

#include <signal.h>  // pthread_sigmask, sigwait, SIGINT, SIGTERM
#include <unistd.h>  // _exit

#include <atomic>    // std::atomic
#include <cstdio>    // std::fprintf (std::cerr is muted while a command runs: main.cpp)
#include <iostream>  // std::cout
#include <thread>    // std::thread

#include "img2img/cli/commands.h"
#include "img2img/cli/flag_values.h"
#include "img2img/infer/inference.h"

namespace img2img::cli {

namespace {
struct InferArgs {
  std::string checkpoint, input, output, device = "auto", mode = "resize", weights = "average";
  int64_t index = -1;  // -1: a run folder's generator 0, a file's own index
};

// Exit code when a second SIGINT/SIGTERM ends infer at once (as train's abort, cmd_train.cpp).
constexpr int kExitAborted = 3;

std::atomic<bool> g_stop_requested{false};
std::atomic<int> g_stop_signal{0};

// SIGINT/SIGTERM during infer: the first lets the image being written finish and stops before the next
// (exit 128 + signal, the written images listed), a second exits at once (kExitAborted). The signals are
// blocked in this thread before LibTorch or OpenCV start theirs (which inherit the mask), and one thread
// takes them with sigwait, so no handler runs inside a oneDNN kernel (cmd_train.cpp says why that
// matters). A signal ignored when infer started (nohup, a background job) stays ignored.
void take_stop_signals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  ::pthread_sigmask(SIG_BLOCK, &set, nullptr);
  std::thread([set] {
    for (int count = 0;;) {
      int sig = 0;
      if (::sigwait(&set, &sig) != 0) continue;
      if (++count == 1) {
        g_stop_signal.store(sig);
        g_stop_requested.store(true);
        std::fprintf(stderr, "\nimg2img: stop requested; finishing the current image (send the signal again to "
                             "exit at once)\n");
        continue;
      }
      std::fprintf(stderr, "img2img: second stop signal: exiting at once (exit code %d); the images written "
                           "so far are complete, an image being written stays a *.tmpPID file\n",
                   kExitAborted);
      std::fflush(stderr);
      ::_exit(kExitAborted);
    }
  }).detach();
}
}  // namespace

Command setup_infer(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("infer", "Apply a trained generator to an image or a folder of images");
  auto args = std::make_shared<InferArgs>();
  sub->add_option("--checkpoint", args->checkpoint,
                  "generator weights (.pt), its .json, or a run folder (newest checkpoint)")
      ->required();
  sub->add_option("--input", args->input, "an image file or a folder of images")->required();
  sub->add_option("--output", args->output, "output folder; files keep their names, as .png (.tif for float)")
      ->required();
  expect_integer(sub->add_option("--index", args->index,
                                 "unpaired runs: 0 = input -> reference domain (default for a run folder), 1 = back"),
                 "0 (input -> reference domain) or 1 (back)", 0, 1);
  expect_device(sub->add_option("--device", args->device, "auto | cpu | cuda | cuda:N")->capture_default_str());
  expect_choice(sub->add_option("--mode", args->mode,
                                "resize: run at the training size and resize back (default); pad: run at full "
                                "resolution, padded to a multiple of 2^layers")
                    ->capture_default_str(),
                {"resize", "pad"});
  add_weights_option(*sub, args->weights);
  return {sub, [args] {
            take_stop_signals();
            check_infer_output(args->input, args->output);  // a wrong --output before the model loads
            GeneratorRunner runner(args->checkpoint, args->device, args->index, parse_weights_kind(args->weights));
            if (!runner.loaded().note.empty()) std::fprintf(stderr, "note: %s\n", runner.loaded().note.c_str());
            std::vector<std::string> notes;
            size_t image_count = 0;
            const auto files =
                infer_images(runner, args->input, args->output,
                             args->mode == "pad" ? InferMode::kPad : InferMode::kResize, &notes, &g_stop_requested,
                             &image_count);
            for (const auto& note : notes) std::fprintf(stderr, "note: %s\n", note.c_str());
            if (g_stop_requested.load() && files.size() < image_count) {
              std::cout << fmt::format("interrupted: wrote {} of {} image(s) to {}; the other {} were not written "
                                       "(run the same command again to write them all)\n",
                                       files.size(), image_count, args->output, image_count - files.size());
              return 128 + g_stop_signal.load();
            }
            std::cout << fmt::format("wrote {} image(s) to {} (generator {} of iteration {}, {})\n", files.size(),
                                     args->output, runner.meta().index, runner.meta().iteration,
                                     runner.loaded().description);
            return 0;
          }};
}

}  // namespace img2img::cli

#include <fmt/format.h>  // fmt::format

#include <cstdio>    // std::fprintf (std::cerr is muted while a command runs: main.cpp)
#include <iostream>  // std::cout

#include "img2img/cli/commands.h"
#include "img2img/cli/flag_values.h"
#include "img2img/infer/inference.h"

namespace img2img::cli {

namespace {
struct InferArgs {
  std::string checkpoint, input, output, device = "auto", mode = "resize", weights = "average";
  int64_t index = -1;  // -1: a run folder's generator 0, a file's own index
};
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
            check_infer_output(args->input, args->output);  // a wrong --output before the model loads
            GeneratorRunner runner(args->checkpoint, args->device, args->index, parse_weights_kind(args->weights));
            if (!runner.loaded().note.empty()) std::fprintf(stderr, "note: %s\n", runner.loaded().note.c_str());
            std::vector<std::string> notes;
            const auto files = infer_images(runner, args->input, args->output,
                                            args->mode == "pad" ? InferMode::kPad : InferMode::kResize, &notes);
            for (const auto& note : notes) std::fprintf(stderr, "note: %s\n", note.c_str());
            std::cout << fmt::format("wrote {} image(s) to {} (generator {} of iteration {}, {})\n", files.size(),
                                     args->output, runner.meta().index, runner.meta().iteration,
                                     runner.loaded().description);
            return 0;
          }};
}

}  // namespace img2img::cli

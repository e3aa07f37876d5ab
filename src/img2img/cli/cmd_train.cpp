#include <fmt/format.h>  // fmt::format

#include <iostream>  // std::cout

#include "img2img/cli/commands.h"
#include "img2img/cli/config_flags.h"
#include "img2img/train/trainer.h"

namespace img2img::cli {

Command setup_train(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("train", "Train a paired (pix2pix) image-to-image GAN");
  sub->footer("Every key of the TOML file is also a flag: --section.key=value (flags override the file).\n"
              "See docs/configuration.md and examples/*.toml.");
  auto flags = add_config_flags(sub);
  auto plain = std::make_shared<bool>(false);
  sub->add_flag("--plain-progress", *plain, "one log line per iteration even on a terminal");
  return {sub, [flags, plain] {
            const RunConfig config = resolve_config_flags(*flags);
            TrainOptions options;
            if (*plain) options.interactive = 0;
            const TrainSummary s = train_pix2pix(config, options);
            std::cout << fmt::format("run folder: {}\n", s.run_dir.string());
            if (!s.final_generator.empty()) std::cout << fmt::format("generator: {}\n", s.final_generator.string());
            return 0;
          }};
}

}  // namespace img2img::cli

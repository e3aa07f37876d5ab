#include "img2img/cli/commands.h"
#include "img2img/core/error.h"

namespace img2img::cli {

// Placeholder until its issue lands: registered so the command list is stable, fails clearly.
Command setup_ssim(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("ssim", "Print the SSIM of two images or two folders (not available yet)");
  sub->allow_extras();
  return {sub, [] () -> int { throw Error("`img2img ssim` is not available in this version yet."); }};
}

}  // namespace img2img::cli

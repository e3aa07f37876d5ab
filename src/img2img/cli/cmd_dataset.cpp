#include "img2img/cli/commands.h"
#include "img2img/core/error.h"

namespace img2img::cli {

// Placeholder until its issue lands: registered so the command list is stable, fails clearly.
Command setup_dataset(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("dataset", "Build training data sets (terrain, pairs, combine, split) (not available yet)");
  sub->allow_extras();
  return {sub, [] () -> int { throw Error("`img2img dataset` is not available in this version yet."); }};
}

}  // namespace img2img::cli

#include "img2img/cli/commands.h"
#include "img2img/core/error.h"

namespace img2img::cli {

// Placeholder until its issue lands: registered so the command list is stable, fails clearly.
Command setup_export(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("export", "Export a trained generator to ONNX (not available yet)");
  sub->allow_extras();
  return {sub, [] () -> int { throw Error("`img2img export` is not available in this version yet."); }};
}

}  // namespace img2img::cli

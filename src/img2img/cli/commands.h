#pragma once
// Subcommands of the `img2img` executable, one file each (CLI11 subcom_in_files pattern).

#include <CLI/App.hpp>  // CLI::App

#include <functional>  // std::function

namespace img2img::cli {

/// A registered subcommand and what to run when it was given; run() returns the exit code and
/// may throw img2img::Error (main prints it).
struct Command {
  CLI::App* app = nullptr;
  std::function<int()> run;
};

Command setup_train(CLI::App& app);
/// Installs `train`'s SIGINT/SIGTERM/SIGHUP handlers when argv's subcommand is `train`; from .preinit_array
/// (before the shared libraries' initialisers), so an early Ctrl-C is a clean stop. libc-free.
void install_stop_handlers_for_train(int argc, char** argv, char** envp);   ///< img2img train --config FILE [--section.key=value ...]
Command setup_config(CLI::App& app);  ///< img2img config: print the resolved configuration as TOML
Command setup_infer(CLI::App& app);   ///< img2img infer --checkpoint PATH --input X --output DIR
Command setup_export(CLI::App& app);  ///< img2img export --checkpoint PATH --output FILE.onnx
Command setup_dataset(CLI::App& app); ///< img2img dataset terrain|pairs|combine|split ...
Command setup_ssim(CLI::App& app);    ///< img2img ssim A B
Command setup_report(CLI::App& app);  ///< img2img report RUN_DIR: (re)write RUN_DIR/report.html

}  // namespace img2img::cli

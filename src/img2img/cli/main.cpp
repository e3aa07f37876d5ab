// img2img: command-line entry point. Parses arguments, dispatches to a subcommand, and is the only
// place that prints errors and chooses the exit code (0 ok, 1 user error, 2 internal error,
// 100+ command-line syntax, as CLI11; `train` stopped by SIGINT/SIGTERM: 130/143 after writing a
// checkpoint, see cmd_train.cpp).

#include <CLI/App.hpp>     // CLI::App
#include <CLI/Config.hpp>  // CLI11 config support (header-only parts)
#include <CLI/Formatter.hpp>
#include <c10/util/Exception.h>  // c10::Error

#include <cstdio>      // std::fprintf
#include <filesystem>  // std::filesystem::filesystem_error
#include <iostream>    // std::cerr

#include "img2img/cli/commands.h"
#include "img2img/core/error.h"

int main(int argc, char** argv) {
  CLI::App app{"img2img: train image-to-image GANs (pix2pix) and export them to ONNX"};
  app.set_version_flag("--version", std::string("img2img ") + IMG2IMG_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  const std::vector<img2img::cli::Command> commands{
      img2img::cli::setup_train(app),  img2img::cli::setup_config(app),  img2img::cli::setup_infer(app),
      img2img::cli::setup_export(app), img2img::cli::setup_dataset(app), img2img::cli::setup_ssim(app)};
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    for (const auto& command : commands)
      if (command.app->parsed()) return command.run();
    return 0;
  } catch (const img2img::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // A folder or file the user named cannot be created or read (e.g. an unwritable --output).
    std::cerr << "error: " << e.what() << ". Check that the path exists and is writable, or choose another.\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "internal error: " << e.what_without_backtrace() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return 2;
  }
}

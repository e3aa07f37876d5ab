#include <fmt/format.h>  // fmt::format

#include <algorithm>   // std::transform
#include <cctype>      // std::tolower
#include <cstdio>      // std::fprintf (std::cerr is muted while a command runs: main.cpp)
#include <filesystem>  // std::filesystem::path
#include <iostream>    // std::cout

#include "img2img/cli/commands.h"
#include "img2img/cli/flag_values.h"
#include "img2img/core/error.h"
#include "img2img/export/onnx_export.h"
#include "img2img/infer/checkpoint_weights.h"
#include "img2img/models/factory.h"
#include "img2img/run/checkpoint.h"

namespace img2img::cli {

namespace {
struct ExportArgs {
  std::string checkpoint, output;
  int64_t opset = 0;         // 0 = the checkpoint's output.onnx_opset
  std::string dynamic_axes;  // "" = the checkpoint's output.onnx_dynamic_axes
  bool raw_range = false;
  int64_t index = -1;  // -1: a run folder's generator 0, a file's own index
  std::string weights = "average";  // --weights: average | trained
};

bool parse_bool(const std::string& s) {
  if (s == "true" || s == "1" || s == "on" || s == "yes") return true;
  if (s == "false" || s == "0" || s == "off" || s == "no") return false;
  throw ConfigError(fmt::format("--dynamic-axes '{}' is not a boolean; expected true or false", s));
}

// The file name export suggests for `checkpoint`: its stem (generator_0_4.pt -> generator_0_4.onnx),
// "generator.onnx" for a run folder.
std::string suggested_onnx_name(const std::string& checkpoint) {
  const std::filesystem::path p(checkpoint);
  const std::string ext = p.extension().string();
  return (ext == ".pt" || ext == ".json") && !p.stem().empty() ? p.stem().string() + ".onnx" : "generator.onnx";
}

// The --output path must name a new or existing .onnx file: anything else would replace a file the
// user did not mean to lose (the checkpoint itself, its .json, an image). A folder (existing, or a
// path ending in '/') gets the checkpoint's name inside it as the suggestion.
void check_export_output(const std::string& output, const std::string& checkpoint) {
  if (output.empty())
    throw ConfigError("--output is empty; give the .onnx file to write, e.g. --output generator.onnx");
  const std::filesystem::path path(output);
  std::error_code ec;
  const bool existing_folder = std::filesystem::is_directory(path, ec);
  if (existing_folder || !path.has_filename())
    throw ConfigError(fmt::format("--output '{}' {}; give the .onnx file to write inside it, e.g. '{}'", output,
                                  existing_folder ? "is a folder" : "names a folder (it ends in a '/')",
                                  (path / suggested_onnx_name(checkpoint)).string()));
  std::string ext = path.extension().string();
  std::transform(ext.begin(), ext.end(), ext.begin(), [](unsigned char c) { return std::tolower(c); });
  if (ext != ".onnx")
    throw ConfigError(fmt::format("--output '{}' does not end in .onnx; export writes an ONNX model and will not "
                                  "replace another kind of file. Give a path like '{}'",
                                  output, std::filesystem::path(output).replace_extension(".onnx").string()));
}

int run_export(const ExportArgs& args) {
  check_export_output(args.output, args.checkpoint);
  std::filesystem::path weights;
  const CheckpointMeta meta = read_checkpoint_meta(args.checkpoint, &weights, args.index);
  if (meta.network != "generator")
    throw CheckpointError(fmt::format("checkpoint '{}' holds a {}, not a generator; pass the generator file "
                                      "(e.g. generator_0_*.pt).",
                                      weights.string(), meta.network));
  const RunConfig config = checkpoint_config(meta);
  UnetGenerator generator(generator_options(config));
  const LoadedWeights loaded = load_checkpoint_weights(weights, meta, *generator, parse_weights_kind(args.weights));
  if (!loaded.note.empty()) std::fprintf(stderr, "note: %s\n", loaded.note.c_str());
  generator->eval();

  OnnxExportOptions options;
  options.opset = args.opset != 0 ? args.opset : config.output.onnx_opset;
  options.dynamic_axes = args.dynamic_axes.empty() ? config.output.onnx_dynamic_axes : parse_bool(args.dynamic_axes);
  options.unit_range = !args.raw_range;
  options.image_size = config.data.image_size;
  options.iteration = meta.iteration;
  options.weights = loaded.averaged ? "average" : "trained";
  options.direction = onnx_direction(is_unpaired(config.data.input_type), meta.index);
  export_generator_onnx(*generator, options, args.output);
  std::cout << fmt::format("wrote {} ({}opset {}, {}, values in {}; {})\n", args.output,
                           options.direction.empty() ? "" : fmt::format("generator {}, {}, ", meta.index, options.direction),
                           options.opset,
                           options.dynamic_axes ? "dynamic batch/height/width"
                                                : fmt::format("fixed 1x{}x{}x{}", config.data.channel_count,
                                                              options.image_size, options.image_size),
                           options.unit_range ? "[0, 1]" : "[-1, 1]", loaded.description);
  return 0;
}
}  // namespace

Command setup_export(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("export", "Export a trained generator to ONNX (eval mode, checked)");
  auto args = std::make_shared<ExportArgs>();
  sub->add_option("--checkpoint", args->checkpoint,
                  "generator weights (.pt), its .json, or a run folder (newest checkpoint)")
      ->required();
  expect_integer(sub->add_option("--index", args->index,
                                 "unpaired runs: 0 = input -> reference domain (default for a run folder), 1 = back"),
                 "0 (input -> reference domain) or 1 (back)", 0, 1);
  sub->add_option("--output", args->output, "the .onnx file to write (atomically)")->required();
  expect_integer(sub->add_option("--opset", args->opset,
                                 fmt::format("ONNX opset, {} to {} (default: the checkpoint's output.onnx_opset)",
                                             kOnnxMinOpset, kOnnxMaxOpset)),
                 fmt::format("an ONNX opset from {} to {}", kOnnxMinOpset, kOnnxMaxOpset), kOnnxMinOpset,
                 kOnnxMaxOpset);
  expect_choice(sub->add_option("--dynamic-axes", args->dynamic_axes,
                                "true: batch, height and width symbolic; false: fixed to the training size "
                                "(default: the checkpoint's output.onnx_dynamic_axes)"),
                {"true", "false", "1", "0", "on", "off", "yes", "no"});
  sub->add_flag("--raw-range", args->raw_range,
                "input and output in the network's [-1, 1] instead of images in [0, 1]");
  add_weights_option(*sub, args->weights);
  return {sub, [args] { return run_export(*args); }};
}

}  // namespace img2img::cli

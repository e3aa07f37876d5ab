#pragma once
// Files a training run writes, shared by the paired and the unpaired trainer: the run folder,
// checkpoints and ONNX files, each listed in outputs.json.

#include <filesystem>  // std::filesystem::path
#include <map>         // std::map
#include <string>      // std::string

#include "img2img/config/run_config.h"
#include "img2img/models/unet_generator.h"
#include "img2img/train/checkpoint.h"
#include "img2img/train/event_log.h"
#include "img2img/train/outputs_manifest.h"

namespace img2img {

/// Path-template values ({date}, {time}, {run_dir}, ...) of one run.
using TemplateValues = std::map<std::string, std::string>;

/// A created run folder: its path, the template values including {run_dir}, and the resolved
/// configuration as TOML (also written to <dir>/config.toml).
struct RunFolder {
  std::filesystem::path dir;
  TemplateValues values;
  std::string config_toml;
};

/// Expands output.run_dir with {date} and {time} of now, creates it and writes config.toml
/// atomically. Throws ConfigError (template) or WriteError (folder not writable).
RunFolder create_run_folder(const RunConfig& config);

/// Saves `module` at output.model_path for meta.network / meta.index / meta.iteration (weights +
/// .json metadata) and lists both in `manifest`. Returns the weights path. Throws WriteError.
std::filesystem::path save_listed_checkpoint(const RunConfig& config, const torch::nn::Module& module,
                                             const CheckpointMeta& meta, TemplateValues values,
                                             OutputsManifest& manifest);

/// Exports `generator` (eval-mode graph; the module keeps its mode) at output.onnx_path for
/// {index} = `index`, {iteration} = `iteration`, and lists it in `manifest`. Returns the path.
/// Throws ExportError or WriteError.
std::filesystem::path save_listed_onnx(const RunConfig& config, UnetGeneratorImpl& generator, int64_t index,
                                       int64_t iteration, TemplateValues values, OutputsManifest& manifest);

/// Records a failed run: an `error` event, outputs.json finished as "failed" with `what` as the
/// reason (a manifest write error is swallowed so the original error survives; `manifest` may be
/// null), then a `run_end` event with status "failed".
void report_run_failure(EventLog& events, OutputsManifest* manifest, const std::string& what, int64_t iterations);

}  // namespace img2img

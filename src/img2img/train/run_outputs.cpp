#include "img2img/train/run_outputs.h"

#include "img2img/config/config_keys.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/path_template.h"
#include "img2img/export/onnx_export.h"

namespace img2img {
namespace fs = std::filesystem;

RunFolder create_run_folder(const RunConfig& config) {
  RunFolder run;
  run.values = date_time_template_values();
  run.dir = fs::path(expand_template(config.output.run_dir, run.values));
  run.values["run_dir"] = run.dir.string();
  run.config_toml = config_to_toml(config);
  write_file_atomic(run.dir / "config.toml", run.config_toml);
  return run;
}

fs::path save_listed_checkpoint(const RunConfig& config, const torch::nn::Module& module, const CheckpointMeta& meta,
                                TemplateValues values, OutputsManifest& manifest) {
  values["network"] = meta.network;
  values["index"] = std::to_string(meta.index);
  values["iteration"] = format_iteration(meta.iteration);
  const fs::path path = expand_template(config.output.model_path, values);
  save_checkpoint(path, module, meta);
  manifest.add("checkpoint", path, meta.network, meta.index, meta.iteration);
  manifest.add("checkpoint_meta", checkpoint_meta_path(path), meta.network, meta.index, meta.iteration);
  return path;
}

fs::path save_listed_onnx(const RunConfig& config, UnetGeneratorImpl& generator, int64_t index, int64_t iteration,
                          TemplateValues values, OutputsManifest& manifest) {
  values["network"] = "generator";
  values["index"] = std::to_string(index);
  values["iteration"] = format_iteration(iteration);
  const fs::path path = expand_template(config.output.onnx_path, values);
  OnnxExportOptions options;
  options.opset = config.output.onnx_opset;
  options.dynamic_axes = config.output.onnx_dynamic_axes;
  options.image_size = config.data.image_size;
  options.iteration = iteration;
  export_generator_onnx(generator, options, path);
  manifest.add("onnx", path, "generator", index, iteration);
  return path;
}

void report_run_failure(EventLog& events, OutputsManifest* manifest, const std::string& what, int64_t iterations) {
  events.emit("error", {{"message", what}, {"iteration", iterations}});
  try {
    if (manifest != nullptr) manifest->finish("failed", what, iterations);
  } catch (const std::exception&) {  // keep the original error
  }
  events.emit("run_end", {{"status", "failed"}, {"reason", what}, {"iterations", iterations}});
}

}  // namespace img2img

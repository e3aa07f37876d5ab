#include "img2img/run/run_outputs.h"

#include <fmt/format.h>  // fmt::format
#include <sys/stat.h>    // mkdir

#include <cerrno>     // errno
#include <cstring>    // std::strerror

#include <algorithm>  // std::max_element, std::none_of
#include <cmath>      // std::isfinite
#include <cstdint>    // INT64_MAX
#include <map>        // std::map
#include <optional>   // std::optional

#include "img2img/config/config_keys.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/core/path_template.h"
#include "img2img/export/onnx_export.h"
#include "img2img/run/resume_point.h"

namespace img2img {
namespace fs = std::filesystem;

RunResume run_resume(const fs::path& run_dir, const std::string& checkpoint_config_toml, int64_t iteration) {
  RunResume r;
  r.run_dir = run_dir;
  r.run_dir_template = apply_config(parse_config_text(checkpoint_config_toml, "checkpoint config")).output.run_dir;
  r.iteration = iteration;
  return r;
}

namespace {
// Continuing in `dir` after `iteration` must not overwrite later resumable checkpoints (a resume from
// an older checkpoint): those listed in its outputs.json or lying below it. An incomplete one (a run
// killed while writing it, which find_resume_point skips) is redone, not protected. Throws
// ConfigError naming one.
void check_no_later_checkpoints(const fs::path& dir, int64_t iteration) {
  std::vector<fs::path> metas;
  for (const OutputEntry& e : read_manifest_entries(dir / "outputs.json", INT64_MAX))
    if (e.kind == "checkpoint_meta" && e.iteration > iteration) metas.emplace_back(e.path);
  std::error_code ec;
  for (const auto& f : fs::recursive_directory_iterator(dir, ec))
    if (f.path().extension() == ".json" && f.path().filename() != "outputs.json") metas.push_back(f.path());
  std::vector<std::pair<int64_t, fs::path>> later;
  for (const fs::path& meta_path : metas) {
    try {
      fs::path weights;
      const CheckpointMeta m = read_checkpoint_meta(meta_path, &weights);
      if (m.iteration <= iteration || m.network != "generator" || m.index != 0) continue;
      find_resume_point(meta_path);  // throws CheckpointError when incomplete
      later.emplace_back(m.iteration, weights);
    } catch (const Error&) {  // not a checkpoint, or an incomplete one
    }
  }
  if (later.empty()) return;
  const auto newest = *std::max_element(later.begin(), later.end());
  throw ConfigError(fmt::format(
      "--resume from iteration {} would continue in run folder '{}', which already holds later checkpoints (e.g. "
      "'{}' of iteration {}); continuing there would overwrite them. Resume from the newest checkpoint (pass the run "
      "folder), or continue in a new folder with --output.run_dir=NEW_FOLDER.",
      iteration, dir.string(), newest.second.string(), newest.first));
}

// A new run (or a branch of a resumed one) must not write into a folder that holds another run's
// checkpoints: the two would mix (old later checkpoints would look like the new run's newest model).
// A folder left by a run that failed before its first checkpoint may be reused.
void check_not_a_run(const fs::path& dir) {
  const fs::path manifest = dir / "outputs.json";
  std::error_code ec;
  if (!fs::exists(manifest, ec)) return;
  std::vector<OutputEntry> entries;
  try {
    entries = read_manifest_entries(manifest, INT64_MAX);
  } catch (const Error&) {  // unreadable manifest: still somebody's run folder
    entries.push_back(OutputEntry{});
    entries.back().kind = "checkpoint";
  }
  // An entry without a path stands for an unreadable manifest: run_restart assumes the run can be resumed.
  const RunRestart restart = run_restart(entries);
  const bool resumable = restart == RunRestart::kResume;
  if (restart != RunRestart::kNoCheckpoint)
    throw ConfigError(fmt::format(
        "output.run_dir = '{}' already holds a run with checkpoints ({}); training a new run there would mix the "
        "two. {}choose a new folder with --output.run_dir=NEW_FOLDER (a template with {{date}}-{{time}} makes one "
        "per run).",
        dir.string(), manifest.string(),
        resumable ? fmt::format("Continue that run with `img2img train --resume {}`, or ", shell_quote(dir.string()))
                  : "None of them can be resumed (no training state beside them: the run was killed while writing "
                    "its first checkpoint, or they were copied without their .optim.pt files); delete the folder, "
                    "or "));
}

// `config` as recorded by a run continuing in `dir`: an output.run_dir without {date}/{time}-style
// placeholders that no longer leads to `dir` (the folder was moved or copied, or the path was relative
// to another working folder) becomes `dir` (absolute), so `train --config DIR/config.toml` and the
// checkpoints' configs name the folder actually used. A template stays as it is: it names a new folder
// per run, as in a fresh run's config.toml.
RunConfig with_run_dir_used(const RunConfig& config, const fs::path& dir, const std::map<std::string, std::string>& values) {
  const std::string& tmpl = config.output.run_dir;
  for (size_t i = 0; i < tmpl.size(); ++i)
    if (tmpl[i] == '{' && !(i > 0 && tmpl[i - 1] == '$')) return config;
  std::error_code ec;
  if (fs::equivalent(fs::path(expand_template(tmpl, values)), dir, ec)) return config;
  RunConfig recorded = config;
  recorded.output.run_dir = fs::absolute(dir).lexically_normal().string();
  return recorded;
}

// A run folder of its own for output.run_dir template `tmpl` (with {date}/{time}), which expanded to
// `expanded`: that folder if it does not exist yet, else the first of EXPANDED-2, EXPANDED-3, ... that
// does not. mkdir(2) creates a folder or fails when the name exists, so of two runs started in the
// same second (two processes, or two threads) each gets a folder it created itself.
fs::path claim_new_folder(const std::string& tmpl, std::string expanded) {
  while (expanded.size() > 1 && expanded.back() == '/') expanded.pop_back();  // the suffix goes on the name
  const fs::path base(expanded);
  std::error_code ec;
  if (!base.parent_path().empty()) fs::create_directories(base.parent_path(), ec);
  if (ec)
    throw WriteError(fmt::format("cannot create folder '{}' for output.run_dir = '{}': {}. Choose a writable "
                                 "output.run_dir.",
                                 base.parent_path().string(), tmpl, ec.message()));
  constexpr int kMaxSuffix = 1000;
  for (int n = 1; n <= kMaxSuffix; ++n) {
    const fs::path dir = n == 1 ? base : fs::path(expanded + "-" + std::to_string(n));
    if (::mkdir(dir.c_str(), 0777) == 0) return dir;
    if (errno != EEXIST)
      throw WriteError(fmt::format("cannot create run folder '{}' for output.run_dir = '{}': {}. Choose a writable "
                                   "output.run_dir.",
                                   dir.string(), tmpl, std::strerror(errno)));
  }
  throw ConfigError(fmt::format("output.run_dir = '{}': '{}' and '{}-2' to '{}-{}' all exist already, so this run has "
                                "no new folder. Remove old run folders, or choose another output.run_dir.",
                                tmpl, expanded, expanded, expanded, kMaxSuffix));
}
// create_run_folder's steps after the folder is chosen: lock, checks, config.toml; and its undo.
void fill_run_folder(RunFolder& run, const RunConfig& config, const RunResume* resume, bool known);
void remove_unstarted_run_folder(const fs::path& dir);
}  // namespace

RunFolder create_run_folder(const RunConfig& config, const RunResume* resume, const TemplateValues* date_time) {
  RunFolder run;
  run.values = date_time != nullptr ? *date_time : date_time_template_values();
  std::error_code ec;
  const bool known = resume != nullptr && !resume->run_dir.empty() && fs::is_directory(resume->run_dir, ec);
  run.continued = known && config.output.run_dir == resume->run_dir_template;
  if (run.continued)
    run.dir = resume->run_dir;
  else if (names_folder_per_run(config.output.run_dir))  // one new folder per run, even two in one second
    run.dir = claim_new_folder(config.output.run_dir, expand_template(config.output.run_dir, run.values));
  else
    run.dir = expand_template(config.output.run_dir, run.values);
  // A folder this call made is removed again if the run cannot start in it: no empty run folders.
  run.created = !run.continued && (names_folder_per_run(config.output.run_dir) || !fs::exists(run.dir, ec));
  try {
    fill_run_folder(run, config, resume, known);
  } catch (...) {
    if (run.created) remove_unstarted_run_folder(run.dir);
    throw;
  }
  if (run.continued) run.created = false;  // the resumed folder under another spelling
  return run;
}

namespace {
void remove_unstarted_run_folder(const fs::path& dir) {
  std::error_code ec;
  fs::remove(dir / "config.toml", ec);
  fs::remove(dir / kRunLockFileName, ec);
  fs::remove(dir, ec);  // only when nothing else is in it
}

void fill_run_folder(RunFolder& run, const RunConfig& config, const RunResume* resume, bool known) {
  std::error_code ec;
  run.lock = std::make_shared<const RunFolderLock>(run.dir);  // before any check or write: one run per folder
  if (known) {
    run.resumed_from = resume->run_dir;
    run.resume_iteration = resume->iteration;
    if (!run.continued && fs::equivalent(run.dir, resume->run_dir, ec)) run.continued = true;  // same folder, other spelling
    if (run.continued) check_no_later_checkpoints(run.dir, resume->iteration);
  }
  if (!run.continued) check_not_a_run(run.dir);
  run.values["run_dir"] = run.dir.string();
  run.config_toml = config_to_toml(run.continued ? with_run_dir_used(config, run.dir, run.values) : config);
  write_file_atomic(run.dir / "config.toml", run.config_toml);
}
}  // namespace

std::vector<OutputEntry> earlier_outputs(const RunFolder& run) {
  if (run.resumed_from.empty()) return {};
  return read_manifest_entries(run.resumed_from / "outputs.json", run.resume_iteration);
}

fs::path save_listed_checkpoint(const OutputConfig& output, const torch::nn::Module& module, const CheckpointMeta& meta_in,
                                TemplateValues values, OutputsManifest& manifest, const std::string& label_suffix) {
  CheckpointMeta meta = meta_in;
  if (meta.run_dir.empty() && values.count("run_dir"))
    meta.run_dir = fs::absolute(values.at("run_dir")).lexically_normal().string();
  values["network"] = meta.network;
  values["index"] = std::to_string(meta.index);
  values["iteration"] = std::to_string(meta.iteration);
  fs::path path = expand_template(output.model_path, values);
  if (!label_suffix.empty())
    path = path.parent_path() / (path.stem().string() + label_suffix + path.extension().string());
  save_checkpoint(path, module, meta);
  manifest.add("checkpoint", path, meta.network, meta.index, meta.iteration);
  manifest.add("checkpoint_meta", checkpoint_meta_path(path), meta.network, meta.index, meta.iteration);
  return path;
}

fs::path save_listed_onnx(const OutputConfig& output, OnnxExportOptions options, UnetGeneratorImpl& generator,
                          int64_t index, int64_t iteration, TemplateValues values, OutputsManifest& manifest) {
  values["network"] = "generator";
  values["index"] = std::to_string(index);
  values["iteration"] = std::to_string(iteration);
  const fs::path path = expand_template(output.onnx_path, values);
  options.opset = output.onnx_opset;
  options.dynamic_axes = output.onnx_dynamic_axes;
  options.iteration = iteration;
  export_generator_onnx(generator, options, path);
  manifest.add("onnx", path, "generator", index, iteration);
  return path;
}

void report_run_failure(EventLog& events, OutputsManifest* manifest, const std::string& what, int64_t iterations,
                        int64_t skipped_steps, bool run_dir_removed) {
  events.emit("error", {{"message", what}, {"iteration", iterations}});
  try {
    // The same test as check_not_a_run: without a listed checkpoint the folder may hold a new run.
    const bool reusable = manifest != nullptr && run_restart(manifest->entries()) == RunRestart::kNoCheckpoint;
    if (manifest != nullptr)
      manifest->finish("failed",
                       reusable ? what + " [No checkpoint is listed in this run folder, so it holds no model to "
                                         "resume: fix the problem and train again with the same output.run_dir, "
                                         "which reuses the folder.]"
                                : what,
                       iterations);
  } catch (const std::exception&) {  // keep the original error
  }
  events.emit("run_end", {{"status", "failed"},
                          {"reason", what},
                          {"iterations", iterations},
                          {"skipped_steps", skipped_steps},
                          {"run_dir_removed", run_dir_removed}});
}

}  // namespace img2img

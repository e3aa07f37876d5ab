#pragma once
// The run folder and the files listed in its outputs.json (checkpoints, ONNX files), and the record
// of a failed run; RunWriter (run_writer.h) is what the training loop writes through.

#include <filesystem>  // std::filesystem::path
#include <map>         // std::map
#include <memory>      // std::unique_ptr
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/config/run_config.h"
#include "img2img/export/onnx_export.h"
#include "img2img/models/unet_generator.h"
#include "img2img/run/checkpoint.h"
#include "img2img/run/event_log.h"
#include "img2img/run/outputs_manifest.h"
#include "img2img/run/progress.h"
#include "img2img/run/run_lock.h"

namespace img2img {

/// Path-template values ({date}, {time}, {run_dir}, ...) of one run.
using TemplateValues = std::map<std::string, std::string>;

/// The run a --resume continues (trainers build it from their resume point with run_resume).
struct RunResume {
  std::filesystem::path run_dir;  ///< folder of the earlier run ("" = unknown: outputs start afresh)
  std::string run_dir_template;   ///< the earlier run's output.run_dir (from the checkpoint's config)
  int64_t iteration = 0;          ///< iterations completed at the checkpoint
};

/// The RunResume of a checkpoint: its run folder, resolved configuration (TOML) and iteration.
RunResume run_resume(const std::filesystem::path& run_dir, const std::string& checkpoint_config_toml,
                     int64_t iteration);

/// A created run folder: its path, the template values including {run_dir}, and the resolved
/// configuration as TOML (also written to <dir>/config.toml).
struct RunFolder {
  std::filesystem::path dir;
  TemplateValues values;
  std::string config_toml;
  std::filesystem::path resumed_from;  ///< --resume: the earlier run's folder ("" = fresh run or unknown)
  int64_t resume_iteration = 0;        ///< --resume: iterations completed at the checkpoint
  bool continued = false;              ///< --resume continues in the earlier run's folder (dir == resumed_from)
  /// This run made the folder (it did not exist before): a failure before anything was trained may remove it.
  bool created = false;
  /// The run folder's lock (RunFolderLock), held while any copy of this RunFolder lives: one run per folder.
  std::shared_ptr<const RunFolderLock> lock;
};

/// Expands output.run_dir with {date} and {time} of now (`date_time` when given, for tests), creates
/// it and writes config.toml atomically. A template with {date} or {time} gets a folder of its own:
/// when the expanded folder exists already (another run started in the same second), the first free
/// one of FOLDER-2, FOLDER-3, ... (claimed with mkdir, so concurrent runs never share one); a folder
/// without them that holds another run's checkpoints is an error. With `resume` (--resume) and
/// output.run_dir unchanged from the earlier run's, the run continues in the earlier run's folder instead (train.log appended, config.toml replaced by
/// the resumed configuration; plots and outputs.json continued, see earlier_outputs); a changed
/// output.run_dir starts a new folder that still carries the earlier plots and outputs.json entries.
/// Before anything is checked or written there, the folder is locked (RunFolderLock, kept in
/// RunFolder::lock), so a second run (fresh or --resume) into a folder a live run writes fails at once.
/// Throws ConfigError (template; another live run holds the folder, naming its PID; or continuing in
/// place would overwrite checkpoints written after the resume point, naming one and the way out) or
/// WriteError (folder not writable).
RunFolder create_run_folder(const RunConfig& config, const RunResume* resume = nullptr,
                            const TemplateValues* date_time = nullptr);

/// The outputs.json entries a resumed run keeps: those of run.resumed_from's manifest up to
/// run.resume_iteration (none for a fresh run). Throws DataError for a damaged manifest.
std::vector<OutputEntry> earlier_outputs(const RunFolder& run);

/// Saves `module` at `output`.model_path for meta.network / meta.index / meta.iteration (weights +
/// .json metadata) and lists both in `manifest`. `label_suffix` is appended to the file stem
/// (kInterruptedLabel for weights taken inside an iteration). Returns the weights path. Throws WriteError.
std::filesystem::path save_listed_checkpoint(const OutputConfig& output, const torch::nn::Module& module,
                                             const CheckpointMeta& meta, TemplateValues values,
                                             OutputsManifest& manifest, const std::string& label_suffix = "");

/// File-stem suffix of a checkpoint written by a stop (Ctrl-C/SIGTERM) inside an iteration when the
/// last completed iteration has no checkpoint on disk (output.model_save_rate > 1): its weights are
/// those after the last finished step, its metadata names the last completed iteration (--resume
/// repeats the interrupted one), and the suffix keeps it from passing for, or overwriting, the
/// checkpoint of a completed iteration. docs/reliability.md.
inline constexpr const char* kInterruptedLabel = "_interrupted";

/// Exports `generator` (eval-mode graph; the module keeps its mode) at `output`.onnx_path (opset,
/// dynamic axes) for {index} = `index`, {iteration} = `iteration`, and lists it in `manifest`. `options`
/// gives the rest of what the file records (image_size, weights, direction); its opset, dynamic_axes and
/// iteration are set here. Returns the path. Throws ExportError or WriteError.
std::filesystem::path save_listed_onnx(const OutputConfig& output, OnnxExportOptions options,
                                       UnetGeneratorImpl& generator, int64_t index, int64_t iteration,
                                       TemplateValues values, OutputsManifest& manifest);

/// Records a failed run: an `error` event, outputs.json finished as "failed" with `what` as the
/// reason, plus a note that the folder may be reused when it lists no checkpoint (a manifest write
/// error is swallowed so the original error survives; `manifest` may be null), then a `run_end` event with status "failed" and `skipped_steps` (batches train.nan_policy =
/// skip dropped before the failure) and `run_dir_removed` (the run folder was removed: RunWriter::remove_untrained_folder).
void report_run_failure(EventLog& events, OutputsManifest* manifest, const std::string& what, int64_t iterations,
                        int64_t skipped_steps = 0, bool run_dir_removed = false);

}  // namespace img2img

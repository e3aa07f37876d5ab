#pragma once
// Files a training run writes, shared by the paired and the unpaired trainer: the run folder,
// checkpoints and ONNX files, each listed in outputs.json.

#include <filesystem>  // std::filesystem::path
#include <map>         // std::map
#include <memory>      // std::unique_ptr
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/config/run_config.h"
#include "img2img/models/unet_generator.h"
#include "img2img/train/checkpoint.h"
#include "img2img/train/event_log.h"
#include "img2img/train/outputs_manifest.h"
#include "img2img/train/progress.h"
#include "img2img/train/run_lock.h"
#include "img2img/train/trainer.h"

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
  /// The run folder's lock (RunFolderLock), held while any copy of this RunFolder lives: one run per folder.
  std::shared_ptr<const RunFolderLock> lock;
};

/// A started run (start_run): its folder and the reporter writing train.log.
struct StartedRun {
  RunFolder run;
  std::unique_ptr<ProgressReporter> progress;
};

/// The start shared by both trainers: the run folder (from options.resume, if any, as
/// create_run_folder decides: continued in place or new), its outputs.json written into `manifest`
/// (owned by the caller, so its catch block can report_run_failure with it; keeps a resumed run's
/// earlier entries), summary.run_dir and summary.outputs_manifest set, and train.log's reporter
/// (options.interactive), which has printed the "run folder: DIR" line and, for a resume, a "warning: "
/// line and a `warning` event for each newer checkpoint skipped (ResumePoint::skipped) and for a
/// learning-rate schedule that does not continue (resume_schedule_warning). Throws as
/// create_run_folder and OutputsManifest.
StartedRun start_run(const RunConfig& config, const TrainOptions& options, EventLog& events,
                     std::unique_ptr<OutputsManifest>& manifest, TrainSummary& summary);

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

/// Saves `module` at output.model_path for meta.network / meta.index / meta.iteration (weights +
/// .json metadata) and lists both in `manifest`. `label_suffix` is appended to the file stem
/// (kInterruptedLabel for weights taken inside an iteration). Returns the weights path. Throws WriteError.
std::filesystem::path save_listed_checkpoint(const RunConfig& config, const torch::nn::Module& module,
                                             const CheckpointMeta& meta, TemplateValues values,
                                             OutputsManifest& manifest, const std::string& label_suffix = "");

/// File-stem suffix of a checkpoint written by a stop (Ctrl-C/SIGTERM) inside an iteration when the
/// last completed iteration has no checkpoint on disk (output.model_save_rate > 1): its weights are
/// those after the last finished step, its metadata names the last completed iteration (--resume
/// repeats the interrupted one), and the suffix keeps it from passing for, or overwriting, the
/// checkpoint of a completed iteration. docs/reliability.md.
inline constexpr const char* kInterruptedLabel = "_interrupted";

/// Exports `generator` (eval-mode graph; the module keeps its mode) at output.onnx_path for
/// {index} = `index`, {iteration} = `iteration`, and lists it in `manifest`. Returns the path.
/// Throws ExportError or WriteError.
std::filesystem::path save_listed_onnx(const RunConfig& config, UnetGeneratorImpl& generator, int64_t index,
                                       int64_t iteration, TemplateValues values, OutputsManifest& manifest);

/// Records a failed run: an `error` event, outputs.json finished as "failed" with `what` as the
/// reason, plus a note that the folder may be reused when it lists no checkpoint (a manifest write
/// error is swallowed so the original error survives; `manifest` may be null), then a `run_end` event with status "failed" and `skipped_steps` (batches train.nan_policy =
/// skip dropped before the failure).
void report_run_failure(EventLog& events, OutputsManifest* manifest, const std::string& what, int64_t iterations,
                        int64_t skipped_steps = 0);

/// How an iteration's step loop ended. `partial`: a stop request (Ctrl-C/SIGTERM) cut it short after
/// `steps_done` < steps_per_it steps; the weights then hold its first steps, but the checkpoint carries
/// `iteration` = the last completed one, so --resume repeats the interrupted iteration in full.
struct IterationEnd {
  bool partial = false;
  int64_t iteration = 0;  ///< 1-based iteration number for checkpoints and the summary
};

/// The log line after a kInterruptedLabel checkpoint: iteration `iteration` (last completed) had no
/// checkpoint on disk, so the weights after the last finished step of the next one were saved under
/// that label; --resume continues from them and repeats iteration `iteration` + 1 in full.
std::string interrupted_checkpoint_note(int64_t iteration);

/// Classifies the end of iteration `it` (0-based) of both trainers; when `interrupted`, sets
/// `stop_reason` ("interrupted in iteration 3 after step 2 of 8" / "interrupted after iteration 3")
/// and reports it on `progress`.
IterationEnd end_iteration(bool interrupted, int64_t it, int64_t steps_done, int64_t steps_per_it,
                           std::string& stop_reason, ProgressReporter& progress);

/// The check both trainers make once before their first training step: when *options.stop_requested
/// is already set (a Ctrl-C during setup), marks `summary` interrupted and nothing_trained with
/// iterations = `start_iteration` (the resumed one, or 0) and a stop_reason, prints a line saying that
/// nothing was trained or saved, and returns true; the trainer then goes straight to finish_run.
bool stop_before_first_step(const TrainOptions& options, int64_t start_iteration, TrainSummary& summary,
                            ProgressReporter& progress);

/// Ends a run of either trainer: manifest status ("interrupted", "stopped_early" or "finished") with
/// summary.stop_reason, the "done: N iterations in T" line (+ `detail`, e.g. "; final G_L1 8.6", + the
/// count of summary.skipped_steps when > 0), and the run_end event (status, reason, iterations, seconds,
/// test_ssim, final_generator, final_onnx, skipped_steps; docs/events.md). summary.seconds must be set.
void finish_run(const TrainSummary& summary, OutputsManifest& manifest, EventLog& events, ProgressReporter& progress,
                const std::string& detail = "");

}  // namespace img2img

#pragma once
// The one object through which a training run writes into its run folder: config.toml, train.log,
// outputs.json, events, plots, checkpoints, training state, ONNX files and test images. The loop
// reaches the folder only through it, so a data-parallel run gives rank 0 alone a RunWriter.

#include <torch/nn/module.h>  // torch::nn::Module
#include <torch/types.h>      // torch::Tensor

#include <chrono>      // std::chrono::steady_clock
#include <cstdint>     // int64_t
#include <filesystem>  // std::filesystem::path
#include <memory>      // std::unique_ptr
#include <optional>    // std::optional
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/config/run_config.h"
#include "img2img/data/image_io.h"
#include "img2img/models/unet_generator.h"
#include "img2img/run/checkpoint.h"
#include "img2img/run/event_log.h"
#include "img2img/run/outputs_manifest.h"
#include "img2img/run/plot_writer.h"
#include "img2img/run/progress.h"
#include "img2img/run/run_outputs.h"

namespace img2img {

/// How a run ended, for RunWriter::finish (outputs.json status, the "done" line, the run_end event).
struct RunEnd {
  std::string status;       ///< "finished", "stopped_early" or "interrupted"
  std::string reason;       ///< why it stopped ("" when finished)
  int64_t iterations = 0;   ///< iterations completed, by the whole run (a resumed run: its earlier ones too)
  int64_t start_iteration = 0;  ///< --resume: the iteration this session continued after; 0 for a new run
  double seconds = 0;       ///< wall time of this session (a resumed run: since the resume)
  std::optional<double> test_ssim;           ///< the last test's mean SSIM; empty = never tested
  std::filesystem::path final_generator;     ///< "" = none
  std::filesystem::path final_onnx;          ///< "" = none
  int64_t skipped_steps = 0;                 ///< batches dropped by train.nan_policy = skip
  std::string detail;                        ///< appended to the "done" line, e.g. "; final G_L1 8.6"
};

/// train.log's last line for `end`: "done: 12 iterations in 37s", with " (interrupted)" or " (stopped
/// early)", then `end.detail` and the steps skipped. A resumed run (start_iteration > 0) names this
/// session's iterations, which the time is of, and the run's total: "done: iterations 10-12 in 37s
/// (resumed after iteration 9; 12 iterations in all)" ("iteration 12", "no iteration" when it trained
/// none). The report (run/report.h) takes the elapsed time from the text after the first " in ".
std::string done_line(const RunEnd& end);

/// One training-state file (X.optim.pt beside a checkpoint's weights), as train/training_state.h makes it.
struct TrainingStateFile {
  std::filesystem::path path;  ///< where it goes: X.optim.pt beside X.pt
  std::string bytes;           ///< its content (a torch::serialize archive)
  std::string network;         ///< the network whose weights X.pt it belongs to
  int64_t index = 0;
};

/// Writes one training run's folder (see the top of this file). Example:
///   RunWriter writer(config, resume ? &*resume : nullptr, warnings, options.interactive, events);
///   writer.line("data: ...");  writer.save_checkpoint(*g, meta);  writer.finish(end);
class RunWriter {
 public:
  /// Starts the run: create_run_folder (continuing `resume`'s folder when it says so), outputs.json
  /// (keeping a resumed run's earlier entries), train.log's reporter (`interactive` as
  /// ProgressReporter) with its "run folder: DIR" line, then a "warning: " line and a `warning` event
  /// for each of `resume_warnings` (at iteration resume->iteration). Throws as create_run_folder and
  /// OutputsManifest (ConfigError, WriteError, DataError for a damaged earlier manifest).
  RunWriter(const RunConfig& config, const RunResume* resume, const std::vector<std::string>& resume_warnings,
            int interactive, EventLog& events);
  /// The writer of a data-parallel rank other than 0 (docs/distributed.md): it creates and writes nothing,
  /// every call below is a no-op (paths returned are empty), so the loop makes the same calls on every rank.
  static std::unique_ptr<RunWriter> silent(const RunConfig& config, EventLog& events);
  /// False for a silent() writer.
  bool writes() const { return manifest_ != nullptr; }

  const RunFolder& folder() const { return run_; }
  const std::filesystem::path& dir() const { return run_.dir; }
  std::filesystem::path manifest_path() const { return manifest_ ? manifest_->path() : std::filesystem::path(); }

  /// A message line on stderr and in train.log.
  void line(const std::string& text) {
    if (progress_) progress_->line(text);
  }
  /// The transient step status (terminal only).
  void status(const std::string& text) {
    if (progress_) progress_->status(text);
  }
  /// "warning: TEXT" line and a `warning` event with `fields` (e.g. iteration, step) and "message".
  void warning(const std::string& text, nlohmann::json fields = nlohmann::json::object());
  /// An event on the --events stream (docs/events.md).
  void event(const std::string& type, const nlohmann::json& fields) {
    if (manifest_) events_.emit(type, fields);
  }

  /// --resume: the earlier run's plot points up to the resumed iteration; returns how many.
  int64_t load_plot_history();
  /// Adds one point to a plot (written by write_plots).
  void add_plot_point(const std::string& plot, const std::string& series, int64_t iteration, double value);
  /// Writes every plot's points (CSV) now, listed; before each checkpoint so a killed run keeps them.
  void write_plot_points(int64_t iteration);
  /// Writes the plots due at `iteration` (plot.rate, or `force`), listed; `points_written`: CSVs already written.
  /// Then rewrites report.html when plots were due or a test wrote images (update_report).
  void write_plots_if_due(int64_t iteration, bool force, bool points_written);

  /// Saves `module` at output.model_path for meta.network / index / iteration (weights + .json, with
  /// this run's config and folder), listed in outputs.json; `label_suffix` as save_listed_checkpoint.
  /// Returns the weights path. Throws WriteError.
  std::filesystem::path save_checkpoint(const torch::nn::Module& module, CheckpointMeta meta,
                                        const std::string& label_suffix = "");
  /// Writes the training-state files of one save of `iteration`, each atomically and in the given order
  /// (generator 0's last), and lists them in outputs.json. Throws WriteError.
  void save_training_state(const std::vector<TrainingStateFile>& files, int64_t iteration);
  /// Exports `generator` at output.onnx_path for {index} and {iteration}, listed. Throws ExportError, WriteError.
  std::filesystem::path save_onnx(UnetGeneratorImpl& generator, int64_t index, int64_t iteration);

  /// Whether test images are written (test.output_dir set).
  bool writes_test_images() const { return !config_.test.output_dir.empty(); }
  /// Writes one test image `file_name` (e.g. "000004_rock_generated.png") of `iteration` into
  /// test.output_dir, at `depth`, listed as a test_image of `role` and `sample`. `image`: [C, S, S] in
  /// [-1, 1]. Returns its path. Throws WriteError.
  std::filesystem::path write_test_image(int64_t iteration, const std::string& file_name, const torch::Tensor& image,
                                         PixelDepth depth, const std::string& role, int64_t sample);

  /// The iterations completed so far (outputs.json's "iterations" if the run must exit at once:
  /// OutputsManifest::abort_live).
  void completed(int64_t iterations) {
    if (manifest_) manifest_->set_completed(iterations);
  }
  /// Ends the run: outputs.json status, train.log's done_line, report.html, the run_end event.
  void finish(const RunEnd& end);
  /// Records a failed run: "error: WHAT" as train.log's last line, then report_run_failure and report.html.
  void fail(const std::string& what, int64_t iterations, int64_t skipped_steps);
  /// For a run that failed before it trained anything: removes the run folder when this run made it
  /// (RunFolder::created: never a --resume's folder or one that existed before) and it holds only what
  /// the writer put there (config.toml, train.log, outputs.json without a checkpoint, report.html, plots).
  /// Returns whether the folder is gone; the writer writes nothing more then (events are the caller's:
  /// report_run_failure). False: nothing was changed, record the failure with fail(). Silent writer: false.
  bool remove_untrained_folder();

  /// Rewrites report.html (run/report.h) from the folder's files: always when `force`, else at most
  /// once per kReportMinSeconds (a skipped update is done at the next call); once written, lists it in
  /// outputs.json at `list_iteration` when >= 0 (a `file` event each time, as a rewritten plot). A
  /// failure is a warning (once per run), never an error: the page is a view of the run.
  void update_report(bool force, int64_t list_iteration = -1);
  /// Seconds between two unforced rewrites of report.html.
  static constexpr double kReportMinSeconds = 3.0;

 private:
  RunWriter(const RunConfig& config, EventLog& events) : config_(config), events_(events) {}
  RunConfig config_;
  EventLog& events_;
  RunFolder run_;
  std::unique_ptr<OutputsManifest> manifest_;
  std::unique_ptr<ProgressReporter> progress_;
  std::unique_ptr<PlotWriter> plots_;
  std::chrono::steady_clock::time_point report_written_{};
  bool test_images_since_report_ = false;
  bool report_warned_ = false;
};

}  // namespace img2img

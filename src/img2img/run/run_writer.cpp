#include "img2img/run/run_writer.h"

#include <fmt/format.h>  // fmt::format

#include <algorithm>  // std::find, std::remove_if, std::none_of

#include "img2img/core/atomic_file.h"
#include "img2img/core/path_template.h"
#include "img2img/run/report.h"
#include "img2img/run/run_lock.h"

namespace img2img {
namespace fs = std::filesystem;

RunWriter::RunWriter(const RunConfig& config, const RunResume* resume, const std::vector<std::string>& resume_warnings,
                     int interactive, EventLog& events)
    : config_(config), events_(events) {
  run_ = create_run_folder(config, resume);
  const bool fresh_folder = !run_.continued && !fs::exists(run_.dir / "train.log");
  try {
    std::vector<OutputEntry> earlier = earlier_outputs(run_);
    // An earlier folder's page is not carried into a new folder: this run lists its own report.html
    // (continuing in place, the entry stays where it was and is updated).
    const std::string page = fs::absolute(run_.dir / kReportFileName).lexically_normal().string();
    earlier.erase(std::remove_if(earlier.begin(), earlier.end(),
                                 [&page](const OutputEntry& e) { return e.kind == "report" && e.path != page; }),
                  earlier.end());
    manifest_ = std::make_unique<OutputsManifest>(run_.dir, config, &events, std::move(earlier));
    progress_ = std::make_unique<ProgressReporter>((run_.dir / "train.log").string(), interactive);
  } catch (...) {
    // Nothing useful is in a new folder yet (config.toml, maybe outputs.json): leave no folder behind.
    if (fresh_folder) {
      std::error_code ec;
      for (const char* name : {"config.toml", "outputs.json", "train.log", kRunLockFileName}) fs::remove(run_.dir / name, ec);
      run_.lock.reset();
      if (run_.created) fs::remove(run_.dir, ec);  // only when nothing else is in it; never a folder made before
    }
    throw;
  }
  plots_ = std::make_unique<PlotWriter>(run_.dir, config.plot);
  progress_->line(fmt::format("run folder: {}", run_.dir.string()));
  for (const std::string& w : resume_warnings)  // what a resume does not continue as it was
    warning(w, {{"iteration", resume != nullptr ? resume->iteration : 0}});
  update_report(true);  // listed in outputs.json from the first iteration on: its `file` event follows run_start
}

std::unique_ptr<RunWriter> RunWriter::silent(const RunConfig& config, EventLog& events) {
  return std::unique_ptr<RunWriter>(new RunWriter(config, events));
}

void RunWriter::warning(const std::string& text, nlohmann::json fields) {
  if (!writes()) return;
  progress_->line("warning: " + text);
  fields["message"] = text;
  events_.emit("warning", fields);
}

int64_t RunWriter::load_plot_history() {
  if (!writes()) return 0;
  if (run_.resumed_from.empty()) return 0;
  return plots_->load_csv_history(run_.resumed_from, run_.resume_iteration);
}

void RunWriter::add_plot_point(const std::string& plot, const std::string& series, int64_t iteration, double value) {
  if (!writes()) return;
  plots_->add(plot, series, iteration, value);
}

void RunWriter::write_plot_points(int64_t iteration) {
  if (!writes()) return;
  for (const PlotFile& f : plots_->write_points()) manifest_->add("plot", f.path, f.plot, 0, iteration);
}

void RunWriter::write_plots_if_due(int64_t iteration, bool force, bool points_written) {
  if (!writes()) return;
  for (const PlotFile& f : plots_->write_if_due(iteration, force, points_written))
    manifest_->add("plot", f.path, f.plot, 0, iteration);
  // Listed from the first iteration on whatever the rewrite throttle says, so outputs.json's order does
  // not depend on timing (a run resumed in place lists its files as an uninterrupted one).
  const std::string page = fs::absolute(run_.dir / kReportFileName).lexically_normal().string();
  const auto& listed = manifest_->entries();
  if (std::none_of(listed.begin(), listed.end(), [&page](const OutputEntry& e) { return e.path == page; }))
    manifest_->add("report", page, "report", 0, iteration);
  const int64_t rate = config_.plot.rate;
  // Unforced: the end of the run rewrites it anyway (finish, fail).
  if (force || test_images_since_report_ || (rate > 0 && iteration % rate == 0)) update_report(false, iteration);
}

void RunWriter::update_report(bool force, int64_t list_iteration) {
  const auto now = std::chrono::steady_clock::now();
  if (!force && std::chrono::duration<double>(now - report_written_).count() < kReportMinSeconds) return;
  try {
    write_run_report(run_.dir);
    report_written_ = now, test_images_since_report_ = false;
    if (list_iteration >= 0) manifest_->add("report", run_.dir / kReportFileName, "report", 0, list_iteration);
  } catch (const std::exception& e) {
    if (!report_warned_ && progress_)
      warning(fmt::format("the run report could not be written ({}); training goes on, and 'img2img report {}' "
                          "writes it later",
                          e.what(), run_.dir.string()));
    report_warned_ = true;
  }
}

fs::path RunWriter::save_checkpoint(const torch::nn::Module& module, CheckpointMeta meta,
                                    const std::string& label_suffix) {
  if (!writes()) return {};
  meta.config_toml = run_.config_toml;
  return save_listed_checkpoint(config_.output, module, meta, run_.values, *manifest_, label_suffix);
}

void RunWriter::save_training_state(const std::vector<TrainingStateFile>& files, int64_t iteration) {
  if (!writes()) return;
  for (const TrainingStateFile& f : files) write_file_atomic(f.path, f.bytes);
  // Listed in networks() order (generator 0 first), as the checkpoints are.
  for (size_t i = 0; i < files.size(); ++i) {
    const TrainingStateFile& f = files[(i + files.size() - 1) % files.size()];
    manifest_->add("checkpoint_state", f.path, f.network, f.index, iteration);
  }
}

fs::path RunWriter::save_onnx(UnetGeneratorImpl& generator, int64_t index, int64_t iteration) {
  if (!writes()) return {};
  OnnxExportOptions options;
  options.image_size = config_.data.image_size;
  // What the run saves and exports: the moving average unless generator.ema_decay = 0 (docs/quality.md).
  options.weights = config_.generator.ema_decay > 0 ? "average" : "trained";
  options.direction = onnx_direction(is_unpaired(config_.data.input_type), index);
  return save_listed_onnx(config_.output, options, generator, index, iteration, run_.values, *manifest_);
}

fs::path RunWriter::write_test_image(int64_t iteration, const std::string& file_name, const torch::Tensor& image,
                                     PixelDepth depth, const std::string& role, int64_t sample) {
  if (!writes()) return {};
  TemplateValues values = run_.values;
  values["iteration"] = std::to_string(iteration);
  const fs::path path = fs::path(expand_template(config_.test.output_dir, values)) / file_name;
  write_image(path, tensor_to_image(image), depth);
  manifest_->add("test_image", path, role, sample, iteration);
  test_images_since_report_ = true;
  return path;
}

std::string done_line(const RunEnd& end) {
  const std::string skipped =
      end.skipped_steps > 0
          ? fmt::format("; {} step(s) skipped for non-finite losses (train.nan_policy = skip)", end.skipped_steps)
          : "";
  const std::string how = end.status == "interrupted"     ? "interrupted"
                          : end.status == "stopped_early" ? "stopped early"
                                                          : "";
  const std::string took = format_duration(end.seconds);
  if (end.start_iteration <= 0)
    return fmt::format("done: {} iterations in {}{}{}{}", end.iterations, took, how.empty() ? "" : " (" + how + ")",
                       end.detail, skipped);
  // A resumed run: the time is this session's, so the line names this session's iterations, then the total.
  const int64_t first = end.start_iteration + 1, last = end.iterations;
  const std::string trained = last < first    ? "no iteration"
                              : last == first ? fmt::format("iteration {}", last)
                                              : fmt::format("iterations {}-{}", first, last);
  return fmt::format("done: {} in {} ({}resumed after iteration {}; {} iterations in all){}{}", trained, took,
                     how.empty() ? "" : how + "; ", end.start_iteration, end.iterations, end.detail, skipped);
}

void RunWriter::finish(const RunEnd& end) {
  if (!writes()) return;
  manifest_->finish(end.status, end.reason, end.iterations);
  progress_->line(done_line(end));
  update_report(true, end.iterations);  // before run_end: its `file` event is the run's last
  const auto absolute = [](const fs::path& p) { return p.empty() ? std::string() : fs::absolute(p).string(); };
  const bool tested = end.test_ssim && std::isfinite(*end.test_ssim);
  events_.emit("run_end", {{"status", end.status},
                           {"reason", end.reason},
                           {"iterations", end.iterations},
                           {"start_iteration", end.start_iteration},
                           {"seconds", end.seconds},
                           {"test_ssim", tested ? nlohmann::json(*end.test_ssim) : nlohmann::json()},
                           {"final_generator", absolute(end.final_generator)},
                           {"final_onnx", absolute(end.final_onnx)},
                           {"skipped_steps", end.skipped_steps}});
}

void RunWriter::fail(const std::string& what, int64_t iterations, int64_t skipped_steps) {
  if (!writes()) return;
  progress_.reset();  // its last line stays; the error goes after it
  append_log_line((run_.dir / "train.log").string(), "error: " + what);
  try {  // listed before the run_end event; written after the manifest says failed
    manifest_->add("report", run_.dir / kReportFileName, "report", 0, iterations);
  } catch (const std::exception&) {  // the original error matters; report_run_failure says the rest
  }
  report_run_failure(events_, manifest_.get(), what, iterations, skipped_steps);
  update_report(true);
}

bool RunWriter::remove_untrained_folder() {
  if (!writes() || !run_.created || !run_.resumed_from.empty()) return false;
  for (const OutputEntry& e : manifest_->entries())
    if (e.kind != "plot" && e.kind != "report") return false;  // a checkpoint, ONNX file or test image
  // Only what this writer makes; anything else (a file put there meanwhile) keeps the folder as it is.
  const std::vector<std::string> own = {"config.toml", "outputs.json", "train.log", kReportFileName,
                                        kReportFilesFolder, "plots", kRunLockFileName};
  std::error_code ec;
  for (const auto& entry : fs::directory_iterator(run_.dir, ec))
    if (std::find(own.begin(), own.end(), entry.path().filename().string()) == own.end()) return false;
  if (ec) return false;
  progress_.reset(), plots_.reset(), manifest_.reset();  // closes train.log; writes() is false from here on
  for (const std::string& name : own)
    if (name != kRunLockFileName) fs::remove_all(run_.dir / name, ec);
  // The lock last, as create_run_folder's undo does: until then no other run can take the folder.
  fs::remove(run_.dir / kRunLockFileName, ec);
  run_.lock.reset();
  fs::remove(run_.dir, ec);  // only when nothing else is in it
  return !fs::exists(run_.dir, ec);
}

}  // namespace img2img

#pragma once
// What the run report (run/report.h) reads from a run folder: train.log's lines, the plots' CSVs and
// the test images' file names. Pure parsing, no drawing, so each piece is tested on its own.

#include <cstdint>     // int64_t
#include <filesystem>  // std::filesystem::path
#include <map>         // std::map
#include <optional>    // std::optional
#include <string>      // std::string
#include <vector>      // std::vector

namespace img2img {

/// Points of one chart: series name -> iteration -> value (a later point of an iteration replaces an
/// earlier one: a run resumed in place repeats iterations).
using ChartSeries = std::map<std::string, std::map<int64_t, double>>;

/// One per-iteration line of train.log ("iteration 3/10  lr 0.0002  G_GAN 0.6833 ...  225.8 img/s  ETA 4s").
struct LogIteration {
  int64_t iteration = 0;
  int64_t max_iterations = 0;
  double lr = 0;
  /// Statistics by their printed label, in line order ("G_L1" -> {38.6}; CycleGAN "cycle" -> {a, b}).
  std::vector<std::pair<std::string, std::vector<double>>> values;
  std::optional<double> images_per_s;  ///< empty when every step of the iteration was skipped
  std::string eta;                     ///< as printed ("3m05s"), "" when absent
};

/// One "test at iteration N: NAME X on K sample(s) (T)" line.
struct LogTest {
  int64_t iteration = 0;
  std::string name;  ///< "SSIM" or "cycle SSIM"
  double ssim = 0;
  int64_t samples = 0;
};

/// What train.log says about a run. A log appended by a resume in place holds several runs: the
/// iterations and tests of all of them, the other fields of the last one.
struct RunLog {
  std::vector<std::string> data_lines;  ///< "data: ...", "test data: ..." (sizes), as printed
  std::string device_line;              ///< "device: cpu, 2 CPU threads; generator ... parameters"
  /// The CPU thread count after the last "CPU threads 2 -> 1: ..." line (core/thread_governor.h); 0 when none.
  int cpu_threads_now = 0;
  std::vector<LogIteration> iterations;
  std::vector<LogTest> tests;
  std::vector<std::string> warnings;  ///< text after "warning: "
  std::string done_line;              ///< "done: 8 iterations in 3m05s ..." ("" while running)
  /// --resume: the iteration the last run continued after ("resumed X after iteration 9"); 0 for a new run.
  int64_t resumed_after = 0;
  std::string error;                  ///< text after "error: " (a failed run's last line)
  std::string early_stop;             ///< text after "early stop: "
  /// Training samples one iteration covers, from the "data" line (unpaired: the larger domain); 0 when absent.
  int64_t train_samples = 0;
  /// Data-parallel runs: samples per process and iteration (the "data-parallel" line); 0 otherwise.
  int64_t samples_per_process = 0;
};

/// Parses train.log's text (ProgressReporter's lines, run/progress.h; the formats are those of
/// train/training_loop.cpp). Lines it does not know are skipped; never throws.
RunLog parse_train_log(const std::string& text);

/// The report's "device" fact: `log`'s device line without "device: ", its thread count replaced by the
/// current one when the count followed the free cores and changed ("1 CPU thread (2 at the start; ...)"),
/// "1 CPU thread" in the singular (older logs said "1 CPU threads"). "" without a device line.
std::string device_fact(const RunLog& log);

/// Optimiser steps per iteration of the run `log` describes with data.batch_size `batch_size`,
/// counted as the training loop counts them (train/training_loop.cpp: ceil(samples of this process /
/// batch size)); 0 when the log has no "data" line or `batch_size` < 1.
int64_t steps_per_iteration(const RunLog& log, int64_t batch_size);

/// Seconds of a duration as format_duration (run/progress.h) prints it: "4s", "3m05s", "1h02m" -> 4, 185,
/// 3720; empty for any other text.
std::optional<double> parse_duration(const std::string& text);

/// Where an interrupted run stopped inside an iteration, from its stop reason (outputs.json "reason":
/// "interrupted in iteration 3 after step 2 of 8" -> {3, 2, 8}).
struct PartialIteration {
  int64_t iteration = 0;            ///< the iteration left unfinished
  int64_t steps_done = 0;           ///< its steps that ran
  int64_t steps_per_iteration = 0;  ///< its steps in all
};

/// Parses an interrupted run's stop reason; empty for any other text.
std::optional<PartialIteration> parse_partial_iteration(const std::string& reason);

/// The statistics of `log`'s iteration lines as chart series, for runs without the plots' CSVs
/// (plot.type = disabled): `plot` "loss" (every label but the two below, lower-cased, "_K" appended
/// per value when a label has several: "cycle" -> cycle_0, cycle_1, as the CSV names them), "score"
/// (D(real) -> real, D(fake) -> generated), "ssim" (SSIM -> train, and the test lines -> "test" or
/// "test_cycle"), "lr" (series "lr"). Non-finite values are left out.
ChartSeries log_series(const RunLog& log, const std::string& plot);

/// Reads a plot CSV (`iteration,series,value` with a header line, as PlotWriter writes it; "nan"
/// values left out). Throws DataError naming the file and line of a malformed row.
ChartSeries read_plot_csv(const std::filesystem::path& path);

/// A test image's file name, as the model tests write it:
/// `<iteration:06>_<sample>_<role>.<ext>` (paired) or `<iteration:06>_<A|B>_<stem>_<role>.<ext>`
/// (unpaired), role one of input, generated, reference, translated, reconstructed, side_by_side.
struct TestImageName {
  int64_t iteration = 0;
  std::string sample;  ///< "rock_01"; unpaired: "A_rock_01"
  std::string role;
};

/// Splits a test image's file name (no folder); empty when it does not have that form.
std::optional<TestImageName> parse_test_image_name(const std::string& file_name);

}  // namespace img2img

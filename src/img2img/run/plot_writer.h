#pragma once
// Training plots (spec plot.*): SSIM, loss and score, as tidy CSV or PNG line charts.
//
// PNG charts are drawn by gnuplot (Debian's gnuplot-nox), driven from C++ with a script file and
// the pngcairo terminal (png if cairo is absent). Why gnuplot rather than PLplot: it is one
// optional run-time program instead of a link-time library (no extra build dependency for the CSV
// default), its charts have titles, axis labels, legends and anti-aliasing out of the box, and a
// missing gnuplot only fails runs that ask for plot.type = image, with a message naming the package.
// gnuplot is started with posix_spawn (no shell, no std::system, which would ignore SIGINT in
// img2img while it runs) in a process group of its own.

#include <cstdint>     // int64_t
#include <filesystem>  // std::filesystem::path
#include <map>         // std::map
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/config/run_config.h"

namespace img2img {

/// A plot file written by PlotWriter.
struct PlotFile {
  std::string plot;  ///< "ssim", "loss" or "score"
  std::filesystem::path path;
};

/// A plot's chart title and y-axis label.
struct PlotLabels {
  const char* title;
  const char* y_label;
};

/// The labels of plot `plot` ("ssim", "loss", "score"; others get no title) drawn with the series
/// `series`: an SSIM plot whose series measure the cycle reconstruction (unpaired runs, "test_cycle")
/// is titled as such, not "generated vs reference".
PlotLabels plot_labels(const std::string& plot, const std::vector<std::string>& series);

/// Collects (iteration, series, value) points of the three plots and writes them to
/// `<run_dir>/plots/<plot>.csv` (header `iteration,series,value`, one row per point) and, with
/// plot.type = image, also as `<plot>.png` charts drawn from the same points (the CSV keeps them
/// for --resume, load_csv_history).
/// Series: ssim = train, test; loss = g_gan, g_l1, d_real, d_fake; score = real, generated.
/// Files are written atomically (temporary file, then rename).
class PlotWriter {
 public:
  /// Throws Error if plot.type = image and gnuplot cannot be run (naming the Debian package).
  PlotWriter(const std::filesystem::path& run_dir, const PlotConfig& config);

  /// Adds one point. `plot` and `series` are free-form names; non-finite values are kept in the
  /// CSV ("nan") and skipped in PNG charts.
  void add(const std::string& plot, const std::string& series, int64_t iteration, double value);
  /// --resume: adds the points of an earlier run's CSV plots (`<earlier_run_dir>/plots/*.csv`, in
  /// name order) up to `up_to_iteration`, so the series continue (CSV and PNG charts alike). Returns
  /// the points added (0 when there are none: plot.type = disabled, or an image run of a version
  /// that wrote no CSV). Throws DataError
  /// naming the file and line of a malformed row.
  int64_t load_csv_history(const std::filesystem::path& earlier_run_dir, int64_t up_to_iteration);
  /// Rewrites every plot's CSV (nothing when plot.type = disabled), whatever plot.rate says: the
  /// trainers call it before each checkpoint, so a run killed (kill -9) before its next plot
  /// iteration still has the points up to the checkpoint for --resume. Returns the files written.
  /// Throws WriteError on failure.
  std::vector<PlotFile> write_points();
  /// Rewrites every plot with points when `force` or `iteration` is a multiple of plot.rate (nothing
  /// when plot.type = disabled): its CSV (skipped when `points_written`: write_points ran for this
  /// iteration), then (plot.type = image) its PNG, drawn by gnuplot in its own process group (a
  /// terminal's Ctrl-C reaches only img2img, which stops the run in order). Returns the files
  /// written. Throws WriteError on failure, quoting gnuplot's stderr.
  std::vector<PlotFile> write_if_due(int64_t iteration, bool force, bool points_written = false);

 private:
  struct Point {
    int64_t iteration;
    std::string series;
    double value;
  };
  void write_csv(const std::filesystem::path& path, const std::vector<Point>& points) const;
  void write_png(const std::filesystem::path& path, const std::string& plot, const std::vector<Point>& points) const;

  std::filesystem::path dir_;
  PlotConfig config_;
  std::string terminal_;  // gnuplot terminal: pngcairo or png
  std::vector<std::string> order_;  // plots in order of first point
  std::map<std::string, std::vector<Point>> points_;
};

}  // namespace img2img

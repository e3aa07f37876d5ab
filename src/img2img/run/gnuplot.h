#pragma once
// Running gnuplot (Debian's gnuplot-nox), the one drawing program of the plots (run/plot_writer.h) and
// of the run report's charts (run/report.h).

#include <cstdint>     // int64_t
#include <filesystem>  // std::filesystem::path
#include <set>         // std::set
#include <string>      // std::string
#include <vector>      // std::vector

namespace img2img {

/// Runs `gnuplot ARGS...` (no shell, found on PATH) and waits for it: stdin and stdout /dev/null,
/// stderr to `stderr_path`. It gets a process group of its own and runs with SIGINT, SIGTERM and SIGHUP
/// blocked, so a terminal's Ctrl-C reaches only img2img, whose handler stops the run in order;
/// unlike std::system, img2img's SIGINT/SIGQUIT dispositions are left alone while it runs.
/// Returns "" on exit status 0, else what went wrong ("exited with status 1", "was killed by signal
/// 9", "could not be started: No such file or directory"). Never throws.
std::string run_gnuplot(const std::vector<std::string>& args, const std::filesystem::path& stderr_path);

/// `text` as a gnuplot single-quoted string ('it''s').
std::string gnuplot_quote(const std::string& text);

/// The iterations a chart plots span at most this many: a tick per iteration (gnuplot_iteration_axis).
constexpr int64_t kTickPerIterationSpan = 10;

/// gnuplot commands for an x axis of iterations `xs` (whole numbers), shared by the PNG plots
/// (run/plot_writer.h) and the report's charts (run/report.h): "set xtics 1" when they span at most
/// kTickPerIterationSpan (gnuplot alone marks 1.2, 1.4, ... on a short run), and, for a single
/// iteration, an x range of one iteration each side (gnuplot cannot autoscale an empty range). Longer
/// runs keep gnuplot's own ticks (whole numbers there). "" for no iterations.
std::string gnuplot_iteration_axis(const std::set<int64_t>& xs);

}  // namespace img2img

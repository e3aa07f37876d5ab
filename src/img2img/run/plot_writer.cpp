#include "img2img/run/plot_writer.h"

#include <fmt/format.h>  // fmt::format

#include <algorithm>  // std::find, std::sort
#include <cmath>      // std::isfinite
#include <set>        // std::set
#include <sstream>    // std::istringstream

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/run/gnuplot.h"

namespace img2img {
namespace fs = std::filesystem;

PlotLabels plot_labels(const std::string& plot, const std::vector<std::string>& series) {
  const bool cycle = std::any_of(series.begin(), series.end(),
                                 [](const std::string& s) { return s.find("cycle") != std::string::npos; });
  if (plot == "ssim" && cycle) return {"Cycle SSIM: reconstruction vs original (A -> B -> A, B -> A -> B)", "mean SSIM"};
  if (plot == "ssim") return {"SSIM of generated vs reference", "mean SSIM"};
  if (plot == "loss") return {"Losses", "loss"};
  if (plot == "score") return {"Discriminator scores", "mean D probability of real"};
  return {"", "value"};
}

PlotWriter::PlotWriter(const fs::path& run_dir, const PlotConfig& config) : dir_(run_dir / "plots"), config_(config) {
  if (config_.type != PlotType::kImage) return;
  if (run_gnuplot({"-e", "set terminal pngcairo"}, "/dev/null").empty())
    terminal_ = "pngcairo size 960,540 noenhanced font 'sans,10'";  // noenhanced: '_' is not a subscript
  else if (run_gnuplot({"-e", "set terminal png"}, "/dev/null").empty())
    terminal_ = "png size 960,540 noenhanced";
  else
    throw Error("plot.type = image needs gnuplot with a PNG terminal, which could not be run; install Debian's "
                "gnuplot-nox (apt-get install gnuplot-nox) or set plot.type = csv");
}

void PlotWriter::add(const std::string& plot, const std::string& series, int64_t iteration, double value) {
  if (std::find(order_.begin(), order_.end(), plot) == order_.end()) order_.push_back(plot);
  points_[plot].push_back({iteration, series, value});
}

int64_t PlotWriter::load_csv_history(const fs::path& earlier_run_dir, int64_t up_to_iteration) {
  std::vector<fs::path> files;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(earlier_run_dir / "plots", ec))
    if (e.path().extension() == ".csv") files.push_back(e.path());
  std::sort(files.begin(), files.end());
  int64_t added = 0;
  for (const fs::path& file : files) {
    std::istringstream in(read_file(file));
    std::string line;
    for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
      if (line_no == 1 || line.empty()) continue;  // header iteration,series,value
      const size_t a = line.find(','), b = line.rfind(',');
      try {
        if (a == std::string::npos || a == b) throw std::invalid_argument("expected iteration,series,value");
        size_t used = 0;
        const int64_t iteration = std::stoll(line.substr(0, a), &used);
        if (used != a) throw std::invalid_argument("bad iteration");
        const std::string value = line.substr(b + 1);
        const double v = value == "nan" ? std::nan("") : std::stod(value);
        if (iteration <= up_to_iteration) add(file.stem().string(), line.substr(a + 1, b - a - 1), iteration, v), ++added;
      } catch (const std::exception&) {
        throw DataError(fmt::format("plot file '{}' line {} ('{}') is not 'iteration,series,value'; a resumed run "
                                    "continues its series. Repair or delete the file.",
                                    file.string(), line_no, line));
      }
    }
  }
  return added;
}

std::vector<PlotFile> PlotWriter::write_points() {
  std::vector<PlotFile> written;
  if (config_.type == PlotType::kDisabled) return written;
  for (const std::string& plot : order_) {
    const fs::path csv = dir_ / (plot + ".csv");
    write_csv(csv, points_.at(plot));
    written.push_back({plot, csv});
  }
  return written;
}

std::vector<PlotFile> PlotWriter::write_if_due(int64_t iteration, bool force, bool points_written) {
  std::vector<PlotFile> written;
  if (config_.type == PlotType::kDisabled) return written;
  if (!force && (config_.rate <= 0 || iteration % config_.rate != 0)) return written;
  // The CSV always: with plot.type = image it holds the chart's points, so --resume continues them.
  if (!points_written) written = write_points();
  if (config_.type != PlotType::kImage) return written;
  for (const std::string& plot : order_) {
    const fs::path png = dir_ / (plot + ".png");
    write_png(png, plot, points_.at(plot));
    written.push_back({plot, png});
  }
  return written;
}

void PlotWriter::write_csv(const fs::path& path, const std::vector<Point>& points) const {
  std::string text = "iteration,series,value\n";
  for (const Point& p : points)
    text += std::isfinite(p.value) ? fmt::format("{},{},{:.9g}\n", p.iteration, p.series, p.value)
                                   : fmt::format("{},{},nan\n", p.iteration, p.series);
  write_file_atomic(path, text);
}

void PlotWriter::write_png(const fs::path& path, const std::string& plot, const std::vector<Point>& points) const {
  std::vector<std::string> series;
  for (const Point& p : points)
    if (std::find(series.begin(), series.end(), p.series) == series.end()) series.push_back(p.series);
  const PlotLabels labels = plot_labels(plot, series);
  const fs::path tmp_png = path.string() + ".tmp.png", script_path = path.string() + ".gp";
  std::string script = fmt::format(
      "set terminal {}\nset output {}\nset title {}\nset xlabel 'iteration'\nset ylabel {}\n"
      "set key outside right top\nset grid\nset style data linespoints\nset pointsize 0.5\n",
      terminal_, gnuplot_quote(tmp_png.string()), gnuplot_quote(labels.title), gnuplot_quote(labels.y_label));
  // Whole iterations on the x axis: a tick per iteration on short runs (gnuplot alone marks 1.2, 1.4, ...).
  std::set<int64_t> xs;
  for (const Point& p : points)
    if (std::isfinite(p.value)) xs.insert(p.iteration);
  script += gnuplot_iteration_axis(xs);
  std::string plot_cmd = "plot";
  for (size_t s = 0; s < series.size(); ++s) {
    script += fmt::format("$s{} << EOD\n", s);
    for (const Point& p : points)
      if (p.series == series[s] && std::isfinite(p.value)) script += fmt::format("{} {:.9g}\n", p.iteration, p.value);
    script += "EOD\n";
    plot_cmd += fmt::format("{} $s{} title {}", s ? "," : "", s, gnuplot_quote(series[s]));
  }
  script += plot_cmd + "\n";
  write_file_atomic(script_path, script);
  const fs::path log_path = path.string() + ".log";  // gnuplot's stderr
  const std::string failure = run_gnuplot({script_path.string()}, log_path);
  std::error_code ec;
  if (!failure.empty() || !fs::exists(tmp_png)) {
    std::string log;
    try {
      log = read_file(log_path);
    } catch (const Error&) {
    }
    while (!log.empty() && (log.back() == '\n' || log.back() == ' ')) log.pop_back();
    fs::remove(tmp_png, ec);
    throw WriteError(fmt::format("gnuplot failed to draw '{}' (script kept at '{}'): gnuplot {}{}", path.string(),
                                 script_path.string(), failure.empty() ? "exited with status 0 but wrote no image" : failure,
                                 log.empty() ? " and printed nothing on stderr" : ": " + log));
  }
  fs::remove(script_path, ec), fs::remove(log_path, ec);
  fs::rename(tmp_png, path, ec);
  if (ec) throw WriteError(fmt::format("cannot rename '{}' to '{}': {}", tmp_png.string(), path.string(), ec.message()));
}

}  // namespace img2img

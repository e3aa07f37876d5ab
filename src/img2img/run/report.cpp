#include "img2img/run/report.h"

#include <fmt/format.h>          // fmt::format
#include <nlohmann/json.hpp>     // nlohmann::json
#include <opencv2/core.hpp>      // cv::minMaxLoc

#include <algorithm>  // std::sort, std::clamp
#include <chrono>     // std::chrono
#include <cmath>      // std::isfinite, std::ceil, std::log10
#include <ctime>      // std::tm, localtime_r
#include <map>        // std::map
#include <limits>     // std::numeric_limits
#include <optional>   // std::optional
#include <set>        // std::set

#include "img2img/config/config_keys.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/core/path_template.h"
#include "img2img/infer/ssim_files.h"
#include "img2img/run/gnuplot.h"
#include "img2img/run/outputs_manifest.h"
#include "img2img/run/plot_writer.h"
#include "img2img/run/progress.h"
#include "img2img/run/report_data.h"
#include "img2img/run/report_preview.h"
#include "img2img/run/run_lock.h"

namespace img2img {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

std::string html(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (char c : text) switch (c) {
      case '&': out += "&amp;"; break;
      case '<': out += "&lt;"; break;
      case '>': out += "&gt;"; break;
      case '"': out += "&quot;"; break;
      case '\'': out += "&#39;"; break;
      default: out += c;
    }
  return out;
}

// A link from report.html (in `dir`) to `path`: relative when below the folder, else a file:// URL.
std::string href(const fs::path& dir, const fs::path& path) {
  const fs::path p = fs::absolute(path).lexically_normal();
  const fs::path rel = p.lexically_relative(dir);
  const bool inside = !rel.empty() && *rel.begin() != "..";
  const std::string text = inside ? rel.generic_string() : p.generic_string();
  std::string out = inside ? "" : "file://";
  for (unsigned char c : text) {
    if (std::isalnum(c) || c == '/' || c == '-' || c == '_' || c == '.' || c == '~')
      out += static_cast<char>(c);
    else
      out += fmt::format("%{:02X}", c);
  }
  return out;
}

std::string file_stamp(const fs::path& p) {
  std::error_code ec;
  const auto t = fs::last_write_time(p, ec);
  const auto size = fs::file_size(p, ec);
  if (ec) return "";
  return fmt::format("{}:{}", t.time_since_epoch().count(), size);
}

// Seconds since a file was last written, by the file-system clock.
std::optional<double> age_seconds(const fs::path& p, fs::file_time_type now) {
  std::error_code ec;
  const auto t = fs::last_write_time(p, ec);
  if (ec) return std::nullopt;
  return std::chrono::duration<double>(now - t).count();
}

// The settings the page needs, read leniently from config.toml (a run of an older version may have
// keys this one does not know).
struct ReportConfig {
  std::map<std::string, std::string> values;
  std::string get(const std::string& key, const std::string& fallback = "") const {
    const auto found = values.find(key);
    return found == values.end() ? fallback : found->second;
  }
  double number(const std::string& key, double fallback) const {
    try {
      return std::stod(get(key, "x"));
    } catch (const std::exception&) {
      return fallback;
    }
  }
};

ReportConfig read_report_config(const std::string& text, std::vector<std::string>& notes) {
  ReportConfig c;
  try {
    for (const ConfigAssignment& a : parse_config_text(text, "config.toml")) {
      std::string v = a.value;
      if (v.size() >= 2 && (v.front() == '"' || v.front() == '\'') && v.back() == v.front()) v = v.substr(1, v.size() - 2);
      c.values[a.key] = v;
    }
  } catch (const std::exception& e) {
    notes.push_back(fmt::format("config.toml could not be read ({}); settings are not shown", e.what()));
  }
  return c;
}

struct Chart {
  std::string name, title, y_label;
  ChartSeries series;
  std::optional<double> target;  // a horizontal line (test.target_ssim)
  std::string target_label;
  bool log_y = false;
  std::string svg;  // drawn
};

size_t point_count(const ChartSeries& s) {
  size_t n = 0;
  for (const auto& [name, points] : s) n += points.size();
  return n;
}

// Draws every chart with points in one gnuplot run (svg terminal), into chart.svg. Returns why no chart
// could be drawn when gnuplot failed ("" otherwise); a chart gnuplot left out becomes a note.
std::string draw_charts(std::vector<Chart>& charts, const fs::path& work_dir, std::vector<std::string>& notes) {
  std::string script;
  std::vector<size_t> drawn;
  for (size_t c = 0; c < charts.size(); ++c) {
    Chart& chart = charts[c];
    if (point_count(chart.series) == 0) continue;
    bool positive = true;
    for (const auto& [name, points] : chart.series)
      for (const auto& [it, v] : points) positive = positive && v > 0;
    chart.log_y = chart.log_y && positive;
    const std::string y_label = chart.log_y ? chart.y_label + " (log scale)" : chart.y_label;
    size_t longest = 0;  // a point mark each while they stay apart; long runs get plain lines
    for (const auto& [name, points] : chart.series) longest = std::max(longest, points.size());
    script += fmt::format(
        "set terminal svg size 640,320 dynamic noenhanced font 'sans,12' background '#ffffff'\n"
        "set output {}\nreset\nset title {}\nset xlabel 'iteration'\nset ylabel {}\n"
        "set key outside right top\nset grid\nset style data {}\nset pointsize 0.8\n"
        "set xtics nomirror\nset ytics nomirror\n{}",
        gnuplot_quote((work_dir / fmt::format("chart{}.svg", c)).string()), gnuplot_quote(chart.title),
        gnuplot_quote(y_label), longest <= kReportMarkedPoints ? "linespoints" : "lines",
        chart.log_y ? "set logscale y\n" : "");
    // Iterations are whole numbers: a tick per iteration on short runs (gnuplot would mark 1.5, 2.5), and
    // one iteration only gets a range around it (gnuplot cannot autoscale an empty x range).
    std::set<int64_t> xs;
    for (const auto& [name, points] : chart.series)
      for (const auto& [it, v] : points) xs.insert(it);
    script += gnuplot_iteration_axis(xs);
    // All values equal (a constant learning rate): gnuplot would zoom into rounding noise, every tick
    // reading the same number; show the value in the middle of a range around it.
    double lo = std::numeric_limits<double>::max(), hi = std::numeric_limits<double>::lowest();
    for (const auto& [name, points] : chart.series)
      for (const auto& [it, v] : points) lo = std::min(lo, v), hi = std::max(hi, v);
    if (chart.target) lo = std::min(lo, *chart.target), hi = std::max(hi, *chart.target);
    if (lo == hi) {
      const double d = lo != 0 ? std::abs(lo) / 2 : 1.0;
      script += chart.log_y ? fmt::format("set yrange [{:.9g}:{:.9g}]\n", lo / 2, lo * 2)
                            : fmt::format("set yrange [{:.9g}:{:.9g}]\n", lo - d, lo + d);
    } else if (!chart.log_y) {
      // Headroom: autoscaling stops at the extreme values when they fall on a tick (an SSIM of 1, a
      // target line of 0.9 above the data), drawing them on the frame. (A log axis ends at whole decades.)
      script += "set offsets 0, 0, graph 0.06, graph 0.06\n";
    }
    if (chart.name == "lr") {
      // One format for every tick (gnuplot's default mixes 0.0001 and 5e-05): as many digits as the
      // range needs to tell the ticks apart.
      const double span = hi > lo ? hi - lo : std::max(std::abs(lo), 1e-30);
      const double ratio = std::clamp(std::max(std::abs(lo), std::abs(hi)) / span, 1.0, 1e6);
      const int digits = std::clamp(static_cast<int>(std::ceil(std::log10(ratio))), 1, 6);
      script += fmt::format("set format y '%.{}e'\n", digits);
    }
    std::string plot = "plot";
    size_t s = 0;
    for (const auto& [name, points] : chart.series) {
      script += fmt::format("$c{}s{} << EOD\n", c, s);
      for (const auto& [it, v] : points) script += fmt::format("{} {:.9g}\n", it, v);
      script += "EOD\n";
      plot += fmt::format("{} $c{}s{} using 1:2 title {} lw 2", s ? "," : "", c, s, gnuplot_quote(name));
      ++s;
    }
    if (chart.target)
      plot += fmt::format(", {:.9g} with lines dt 2 lw 2 lc rgb '#c00000' title {}", *chart.target,
                          gnuplot_quote(chart.target_label));
    script += plot + "\nset output\n";
    drawn.push_back(c);
  }
  if (drawn.empty()) return "";
  const fs::path script_path = work_dir / "charts.gp", log_path = work_dir / "charts.log";
  write_file_atomic(script_path, script);
  const std::string failure = run_gnuplot({script_path.string()}, log_path);
  std::string log;
  try {
    log = read_file(log_path);
  } catch (const Error&) {
  }
  std::error_code ec;
  if (!failure.empty())
    return failure.find("could not be started") != std::string::npos
               ? fmt::format("no curves: they are drawn by gnuplot, which could not be started; install Debian's "
                             "gnuplot-nox (apt-get install gnuplot-nox), then run 'img2img report {}'",
                             work_dir.parent_path().string())
               : fmt::format("no curves: gnuplot {} drawing them (script kept at '{}'): {}", failure,
                             script_path.string(), log);
  fs::remove(script_path, ec), fs::remove(log_path, ec);
  for (size_t c : drawn) {
    const fs::path svg_path = work_dir / fmt::format("chart{}.svg", c);
    std::string svg;
    try {
      svg = read_file(svg_path);
    } catch (const Error&) {
      notes.push_back(fmt::format("gnuplot wrote no chart '{}'", charts[c].title));
      continue;
    }
    fs::remove(svg_path, ec);
    const size_t start = svg.find("<svg");
    if (start == std::string::npos) continue;
    svg = svg.substr(start);
    // Ids unique in the page (gnuplot numbers its groups from 1 in every chart).
    for (size_t at = 0; (at = svg.find("id=\"gnuplot_", at)) != std::string::npos;)
      svg.insert(at + 4, charts[c].name + "_"), at += 4 + charts[c].name.size();
    svg.insert(4, fmt::format(" class=\"chart\" data-chart=\"{}\" role=\"img\" aria-label=\"{}\"", charts[c].name,
                              html(charts[c].title)));
    charts[c].svg = svg;
  }
  return "";
}

// One test image shown in the gallery.
struct GalleryImage {
  fs::path path;
  std::string shown;  // href of what <img> shows (the file or its preview)
  std::string label;  // "16-bit, 1 channel; shown colour-mapped and hill-shaded"
  bool alpha = false;
  std::string error;
};

// Layout of report/images.cache (JSON text; not named *.json: run folders are searched for checkpoint
// metadata *.json); a cache of another layout is dropped.
constexpr int kCacheVersion = 3;

// Seconds after which a live run's page that was not rewritten says the run may have stopped, while no
// iteration has ended (its length unknown: one iteration of a large data set may take many minutes).
constexpr int kStaleUnknownSeconds = 30 * 60;

struct ImageCache {
  json doc = json::object();
  bool changed = false;
};

// What the gallery needs to know of one image file, kept in the cache while the file is unchanged.
struct ImageInfo {
  std::string label;  // "16-bit, 3 channels"
  bool alpha = false, depth8 = true, depth16 = false;
  PreviewKind kind = PreviewKind::kNone;
  HeightRange range;  // of height_channel
  std::string error;
};

ImageInfo image_info(const fs::path& path, ImageCache& cache) {
  const std::string stamp = file_stamp(path);
  json& entry = cache.doc[path.string()];
  if (!entry.is_object() || entry.value("stamp", "") != stamp) {
    entry = {{"stamp", stamp}};
    cache.changed = true;
    try {
      const DecodedImage image = read_image(path);
      double lo = 0, hi = 0;
      cv::minMaxLoc(height_channel(image), &lo, &hi);
      entry["label"] = fmt::format("{}, {} channel{}", to_string(image.depth), image.channels,
                                   image.channels == 1 ? "" : "s");
      entry["alpha"] = image.channels == 2 || image.channels == 4;
      entry["depth8"] = image.depth == PixelDepth::k8;
      entry["depth16"] = image.depth == PixelDepth::k16;
      entry["kind"] = static_cast<int>(preview_kind(image, path));
      entry["lo"] = lo, entry["hi"] = hi;
    } catch (const std::exception& e) {
      entry["error"] = e.what();
    }
  }
  ImageInfo info;
  info.label = entry.value("label", "");
  info.alpha = entry.value("alpha", false), info.depth8 = entry.value("depth8", true);
  info.depth16 = entry.value("depth16", false);
  info.kind = static_cast<PreviewKind>(entry.value("kind", 0));
  info.range = {entry.value("lo", 0.0), entry.value("hi", 0.0)};
  info.error = entry.value("error", "");
  return info;
}

// The images of one gallery row. A row with a height field (kHeight) shows all its 16-bit and float
// images as height previews on one colour scale (the union of their ranges), so generated and
// reference compare; float colour images as 8-bit PNGs; the rest as they are.
std::vector<GalleryImage> gallery_row(const fs::path& dir, const std::vector<fs::path>& paths, int64_t iteration,
                                      ImageCache& cache) {
  std::vector<ImageInfo> infos;
  bool height_row = false;
  for (const fs::path& p : paths) {
    infos.push_back(image_info(p, cache));
    height_row = height_row || (infos.back().kind == PreviewKind::kHeight && infos.back().error.empty());
  }
  HeightRange range{std::numeric_limits<double>::max(), std::numeric_limits<double>::lowest()};
  std::vector<PreviewKind> modes;
  bool all_16_bit = true;  // the caption gives the range in the files' own 16-bit values
  for (const ImageInfo& info : infos) {
    const bool height = height_row && !info.depth8 && info.error.empty();
    modes.push_back(height ? PreviewKind::kHeight : info.error.empty() ? info.kind : PreviewKind::kNone);
    if (height) range.lo = std::min(range.lo, info.range.lo), range.hi = std::max(range.hi, info.range.hi);
    if (height) all_16_bit = all_16_bit && info.depth16;
  }
  const std::string range_text =
      all_16_bit ? fmt::format("{:.0f} to {:.0f} of 65535", range.lo * 65535.0, range.hi * 65535.0)
                 : fmt::format("{:.4g} to {:.4g}", range.lo, range.hi);
  std::vector<GalleryImage> row;
  for (size_t i = 0; i < paths.size(); ++i) {
    GalleryImage g;
    g.path = paths[i], g.alpha = infos[i].alpha, g.error = infos[i].error, g.label = infos[i].label;
    g.shown = href(dir, paths[i]);
    if (modes[i] != PreviewKind::kNone) {
      const fs::path preview =
          dir / kReportFilesFolder / "previews" / std::to_string(iteration) / (paths[i].stem().string() + ".png");
      const json made = {{"kind", static_cast<int>(modes[i])},
                         {"lo", modes[i] == PreviewKind::kHeight ? range.lo : 0.0},
                         {"hi", modes[i] == PreviewKind::kHeight ? range.hi : 0.0}};
      json& entry = cache.doc[paths[i].string()];
      std::error_code ec;
      if (entry.value("preview", json()) != made || !fs::exists(preview, ec)) {
        try {
          write_preview(read_image(paths[i]), modes[i], preview,
                        modes[i] == PreviewKind::kHeight ? std::optional<HeightRange>(range) : std::nullopt);
          entry["preview"] = made;
          cache.changed = true;
        } catch (const std::exception& e) {
          g.error = e.what();
        }
      }
      if (g.error.empty()) g.shown = href(dir, preview);
      if (modes[i] == PreviewKind::kHeight)
        g.label += "; shown colour-mapped and hill-shaded on this row's scale: " + range_text;
    }
    row.push_back(std::move(g));
  }
  return row;
}

// SSIM of `a` and `b` (files), cached under a's entry with both stamps.
std::optional<double> cached_ssim(const fs::path& a, const fs::path& b, ImageCache& cache) {
  const std::string stamp = file_stamp(a) + "|" + file_stamp(b);
  json& entry = cache.doc[a.string() + "|ssim"];
  if (entry.is_object() && entry.value("stamp", "") == stamp)
    return entry["ssim"].is_number() ? std::optional<double>(entry["ssim"].get<double>()) : std::nullopt;
  entry = {{"stamp", stamp}, {"ssim", nullptr}};
  cache.changed = true;
  try {
    const double v = ssim_image_files(a, b);
    entry["ssim"] = v;
    return v;
  } catch (const std::exception&) {
    return std::nullopt;
  }
}

struct TestSet {
  int64_t iteration = 0;
  std::map<std::string, std::map<std::string, fs::path>> samples;  // sample -> role -> file
};

// Tested iterations to offer: the latest, the first and evenly spread ones between, at most `limit`.
std::vector<int64_t> pick_iterations(const std::vector<int64_t>& all, int limit) {
  if (static_cast<int>(all.size()) <= limit) return all;
  std::set<int64_t> chosen;
  const size_t n = all.size();
  for (int k = 0; k < limit; ++k) chosen.insert(all[static_cast<size_t>(k) * (n - 1) / static_cast<size_t>(limit - 1)]);
  return {chosen.begin(), chosen.end()};
}

const char* const kCss = R"(
body{font-family:system-ui,sans-serif;margin:1.5em;color:#222;background:#fafafa}
h1{margin:0 0 .2em;font-size:1.5em} h2{margin-top:1.6em;border-bottom:1px solid #ccc}
.status{display:inline-block;padding:.2em .7em;border-radius:1em;font-weight:bold;color:#fff}
.status-running{background:#1565c0}.status-finished{background:#2e7d32}.status-stopped_early{background:#2e7d32}
.status-interrupted{background:#ef6c00}.status-failed{background:#c62828}.status-not_running{background:#6d4c41}
table.facts td{padding:.15em 1em .15em 0;vertical-align:top} table.facts td:first-child{color:#555;white-space:nowrap}
.error{color:#c62828;white-space:pre-wrap} .note{color:#8d6e00}
pre{background:#fff;border:1px solid #ddd;padding:.8em;overflow:auto;max-height:40em}
.charts{display:flex;flex-wrap:wrap;gap:1em} .charts svg{width:640px;max-width:100%;height:auto;background:#fff;border:1px solid #ddd}
table.gallery{border-collapse:collapse} table.gallery td,table.gallery th{padding:.3em;border:1px solid #ddd;background:#fff;vertical-align:top;font-weight:normal;text-align:left}
table.gallery img{width:192px;height:192px;object-fit:contain;image-rendering:pixelated;display:block}
table.gallery .alpha img{background:repeating-conic-gradient(#bbb 0 25%,#fff 0 50%) 0 0/16px 16px}
.caption{font-size:.8em;color:#555;max-width:192px;overflow-wrap:anywhere} .ssim{font-weight:bold}
#data{white-space:pre-line}
)";

// The page's script: the gallery's iteration selector (kept in the address as #iteration=N); while the
// run goes, the reload (location.reload keeps the hash) unless the page is stale (body data-written-ms
// older than data-stale-after-s: a killed run), which shows #stale, turns the "running" badge and title
// into "not updated" and hides the ETA instead; across
// reloads the open configuration and the scroll position (sessionStorage, where the browser allows it);
// and, for the tests, body[data-images-loaded] = "loaded/all" of the gallery's images.
const char* const kScript = R"(
(function(){
  var body=document.body,key='img2img-report:'+location.pathname,saved={};
  try{saved=JSON.parse(sessionStorage.getItem(key))||{};}catch(e){}
  var config=document.getElementById('config');
  if(config&&typeof saved.configOpen==='boolean')config.open=saved.configOpen;
  function save(){
    var state={configOpen:config?config.open:null,scrollY:window.scrollY};
    try{sessionStorage.setItem(key,JSON.stringify(state));}catch(e){}
  }
  window.addEventListener('pagehide',save);
  var select=document.getElementById('iteration-select');
  function show(it){document.querySelectorAll('.test').forEach(function(d){d.hidden=d.dataset.iteration!==it;});}
  if(select){
    var m=location.hash.match(/^#iteration=(\d+)$/);
    if(m&&document.querySelector('.test[data-iteration="'+m[1]+'"]'))select.value=m[1];
    show(select.value);
    select.addEventListener('change',function(){show(select.value);history.replaceState(null,'','#iteration='+select.value);});
  }
  var refresh=Number(body.dataset.refreshS)||0,staleAfter=Number(body.dataset.staleAfterS)||0;
  var age=(Date.now()-(Number(body.dataset.writtenMs)||0))/1000;
  if(refresh>0&&staleAfter>0&&age>staleAfter){
    var s=Math.round(age);
    document.getElementById('stale-age').textContent=
      s>=3600?Math.floor(s/3600)+' h '+Math.floor(s%3600/60)+' min':s>=60?Math.floor(s/60)+' min':s+' s';
    document.getElementById('stale').hidden=false;
    document.getElementById('refresh-note').hidden=true;
    var eta=document.getElementById('eta');if(eta)eta.parentNode.hidden=true;
    var badge=document.getElementById('status');
    badge.className='status status-not_running';badge.textContent='not updated';
    document.title=document.title.replace(' - running - ',' - not updated - ');
    body.dataset.stale='true';
  }else if(refresh>0){
    setTimeout(function(){save();location.reload();},refresh*1000);
  }
  window.addEventListener('load',function(){
    var imgs=document.querySelectorAll('#gallery img'),ok=0;
    imgs.forEach(function(i){if(i.complete&&i.naturalWidth>0)ok++;});
    body.dataset.imagesLoaded=ok+'/'+imgs.length;
    if(window.scrollY===0&&saved.scrollY>0)window.scrollTo(0,saved.scrollY);
  });
})();
)";

}  // namespace

ReportResult write_run_report(const fs::path& run_dir) {
  if (run_dir.empty())
    throw DataError("no run folder given (an empty path); give the folder a training run wrote (its "
                    "output.run_dir, printed as 'run folder: ...')");
  const fs::path dir = fs::absolute(run_dir).lexically_normal();
  const fs::path config_path = dir / "config.toml", manifest_path = dir / "outputs.json", log_path = dir / "train.log";
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    throw DataError(fmt::format("'{}' is a file, not a run folder; give the folder it lies in, '{}', if that is "
                                "the run's (the folder a training run wrote: its output.run_dir, printed as 'run "
                                "folder: ...')",
                                run_dir.string(), dir.parent_path().string()));
  if (!fs::is_directory(dir, ec))
    throw DataError(fmt::format("run folder '{}' does not exist; give the folder a training run wrote (its "
                                "output.run_dir, printed as 'run folder: ...')",
                                run_dir.string()));
  if (!fs::exists(config_path, ec) && !fs::exists(manifest_path, ec) && !fs::exists(log_path, ec))
    throw DataError(fmt::format("'{}' is not a run folder: it has none of config.toml, outputs.json and train.log, "
                                "which img2img train writes; give the folder a training run wrote (its "
                                "output.run_dir, printed as 'run folder: ...')",
                                run_dir.string()));
  ReportResult result;
  result.path = dir / kReportFileName;
  if (fs::is_directory(result.path, ec))  // write_file_atomic's message would ask for another file name
    throw WriteError(fmt::format("cannot write the run's page: '{}' is a folder; move or delete it, then run "
                                 "'img2img report {}'",
                                 result.path.string(), dir.string()));
  std::vector<std::string>& notes = result.notes;
  const fs::path work_dir = dir / kReportFilesFolder;
  fs::create_directories(work_dir, ec);
  const auto now = fs::file_time_type::clock::now();

  std::string config_text;
  try {
    if (fs::exists(config_path)) config_text = read_file(config_path);
  } catch (const std::exception& e) {
    notes.push_back(e.what());
  }
  const ReportConfig config = read_report_config(config_text, notes);

  json manifest;
  std::vector<OutputEntry> outputs;
  if (fs::exists(manifest_path, ec)) {
    try {
      manifest = json::parse(read_file(manifest_path));
      outputs = read_manifest_entries(manifest_path, std::numeric_limits<int64_t>::max());
    } catch (const std::exception& e) {
      notes.push_back(fmt::format("outputs.json could not be read: {}", e.what()));
    }
  }
  RunLog log;
  try {
    if (fs::exists(log_path, ec)) log = parse_train_log(read_file(log_path));
  } catch (const std::exception& e) {
    notes.push_back(e.what());
  }

  // Status: outputs.json's, or what train.log ends with for a folder without one (or a damaged one).
  const bool have_manifest = manifest.is_object();
  const bool have_log = fs::exists(log_path, ec);
  std::string status = have_manifest ? manifest.value("status", "") : "";
  std::string reason = have_manifest ? manifest.value("reason", "") : "";
  if (status.empty()) status = !log.error.empty() ? "failed" : !log.done_line.empty() ? "finished" : "";
  if (status == "failed" && reason.empty()) reason = log.error;
  // Live: a training process holds the folder (run/run_lock.h) of a run that has not ended (the run
  // writes its last page while it still holds the lock).
  const bool held = !run_folder_lock_holder(dir).empty();
  const bool live = held && (status.empty() || status == "running");
  if (status.empty()) {
    status = live ? "running" : "unknown";
    if (!live)
      reason = fmt::format("{}{}: status unknown (a run writes outputs.json when it starts)",
                           fs::exists(manifest_path, ec) ? "outputs.json could not be read" : "no outputs.json",
                           have_log ? ", and train.log ends with neither a 'done' nor an 'error' line" : "");
  }
  std::string status_text = status == "stopped_early" ? "stopped early" : status;
  // What a run that ended early allows next: resume only from a checkpoint with its training state
  // (run_restart, as a new run's check_not_a_run and a failed run's reason judge it).
  const RunRestart restart = run_restart(outputs);
  const std::string next_step =
      restart == RunRestart::kResume
          ? fmt::format("continue it from its last checkpoint with: img2img train --resume {}", shell_quote(dir.string()))
      : restart == RunRestart::kNoCheckpoint
          ? "it wrote no checkpoint, so there is nothing to resume: start the run again (the same img2img train "
            "command; the same output.run_dir reuses the folder)"
          : "its checkpoints cannot be resumed (no training state beside them: killed while writing them, or "
            "copied without their .optim.pt files): start the run again with --output.run_dir=NEW_FOLDER, or "
            "delete this folder first";
  if (status == "running" && !live) {
    status = "not_running";
    status_text = "not running";
    reason = "outputs.json says running, but no process holds the run folder: the run was killed or crashed; " +
             next_step + ".";
  }
  if (status == "interrupted")  // as the terminal said at the end of the run
    reason += std::string(reason.empty() ? "" : "; ") + next_step;
  const int64_t max_it = !log.iterations.empty() ? log.iterations.back().max_iterations
                                                 : static_cast<int64_t>(config.number("train.max_iterations", 0));
  const int64_t done_it = !log.iterations.empty() ? log.iterations.back().iteration
                                                  : manifest.is_object() ? manifest.value("iterations", int64_t{0}) : 0;
  result.iteration = done_it;

  // Steps: train.log's iteration lines have none; the loop makes ceil(samples / data.batch_size) per
  // iteration (steps_per_iteration), and an interrupted run's reason names the steps of its last one.
  const std::optional<PartialIteration> partial =
      parse_partial_iteration(manifest.is_object() ? manifest.value("reason", "") : "");
  int64_t steps_per_it = steps_per_iteration(log, static_cast<int64_t>(config.number("data.batch_size", 0)));
  if (steps_per_it == 0 && partial) steps_per_it = partial->steps_per_iteration;
  std::string progress = max_it > 0 ? fmt::format("iteration {} of {}", done_it, max_it)
                                    : fmt::format("iteration {}", done_it);
  if (steps_per_it > 0) {
    const int64_t steps = done_it * steps_per_it + (partial && partial->iteration == done_it + 1 ? partial->steps_done : 0);
    progress += max_it > 0 ? fmt::format(" \u00b7 step {} of {}", steps, max_it * steps_per_it)
                           : fmt::format(" \u00b7 step {}", steps);
  }

  // Elapsed: the "done" line's duration; else since config.toml was written (the run's or its resume's start).
  std::string elapsed;
  std::optional<double> seconds_run;
  // A run that ended without one: up to train.log's last line; without train.log it is unknown.
  if (const auto start = age_seconds(config_path, now)) {
    if (live)
      seconds_run = *start;
    else if (const auto last = age_seconds(log_path, now))
      seconds_run = *start - *last;
  }
  // A resumed run's time is that of its last session, as its done line says ("iterations 10-12 in 37s").
  const std::string since = log.resumed_after > 0 ? fmt::format("since the resume after iteration {}", log.resumed_after)
                                                  : "";
  if (const size_t in = log.done_line.find(" in "); in != std::string::npos) {
    elapsed = log.done_line.substr(in + 4);
    elapsed = elapsed.substr(0, elapsed.find_first_of("; ("));
    if (!since.empty()) elapsed += " (" + since + ")";
  } else if (seconds_run) {
    std::string what = live ? "" : "to train.log's last line";
    if (!since.empty()) what += (what.empty() ? "" : ", ") + since;
    elapsed = format_duration(std::max(0.0, *seconds_run)) + (what.empty() ? "" : " (" + what + ")");
  }

  // Curves: the plots' CSVs when the run kept them, else train.log's lines.
  // Titles and axis labels: those of the PNG plots (plot_labels), from the series drawn; the learning
  // rate has no PNG plot.
  std::vector<Chart> charts;
  const bool unpaired = config.get("data.input_type") == "multiple_unpaired";
  for (const std::string name : {"loss", "score", "ssim", "lr"}) {
    Chart chart{name, "", "", {}, std::nullopt, "", name == "loss", ""};
    const fs::path csv = dir / "plots" / (name + ".csv");
    bool from_csv = false;
    if (name != "lr" && fs::exists(csv, ec)) {
      try {
        chart.series = read_plot_csv(csv);
        from_csv = true;
      } catch (const std::exception& e) {
        notes.push_back(e.what());
      }
    }
    if (!from_csv) chart.series = log_series(log, name);
    if (name == "lr") {
      chart.title = "Learning rate", chart.y_label = "learning rate";
    } else {
      std::vector<std::string> series_names;
      for (const auto& [series, points] : chart.series) series_names.push_back(series);
      const PlotLabels labels = plot_labels(name, series_names);
      chart.title = labels.title, chart.y_label = labels.y_label;
    }
    if (name == "ssim") {
      const double target = config.number("test.target_ssim", 0);
      if (target > 0) chart.target = target, chart.target_label = fmt::format("test.target_ssim {}", target);
    }
    charts.push_back(std::move(chart));
  }
  const std::string curves_problem = draw_charts(charts, work_dir, notes);
  if (!curves_problem.empty()) notes.push_back(curves_problem);  // for img2img report; the page shows it under Curves

  // Tested iterations and their images: the listed ones (the latest test) and, for earlier tests, the
  // files in test.output_dir expanded for their iteration.
  std::set<int64_t> tested;
  for (const LogTest& t : log.tests) tested.insert(t.iteration);
  for (const Chart& c : charts)
    if (c.name == "ssim")
      for (const char* s : {"test", "test_cycle"})
        if (c.series.count(s))
          for (const auto& [it, v] : c.series.at(s)) tested.insert(it);
  std::map<int64_t, TestSet> sets;
  std::set<fs::path> folders_of_listed;
  for (const OutputEntry& e : outputs)
    if (e.kind == "test_image") {
      tested.insert(e.iteration);
      folders_of_listed.insert(fs::path(e.path).parent_path());
    }
  const std::string test_dir_template = config.get("test.output_dir");
  const std::vector<int64_t> offered = pick_iterations({tested.begin(), tested.end()}, kReportGalleryIterations);
  for (int64_t it : offered) {
    std::set<fs::path> folders = folders_of_listed;
    if (!test_dir_template.empty()) {
      try {
        std::map<std::string, std::string> values = date_time_template_values();
        values["run_dir"] = dir.string(), values["iteration"] = std::to_string(it), values["index"] = "0";
        values["network"] = "generator";
        folders.insert(fs::absolute(expand_template(test_dir_template, values)).lexically_normal());
      } catch (const std::exception&) {  // e.g. an unset $VAR: only the listed folders
      }
    }
    TestSet set;
    set.iteration = it;
    for (const fs::path& folder : folders)
      for (const auto& f : fs::directory_iterator(folder, ec)) {
        const std::optional<TestImageName> name = parse_test_image_name(f.path().filename().string());
        if (name && name->iteration == it && name->role != "side_by_side") set.samples[name->sample][name->role] = f.path();
      }
    if (!set.samples.empty()) sets[it] = std::move(set);
  }

  ImageCache cache;
  const fs::path cache_path = work_dir / "images.cache";
  try {
    if (fs::exists(cache_path, ec)) cache.doc = json::parse(read_file(cache_path));
    // Another layout (an older img2img): start afresh.
    if (!cache.doc.is_object() || cache.doc.value("version", 0) != kCacheVersion)
      cache.doc = {{"version", kCacheVersion}}, cache.changed = true;
  } catch (const std::exception&) {
    cache.doc = {{"version", kCacheVersion}}, cache.changed = true;
  }

  // ---- the page ----
  std::string page;
  const std::string run_name = dir.filename().string();
  // While the run goes the page reloads itself every plot.rate iterations' worth of time (5 to 60 s).
  // The run rewrites it about that often; a page left unchanged for 3 times that (at least a minute;
  // before any iteration has ended, when its length is unknown, kStaleUnknownSeconds) belongs to a run
  // that was killed: the script then says so and stops reloading.
  int refresh = 0, stale_after = 0;
  std::string rewrite_every;
  if (live) {
    std::optional<double> per_it;  // seconds per iteration
    // Since the run's (or its resume's) start, over the iterations since then.
    if (seconds_run && done_it > log.resumed_after)
      per_it = *seconds_run / static_cast<double>(done_it - log.resumed_after);
    // The last iteration's own length: its ETA is that times the iterations left.
    if (!log.iterations.empty()) {
      const LogIteration& last = log.iterations.back();
      if (const auto eta = parse_duration(last.eta); eta && last.max_iterations > last.iteration)
        per_it = std::max(per_it.value_or(0.0), *eta / static_cast<double>(last.max_iterations - last.iteration));
    }
    const double rate = std::max(1.0, config.number("plot.rate", 1));
    refresh = static_cast<int>(std::clamp(per_it.value_or(10.0) * rate, 5.0, 60.0));
    stale_after = per_it ? static_cast<int>(std::ceil(std::max(60.0, 3 * *per_it * rate))) : kStaleUnknownSeconds;
    if (per_it) rewrite_every = format_duration(std::max(3.0, *per_it * rate));  // RunWriter: at most every 3 s
  }
  const auto written = std::chrono::system_clock::now();
  const std::time_t written_t = std::chrono::system_clock::to_time_t(written);
  std::tm written_tm{};
  localtime_r(&written_t, &written_tm);
  const std::string written_time = fmt::format("{:02}:{:02}:{:02}", written_tm.tm_hour, written_tm.tm_min,
                                               written_tm.tm_sec);
  const std::string written_date = fmt::format("{:04}-{:02}-{:02}", written_tm.tm_year + 1900,
                                               written_tm.tm_mon + 1, written_tm.tm_mday);
  const int64_t written_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(written.time_since_epoch()).count();
  page += "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n";
  // The script reloads (location.reload keeps #iteration=N; a meta refresh drops it in Chromium and
  // never fires on a page opened with a hash); without scripts, a meta refresh.
  if (refresh > 0)
    page += fmt::format("<noscript><meta http-equiv=\"refresh\" content=\"{}\"></noscript>\n", refresh);
  page += fmt::format("<title>{} - {} - img2img run report</title>\n<style>{}</style>\n</head>\n", html(run_name),
                      html(status_text), kCss);
  page += fmt::format("<body data-status=\"{}\" data-written-ms=\"{}\" data-refresh-s=\"{}\" "
                      "data-stale-after-s=\"{}\">\n<header>\n<h1>{}</h1>\n",
                      status, written_ms, refresh, stale_after, html(run_name));
  page += fmt::format("<p><span class=\"status status-{}\" id=\"status\">{}</span>", status, html(status_text));
  page += fmt::format(" <span class=\"note\" id=\"written\">page written {} ({})</span>", written_time, written_date);
  if (refresh > 0)
    page += fmt::format(" <span class=\"note\" id=\"refresh-note\">&middot; it reloads every {} s while the run "
                        "goes</span>",
                        refresh);
  page += "</p>\n";
  if (refresh > 0)
    page += fmt::format(
        "<p class=\"error\" id=\"stale\" hidden>this page has not been updated since {} ({}, <span "
        "id=\"stale-age\"></span> ago), though the run rewrites it {}: the run may have stopped. Run 'img2img "
        "report {}' to see where it stands. The page no longer reloads.</p>\n",
        written_time, written_date,
        html(rewrite_every.empty() ? "when its first iteration ends" : "about every " + rewrite_every),
        html(dir.string()));
  if (!reason.empty())
    page += fmt::format("<p class=\"{}\" id=\"reason\">{}</p>\n", status == "failed" ? "error" : "note", html(reason));
  page += "<table class=\"facts\">\n";
  const auto fact = [&page](const std::string& name, const std::string& value, const std::string& id) {
    if (!value.empty()) page += fmt::format("<tr><td>{}</td><td id=\"{}\">{}</td></tr>\n", name, id, html(value));
  };
  fact("progress", progress, "iteration");
  fact("elapsed", elapsed, "elapsed");
  if (live && !log.iterations.empty()) fact("ETA", log.iterations.back().eta, "eta");
  if (!log.iterations.empty() && log.iterations.back().images_per_s)
    fact("images per second", fmt::format("{:.1f} (last iteration)", *log.iterations.back().images_per_s), "rate");
  fact("device", device_fact(log), "device");
  // train.log's "data: 28 pairs ...", "test data: 6 pairs ..." under the label "data": "training: ...", "test: ...";
  // a data-parallel run's "data-parallel: 2 processes ..., effective batch 8; ..." as it is.
  std::string data;
  for (const std::string& l : log.data_lines) {
    const bool test = l.rfind("test data", 0) == 0, parallel = l.rfind("data-parallel", 0) == 0;
    data += (data.empty() ? "" : "\n") +
            (parallel ? l : std::string(test ? "test" : "training") + l.substr(test ? 9 : 4));
  }
  if (!data.empty()) page += fmt::format("<tr><td>data</td><td id=\"data\">{}</td></tr>\n", html(data));
  if (!log.tests.empty())
    fact("last test", fmt::format("{} {:.4f} at iteration {} on {} sample(s)", log.tests.back().name,
                                  log.tests.back().ssim, log.tests.back().iteration, log.tests.back().samples),
         "last-test");
  fact("run folder", dir.string(), "run-dir");
  page += "</table>\n";
  for (const std::string& w : log.warnings) page += fmt::format("<p class=\"note\">warning: {}</p>\n", html(w));
  if (!config_text.empty())
    page += fmt::format("<details id=\"config\"><summary>configuration (config.toml)</summary><pre>{}</pre>"
                        "</details>\n",
                        html(config_text));
  page += "</header>\n";

  // Curves.
  page += "<section id=\"curves\">\n<h2>Curves</h2>\n<div class=\"charts\">\n";
  bool any_chart = false;
  for (const Chart& c : charts)
    if (!c.svg.empty()) page += c.svg + "\n", any_chart = true;
  page += "</div>\n";
  if (!any_chart)
    page += fmt::format("<p class=\"{}\" id=\"no-curves\">{}</p>\n", curves_problem.empty() ? "note" : "error",
                        html(curves_problem.empty() ? "no curves yet: no iteration has ended" : curves_problem));
  if (any_chart && unpaired)
    page += "<p class=\"note\" id=\"series-index\">Series ending in _0 belong to direction A &rarr; B (generator 0; "
            "discriminator 0, which judges domain B), _1 to B &rarr; A (generator 1; discriminator 1, on domain A): "
            "cycle_0 is A &rarr; B &rarr; A, cycle_1 B &rarr; A &rarr; B.</p>\n";
  page += "</section>\n";

  // Gallery.
  page += "<section id=\"gallery\">\n<h2>Test images</h2>\n";
  if (sets.empty()) {
    const std::string test_frequency = config.get("test.frequency", "1");
    page += fmt::format(
        "<p class=\"note\" id=\"no-tests\">{}</p>\n",
        html(!tested.empty()
                 ? "no test images found (the tests write them to test.output_dir; test.image_count = 0 writes none)"
             : config.get("test.enabled") == "false"
                 ? "testing is off for this run (test.enabled = false): to see generated images here, train with "
                   "--test.enabled=true and a held-out test set (--test.input_dir=... --test.reference_dir=..., or "
                   "the [test] section of the config; docs/configuration.md)"
             : config.get("test.enabled") == "true"
                 ? fmt::format("no test yet: the tests run every {} iteration(s) (test.frequency) and at the last",
                               test_frequency)
                 : "no test yet (test.enabled, test.frequency)"));
  } else {
    page += "<p><label>tested iteration <select id=\"iteration-select\">";
    for (auto it = sets.rbegin(); it != sets.rend(); ++it) page += fmt::format("<option>{}</option>", it->first);
    page += "</select></label>";
    if (tested.size() > sets.size())
      page += fmt::format(" <span class=\"note\">{} of {} tested iterations offered (the first, the latest and "
                          "some between)</span>",
                          sets.size(), tested.size());
    page += "</p>\n";
    for (auto it = sets.rbegin(); it != sets.rend(); ++it) {
      const TestSet& set = it->second;
      page += fmt::format("<div class=\"test\" data-iteration=\"{}\"{}>\n", set.iteration,
                          it == sets.rbegin() ? "" : " hidden");
      const std::vector<std::pair<std::string, std::vector<std::string>>> groups =
          unpaired ? std::vector<std::pair<std::string, std::vector<std::string>>>{
                         {"A", {"input", "translated", "reconstructed"}}, {"B", {"input", "translated", "reconstructed"}}}
                   : std::vector<std::pair<std::string, std::vector<std::string>>>{
                         {"", {"input", "generated", "reference"}}};
      for (const auto& [domain, roles] : groups) {
        std::vector<std::string> names;
        for (const auto& [sample, files] : set.samples)
          if (domain.empty() || sample.rfind(domain + "_", 0) == 0) names.push_back(sample);
        if (names.empty()) continue;
        const std::string other = domain == "A" ? "B" : "A";
        if (!domain.empty())
          page += fmt::format("<h3>{0} &rarr; {1} &rarr; {0}</h3>\n", domain, other);
        page += fmt::format("<table class=\"gallery\" data-direction=\"{}\">\n<tr><th>sample</th>", domain);
        for (const std::string& r : roles)
          page += fmt::format("<th>{}</th>", !domain.empty() && r == "translated"  ? "translated (" + other + ")"
                                             : !domain.empty() && r == "reconstructed" ? "reconstructed (" + domain + ")"
                                             : !domain.empty() && r == "input"         ? "input (" + domain + ")"
                                                                                       : r);
        page += "</tr>\n";
        for (const std::string& sample : names) {
          const auto& files = set.samples.at(sample);
          std::optional<double> ssim;
          const char* const compared = unpaired ? "reconstructed" : "generated";
          const char* const against = unpaired ? "input" : "reference";
          if (files.count(compared) && files.count(against))
            ssim = cached_ssim(files.at(compared), files.at(against), cache);
          page += fmt::format("<tr class=\"sample\" data-sample=\"{}\"><th>{}<br><span class=\"ssim\">{}</span></th>",
                              html(sample), html(domain.empty() ? sample : sample.substr(2)),
                              ssim ? fmt::format("SSIM {:.4f}", *ssim) : "");
          std::vector<fs::path> paths;
          std::vector<std::string> present;
          for (const std::string& role : roles)
            if (files.count(role)) paths.push_back(files.at(role)), present.push_back(role);
          const std::vector<GalleryImage> images = gallery_row(dir, paths, set.iteration, cache);
          for (const std::string& role : roles) {
            const auto found = std::find(present.begin(), present.end(), role);
            if (found == present.end()) {
              page += "<td>(missing)</td>";
              continue;
            }
            const GalleryImage& g = images[static_cast<size_t>(found - present.begin())];
            page += fmt::format(
                "<td class=\"{}\" data-role=\"{}\"><a href=\"{}\"><img src=\"{}\" alt=\"{} {}\"></a><div "
                "class=\"caption\">{}{}</div></td>",
                g.alpha ? "alpha" : "", role, href(dir, g.path), g.shown, html(sample), role,
                html(g.path.filename().string()), g.error.empty() ? "<br>" + html(g.label) : "<br>" + html(g.error));
          }
          page += "</tr>\n";
        }
        page += "</table>\n";
      }
      page += "</div>\n";
    }
    page += fmt::format("<p class=\"note\">SSIM per sample: of the written files ({}), as 'img2img ssim' computes "
                        "it; the curve's test SSIM is the mean over all test samples at full precision.</p>\n",
                        unpaired ? "reconstructed vs input" : "generated vs reference");
  }
  page += "</section>\n";

  // Outputs.
  page += "<section id=\"outputs\">\n<h2>Outputs</h2>\n<ul>\n";
  const auto link = [&page, &dir](const fs::path& p, const std::string& what) {
    page += fmt::format("<li><a href=\"{}\">{}</a> {}</li>\n", href(dir, p), html(p.filename().string()), html(what));
  };
  std::vector<const OutputEntry*> models, onnx;
  for (const OutputEntry& e : outputs) {
    if (e.kind == "checkpoint") models.push_back(&e);
    if (e.kind == "onnx") onnx.push_back(&e);
  }
  for (auto list : {&models, &onnx})
    std::stable_sort(list->begin(), list->end(),
                     [](const OutputEntry* a, const OutputEntry* b) { return a->iteration > b->iteration; });
  for (const OutputEntry* e : onnx)
    link(e->path, fmt::format("ONNX, generator {}, iteration {}", e->index, e->iteration));
  for (const OutputEntry* e : models)
    link(e->path, fmt::format("checkpoint, {} {}, iteration {}", e->network, e->index, e->iteration));
  std::vector<fs::path> plot_files;
  for (const auto& f : fs::directory_iterator(dir / "plots", ec))
    if (f.path().extension() == ".csv" || f.path().extension() == ".png") plot_files.push_back(f.path());
  std::sort(plot_files.begin(), plot_files.end());
  for (const fs::path& p : plot_files) link(p, p.extension() == ".csv" ? "plot points (CSV)" : "plot (PNG)");
  for (const auto& [file, what] : std::vector<std::pair<const char*, const char*>>{
           {"outputs.json", "every file of the run"}, {"train.log", "the run's log"}, {"config.toml", "its configuration"}})
    if (fs::exists(dir / file, ec)) link(dir / file, what);
  page += "</ul>\n</section>\n";
  for (const std::string& n : notes)
    if (n != curves_problem) page += fmt::format("<p class=\"note report-note\">{}</p>\n", html(n));
  page += fmt::format("<footer class=\"note\">written by img2img {} ('img2img report {}' rewrites it)</footer>\n",
                      IMG2IMG_VERSION, html(dir.string()));
  page += fmt::format("<script>{}</script>\n</body>\n</html>\n", kScript);

  if (cache.changed) {
    try {
      write_file_atomic(cache_path, cache.doc.dump() + "\n");
    } catch (const std::exception&) {  // only a cache
    }
  }
  write_file_atomic(result.path, page);
  return result;
}

}  // namespace img2img

namespace img2img {

ReportListing list_report_in_outputs(const fs::path& run_dir, int64_t iteration) {
  const fs::path dir = fs::absolute(run_dir).lexically_normal();
  const fs::path manifest = dir / "outputs.json";
  std::error_code ec;
  if (!fs::exists(manifest, ec)) return ReportListing::kNoManifest;
  // A live run rewrites outputs.json whole from what it holds in memory (and lists its page itself):
  // write only while holding the folder's lock, so no run starts or goes on meanwhile.
  if (!run_folder_lock_holder(dir).empty()) return ReportListing::kLiveRun;
  std::optional<RunFolderLock> lock;
  try {
    lock.emplace(dir);
  } catch (const ConfigError&) {  // a run took the folder since the probe
    return ReportListing::kLiveRun;
  }
  return list_in_manifest_file(manifest, {"report", (dir / kReportFileName).string(), "report", 0, iteration})
             ? ReportListing::kListed
             : ReportListing::kAlreadyListed;
}

}  // namespace img2img

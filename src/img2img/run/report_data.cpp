#include "img2img/run/report_data.h"

#include <fmt/format.h>  // fmt::format

#include <algorithm>  // std::max
#include <cctype>   // std::isdigit, std::tolower
#include <cmath>    // std::isfinite
#include <regex>    // std::regex
#include <sstream>  // std::istringstream

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/core/thread_governor.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {

bool starts_with(const std::string& s, const std::string& prefix) { return s.compare(0, prefix.size(), prefix) == 0; }

bool ends_with(const std::string& s, const std::string& suffix) {
  return s.size() >= suffix.size() && s.compare(s.size() - suffix.size(), suffix.size(), suffix) == 0;
}

// A whole number token ("0.6833", "-1e-3", "nan"); empty when it is not one.
std::optional<double> number(const std::string& token) {
  if (token == "nan" || token == "-nan") return std::nan("");
  if (token.empty() || !(std::isdigit(static_cast<unsigned char>(token[0])) || token[0] == '-' || token[0] == '.'))
    return std::nullopt;
  try {
    size_t used = 0;
    const double v = std::stod(token, &used);
    if (used == token.size()) return v;
  } catch (const std::exception&) {
  }
  return std::nullopt;
}

// Parts of a log line separated by two or more spaces.
std::vector<std::string> parts_of(const std::string& line) {
  std::vector<std::string> parts;
  size_t begin = 0;
  while (begin < line.size()) {
    size_t end = line.find("  ", begin);
    if (end == std::string::npos) end = line.size();
    if (end > begin) parts.push_back(line.substr(begin, end - begin));
    begin = end;
    while (begin < line.size() && line[begin] == ' ') ++begin;
  }
  return parts;
}

std::vector<std::string> words_of(const std::string& part) {
  std::vector<std::string> words;
  std::istringstream in(part);
  for (std::string w; in >> w;) words.push_back(w);
  return words;
}

std::optional<LogIteration> parse_iteration_line(const std::string& line) {
  static const std::regex head(R"(^iteration (\d+)/(\d+)$)");
  const std::vector<std::string> parts = parts_of(line);
  std::smatch m;
  if (parts.size() < 2 || !std::regex_match(parts[0], m, head) || !starts_with(parts[1], "lr ")) return std::nullopt;
  LogIteration it;
  it.iteration = std::stoll(m[1].str()), it.max_iterations = std::stoll(m[2].str());
  const std::optional<double> lr = number(parts[1].substr(3));
  if (!lr) return std::nullopt;
  it.lr = *lr;
  for (size_t i = 2; i < parts.size(); ++i) {
    const std::string& p = parts[i];
    if (ends_with(p, " img/s")) {
      it.images_per_s = number(p.substr(0, p.size() - 6));
    } else if (starts_with(p, "ETA ")) {
      it.eta = p.substr(4);
    } else if (!starts_with(p, "(") && !starts_with(p, "losses skipped")) {
      const std::vector<std::string> words = words_of(p);
      std::vector<double> values;
      for (size_t w = 1; w < words.size(); ++w)
        if (const std::optional<double> v = number(words[w])) values.push_back(*v);
      if (words.size() >= 2 && values.size() == words.size() - 1) it.values.emplace_back(words[0], values);
    }
  }
  return it;
}

std::string lower(std::string s) {
  for (char& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

}  // namespace

RunLog parse_train_log(const std::string& text) {
  static const std::regex test_line(R"(^test at iteration (\d+): (.+) (\S+) on (\d+) sample\(s\).*$)");
  // train/training_data.cpp's describe() and training_loop.cpp's data-parallel line.
  static const std::regex paired_size(R"(^data: (\d+) pairs\b.*$)");
  static const std::regex unpaired_size(R"(^data \(unpaired\): domain A (\d+) images.*, domain B (\d+) images.*$)");
  static const std::regex per_process(R"(^data-parallel: .*, (\d+) sample\(s\) per process$)");
  static const std::regex threads_change(R"(^CPU threads \d+ -> (\d{1,6}): .*$)");  // core/thread_governor.cpp
  static const std::regex resumed(R"(^resumed .* after iteration (\d{1,18})$)");  // train/training_loop.cpp
  RunLog log;
  std::istringstream in(text);
  for (std::string line; std::getline(in, line);) {
    if (!line.empty() && line.back() == '\r') line.pop_back();
    std::smatch m;
    if (starts_with(line, "run folder: ")) {  // a new run (a resume in place appends to the log)
      log.done_line.clear(), log.error.clear(), log.early_stop.clear(), log.data_lines.clear();
      log.warnings.clear(), log.device_line.clear();
      log.cpu_threads_now = 0;
      log.train_samples = 0, log.samples_per_process = 0, log.resumed_after = 0;
    } else if (starts_with(line, "iteration ")) {
      if (std::optional<LogIteration> it = parse_iteration_line(line)) log.iterations.push_back(std::move(*it));
    } else if (std::regex_match(line, m, test_line)) {
      if (const std::optional<double> v = number(m[3].str()))
        log.tests.push_back({std::stoll(m[1].str()), m[2].str(), *v, std::stoll(m[4].str())});
    } else if (starts_with(line, "device: ")) {
      log.device_line = line;
    } else if (std::regex_match(line, m, threads_change)) {
      log.cpu_threads_now = std::stoi(m[1].str());
    } else if ((starts_with(line, "data: ") || starts_with(line, "data (") || starts_with(line, "test data: ") ||
                starts_with(line, "test data (")) && line.find("storage") == std::string::npos) {
      log.data_lines.push_back(line);
      if (std::regex_match(line, m, paired_size)) {
        log.train_samples = std::stoll(m[1].str());
      } else if (std::regex_match(line, m, unpaired_size)) {
        log.train_samples = std::max(std::stoll(m[1].str()), std::stoll(m[2].str()));
      }
    } else if (std::regex_match(line, m, per_process)) {
      log.samples_per_process = std::stoll(m[1].str());
      log.data_lines.push_back(line);  // the page says how many processes trained, and the effective batch
    } else if (starts_with(line, "warning: ")) {
      log.warnings.push_back(line.substr(9));
    } else if (starts_with(line, "resumed ") && std::regex_match(line, m, resumed)) {
      log.resumed_after = std::stoll(m[1].str());
    } else if (starts_with(line, "done: ")) {
      log.done_line = line;
    } else if (starts_with(line, "error: ")) {
      log.error = line.substr(7);
    } else if (starts_with(line, "early stop: ")) {
      log.early_stop = line.substr(12);
    }
  }
  return log;
}

std::string device_fact(const RunLog& log) {
  if (log.device_line.size() < 8) return "";
  const std::string fact = log.device_line.substr(8);
  // "cpu, 2 CPU threads (follows the free cores: 1-2); generator ..." (train/training_loop.cpp)
  static const std::regex threads(R"(^(.*?, )(\d{1,6}) CPU threads?( \(follows the free cores: 1-\d+\))?(;.*)?$)");
  std::smatch m;
  if (!std::regex_match(fact, m, threads)) return fact;
  const int start = std::stoi(m[2].str());
  const std::string now = log.cpu_threads_now > 0
                              ? fmt::format("{} ({} at the start; the count follows the free cores, train.log says "
                                            "when it changed)",
                                            cpu_thread_count_text(log.cpu_threads_now), start)
                              : cpu_thread_count_text(start) + m[3].str();
  return m[1].str() + now + m[4].str();
}

int64_t steps_per_iteration(const RunLog& log, int64_t batch_size) {
  const int64_t samples = log.samples_per_process > 0 ? log.samples_per_process : log.train_samples;
  if (samples <= 0 || batch_size < 1) return 0;
  return (samples + batch_size - 1) / batch_size;
}

std::optional<double> parse_duration(const std::string& text) {
  static const std::regex form(R"(^(?:(\d+)h)?(?:(\d+)m)?(?:(\d+)s)?$)");
  std::smatch m;
  if (text.empty() || !std::regex_match(text, m, form)) return std::nullopt;
  double seconds = 0;
  for (const auto& [group, unit] : {std::pair<int, double>{1, 3600}, {2, 60}, {3, 1}})
    if (m[group].matched) seconds += std::stod(m[group].str()) * unit;
  return seconds;
}

std::optional<PartialIteration> parse_partial_iteration(const std::string& reason) {
  static const std::regex form(R"(^interrupted in iteration (\d+) after step (\d+) of (\d+)$)");
  std::smatch m;
  if (!std::regex_match(reason, m, form)) return std::nullopt;
  return PartialIteration{std::stoll(m[1].str()), std::stoll(m[2].str()), std::stoll(m[3].str())};
}

ChartSeries log_series(const RunLog& log, const std::string& plot) {
  ChartSeries out;
  const auto put = [&out](const std::string& series, int64_t iteration, double v) {
    if (std::isfinite(v)) out[series][iteration] = v;
  };
  for (const LogIteration& it : log.iterations) {
    if (plot == "lr") put("lr", it.iteration, it.lr);
    for (const auto& [label, values] : it.values) {
      const std::string kind = label == "SSIM" ? "ssim" : label == "D(real)" || label == "D(fake)" ? "score" : "loss";
      if (kind != plot) continue;
      for (size_t k = 0; k < values.size(); ++k) {
        std::string series = label == "SSIM" ? "train" : label == "D(real)" ? "real" : label == "D(fake)" ? "generated"
                                                                                                          : lower(label);
        if (values.size() > 1) series += "_" + std::to_string(k);
        put(series, it.iteration, values[k]);
      }
    }
  }
  if (plot == "ssim")
    for (const LogTest& t : log.tests) put(t.name == "SSIM" ? "test" : "test_cycle", t.iteration, t.ssim);
  return out;
}

ChartSeries read_plot_csv(const fs::path& path) {
  ChartSeries out;
  std::istringstream in(read_file(path));
  std::string line;
  for (int64_t line_no = 1; std::getline(in, line); ++line_no) {
    if (line_no == 1 || line.empty()) continue;  // header iteration,series,value
    const size_t a = line.find(','), b = line.rfind(',');
    const std::optional<double> v = a == std::string::npos || a == b ? std::nullopt : number(line.substr(b + 1));
    int64_t iteration = 0;
    bool ok = v.has_value();
    if (ok) try {
        size_t used = 0;
        iteration = std::stoll(line.substr(0, a), &used);
        ok = used == a;
      } catch (const std::exception&) {
        ok = false;
      }
    if (!ok)
      throw DataError(fmt::format("plot file '{}' line {} ('{}') is not 'iteration,series,value'; the run report "
                                  "draws its curves from it. Repair or delete the file.",
                                  path.string(), line_no, line));
    if (std::isfinite(*v)) out[line.substr(a + 1, b - a - 1)][iteration] = *v;
  }
  return out;
}

std::optional<TestImageName> parse_test_image_name(const std::string& file_name) {
  static const std::regex form(
      R"(^(\d{6,})_(.+)_(input|generated|reference|translated|reconstructed|side_by_side)\.[A-Za-z0-9]+$)");
  std::smatch m;
  if (!std::regex_match(file_name, m, form)) return std::nullopt;
  return TestImageName{std::stoll(m[1].str()), m[2].str(), m[3].str()};
}

}  // namespace img2img

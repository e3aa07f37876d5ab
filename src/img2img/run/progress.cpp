#include "img2img/run/progress.h"

#include <fmt/format.h>  // fmt::format
#include <unistd.h>      // isatty

#include <cmath>   // std::lround
#include <cstdio>  // std::fputs, stderr

namespace img2img {

ProgressReporter::ProgressReporter(const std::string& log_path, int interactive) {
  if (!log_path.empty()) log_.open(log_path, std::ios::app);
  interactive_ = interactive < 0 ? ::isatty(STDERR_FILENO) != 0 : interactive != 0;
}

ProgressReporter::~ProgressReporter() { end_status(); }

void ProgressReporter::line(const std::string& text) {
  end_status();
  // C stdio, not std::cerr: the img2img command mutes std::cerr while it runs (cli/main.cpp).
  std::fputs((text + "\n").c_str(), stderr);
  std::fflush(stderr);
  if (log_) log_ << text << std::endl;
}

void ProgressReporter::status(const std::string& text) {
  if (!interactive_) return;
  std::fputs(("\r\033[K" + text).c_str(), stderr);
  std::fflush(stderr);
  status_open_ = true;
}

void ProgressReporter::end_status() {
  if (status_open_) {
    std::fputs("\r\033[K", stderr);
    std::fflush(stderr);
  }
  status_open_ = false;
}

void append_log_line(const std::string& log_path, const std::string& text) noexcept {
  try {
    std::ofstream log(log_path, std::ios::app);
    log << text << std::endl;
  } catch (...) {  // e.g. std::bad_alloc; the log is best effort here
  }
}

std::string format_duration(double seconds) {
  const long s = std::lround(std::max(0.0, seconds));
  if (s >= 3600) return fmt::format("{}h{:02d}m", s / 3600, (s % 3600) / 60);
  if (s >= 60) return fmt::format("{}m{:02d}s", s / 60, s % 60);
  return fmt::format("{}s", s);
}

}  // namespace img2img

#pragma once

#include <fstream>  // std::ofstream
#include <string>   // std::string

namespace img2img {

/// Console + log-file reporter. On a terminal, step progress is one line rewritten in place
/// (iteration, step, losses, images/s, ETA); otherwise, and in the log file, one plain line per
/// iteration. Messages (`line`) go to both.
class ProgressReporter {
 public:
  /// `log_path` may be empty (no log file). `interactive`: -1 = detect (stderr is a terminal).
  explicit ProgressReporter(const std::string& log_path, int interactive = -1);
  ~ProgressReporter();

  void line(const std::string& text);        ///< a whole message line, stderr and log
  void status(const std::string& text);      ///< transient step status: terminal only, rewritten
  void end_status();                         ///< finish the transient line (before a message)

 private:
  std::ofstream log_;
  bool interactive_ = false;
  bool status_open_ = false;
};

/// Appends `text` and a newline to the log file `log_path` (created if missing). For the last line of a
/// run whose ProgressReporter is gone (a failed run's "error: ..." in train.log). Never throws; a log
/// that cannot be written is skipped (the error is reported on stderr and in outputs.json anyway).
void append_log_line(const std::string& log_path, const std::string& text) noexcept;

/// "1h02m", "3m05s", "12s" for an ETA or duration in seconds.
std::string format_duration(double seconds);

}  // namespace img2img

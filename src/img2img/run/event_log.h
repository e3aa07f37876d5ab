#pragma once
// Machine-readable progress events (`img2img train --events FILE|-`), one JSON object per line.
// Event types and fields: docs/events.md.

#include <nlohmann/json.hpp>  // nlohmann::json

#include <fstream>  // std::ofstream
#include <string>   // std::string

namespace img2img {

/// Writes JSON Lines events to a file or stdout. Each line is {"event": TYPE, "time": unix seconds,
/// ...fields} and is flushed at once, so a job scheduler can follow a run with `tail -f`.
/// A default-constructed log (or an empty target) writes nothing.
class EventLog {
 public:
  EventLog() = default;
  /// `target`: "" = off, "-" = stdout, else a file (created with its folders, truncated). Throws
  /// WriteError naming the file if it cannot be opened.
  explicit EventLog(const std::string& target);

  bool enabled() const { return to_stdout_ || file_.is_open(); }
  /// Writes one event; `fields` must be a JSON object (its keys are merged after "event" and "time").
  void emit(const std::string& type, const nlohmann::json& fields = nlohmann::json::object());

 private:
  std::ofstream file_;
  bool to_stdout_ = false;
};

}  // namespace img2img

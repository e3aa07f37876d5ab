#include "img2img/run/event_log.h"

#include <fmt/format.h>  // fmt::format

#include <chrono>      // std::chrono::system_clock
#include <filesystem>  // std::filesystem
#include <iostream>    // std::cout

#include "img2img/core/error.h"

namespace img2img {

EventLog::EventLog(const std::string& target) {
  if (target.empty()) return;
  if (target == "-") {
    to_stdout_ = true;
    return;
  }
  const std::filesystem::path path(target);
  std::error_code ec;
  if (path.has_parent_path()) std::filesystem::create_directories(path.parent_path(), ec);
  file_.open(path, std::ios::out | std::ios::trunc);
  if (!file_)
    throw WriteError(fmt::format("cannot open events file '{}' for writing; check the folder exists and is writable",
                                 target));
}

void EventLog::emit(const std::string& type, const nlohmann::json& fields) {
  if (!enabled()) return;
  nlohmann::ordered_json event = {{"event", type},
                          {"time", std::chrono::duration<double>(
                                       std::chrono::system_clock::now().time_since_epoch()).count()}};
  for (const auto& [key, value] : fields.items()) event[key] = value;
  // Non-finite numbers (a diverged loss) are not JSON; nlohmann writes them as null.
  const std::string line = event.dump(-1, ' ', false, nlohmann::ordered_json::error_handler_t::replace) + "\n";
  if (to_stdout_)
    std::cout << line << std::flush;
  else
    file_ << line << std::flush;
}

}  // namespace img2img

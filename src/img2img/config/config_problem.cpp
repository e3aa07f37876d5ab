#include "img2img/config/config_problem.h"

namespace img2img {

std::string format_config_problem(const ConfigProblem& problem) {
  std::string line = problem.origin.empty() ? problem.message : problem.origin + ": " + problem.message;
  for (const auto& r : problem.related)
    if (!r.origin.empty())
      line += " (" + r.key + " is set at " + r.origin + ")";
    else if (!r.rejected_at.empty())
      line += " (" + r.key + "'s value at " + r.rejected_at + " was rejected: its default is used)";
  return line;
}

std::string format_config_problems(const std::vector<ConfigProblem>& problems) {
  std::string msg = std::to_string(problems.size()) + " configuration problem" + (problems.size() > 1 ? "s" : "") + ":";
  for (const auto& p : problems) msg += "\n  - " + format_config_problem(p);
  return msg;
}

}  // namespace img2img

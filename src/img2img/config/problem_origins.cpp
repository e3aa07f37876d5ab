#include "img2img/config/problem_origins.h"

#include <map>     // std::map
#include <string>  // std::string

namespace img2img {

std::vector<ConfigProblem> locate_config_problems(std::vector<ConfigProblem> problems,
                                                  const std::vector<ConfigAssignment>& assignments) {
  std::map<std::string, std::string> origin;  // key -> origin of its last assignment
  for (const auto& a : assignments) origin[a.key] = a.origin;
  const auto origin_of = [&](const std::string& key) -> std::string {
    const auto it = origin.find(key);
    return it == origin.end() || it->second == "command line" ? "" : it->second;
  };
  for (auto& p : problems) {
    if (p.origin.empty() && !p.key.empty()) p.origin = origin_of(p.key);
    for (auto& r : p.related)
      if (r.origin.empty()) r.origin = origin_of(r.key);
  }
  return problems;
}

}  // namespace img2img

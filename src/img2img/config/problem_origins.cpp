#include "img2img/config/problem_origins.h"

#include <map>  // std::map

namespace img2img {

std::vector<std::string> locate_config_problems(const std::vector<std::string>& problems,
                                                const std::vector<ConfigAssignment>& assignments) {
  std::map<std::string, std::string> origin;  // key -> origin of its last assignment
  for (const auto& a : assignments) origin[a.key] = a.origin;
  std::vector<std::string> out;
  out.reserve(problems.size());
  for (const auto& p : problems) {
    // The leading key: "data.batch_size = -2: ...", "data.input_dir is empty ...", "test.batch_size: ...".
    const std::string key = p.substr(0, p.find_first_of(" =:"));
    const auto it = origin.find(key);
    if (it == origin.end() || it->second == "command line" || find_config_key(key) == nullptr)
      out.push_back(p);
    else
      out.push_back(it->second + ": " + p);
  }
  return out;
}

}  // namespace img2img

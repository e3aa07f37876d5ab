#include "img2img/config/problem_origins.h"

#include <algorithm>  // std::stable_sort, std::find, std::all_of
#include <cstddef>    // std::ptrdiff_t
#include <cctype>     // std::isdigit
#include <map>        // std::map
#include <set>        // std::set
#include <string>     // std::string
#include <tuple>      // std::tuple
#include <utility>    // std::pair

namespace img2img {

std::vector<ConfigProblem> locate_config_problems(std::vector<ConfigProblem> problems,
                                                  const std::vector<ConfigAssignment>& assignments,
                                                  const std::vector<ConfigProblem>& rejected) {
  std::set<std::pair<std::string, std::string>> not_applied;  // (key, origin)
  for (const auto& r : rejected)
    if (!r.key.empty()) not_applied.insert({r.key, r.origin});
  std::map<std::string, std::string> origin;         // key -> origin of its last applied assignment
  std::map<std::string, std::string> rejected_only;  // key -> origin of a rejected one, none applied
  for (const auto& a : assignments) {
    if (not_applied.count({a.key, a.origin}) > 0) {
      if (origin.count(a.key) == 0) rejected_only[a.key] = a.origin;
      continue;
    }
    origin[a.key] = a.origin;
    rejected_only.erase(a.key);
  }
  const auto origin_of = [&](const std::string& key) -> std::string {
    const auto it = origin.find(key);
    return it == origin.end() || it->second == "command line" ? "" : it->second;
  };
  for (auto& p : problems) {
    if (p.origin.empty() && !p.key.empty()) p.origin = origin_of(p.key);
    for (auto& r : p.related) {
      if (!r.origin.empty()) continue;
      r.origin = origin_of(r.key);
      if (const auto it = rejected_only.find(r.key); r.origin.empty() && it != rejected_only.end())
        r.rejected_at = it->second;
    }
  }
  return problems;
}

namespace {
// "x.toml:12" -> ("x.toml", 12); an origin without a numeric ":LINE" -> (origin, 0).
std::pair<std::string, long> split_origin(const std::string& origin) {
  const auto colon = origin.rfind(':');
  if (colon == std::string::npos || colon + 1 == origin.size() || origin.size() - colon > 10 ||
      !std::all_of(origin.begin() + static_cast<std::ptrdiff_t>(colon) + 1, origin.end(),
                   [](char c) { return std::isdigit(static_cast<unsigned char>(c)) != 0; }))
    return {origin, 0};
  return {origin.substr(0, colon), std::stol(origin.substr(colon + 1))};
}
}  // namespace

std::vector<ConfigProblem> sort_config_problems(std::vector<ConfigProblem> problems) {
  std::vector<std::string> files;  // in order of first appearance
  for (const auto& p : problems) {
    if (p.origin.empty() || p.origin == "command line") continue;
    const std::string file = split_origin(p.origin).first;
    if (std::find(files.begin(), files.end(), file) == files.end()) files.push_back(file);
  }
  // (group, file index, line): group 0 = a file, 1 = the command line, 2 = no origin.
  const auto rank = [&files](const ConfigProblem& p) -> std::tuple<int, std::ptrdiff_t, long> {
    if (p.origin.empty()) return {2, 0, 0};
    if (p.origin == "command line") return {1, 0, 0};
    const auto [file, line] = split_origin(p.origin);
    return {0, std::find(files.begin(), files.end(), file) - files.begin(), line};
  };
  std::stable_sort(problems.begin(), problems.end(),
                   [&rank](const ConfigProblem& a, const ConfigProblem& b) { return rank(a) < rank(b); });
  return problems;
}

}  // namespace img2img

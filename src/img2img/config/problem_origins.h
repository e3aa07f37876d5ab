#pragma once
// Where a range or combination problem's values came from: the "FILE:LINE" origin that type errors
// (apply_config) already carry, filled into validation problems (config_problems).

#include <vector>  // std::vector

#include "img2img/config/config_keys.h"
#include "img2img/config/config_problem.h"

namespace img2img {

/// `problems` with the origin of each key's last assignment filled in: the problem's own key
/// (rendered "terrain.toml:7: data.batch_size = -2: expected >= 1") and each related key. Left empty:
/// a key last set on the command line (the flag names it already), or that no assignment set (a
/// default); a problem that already has an origin or has no key keeps its own.
std::vector<ConfigProblem> locate_config_problems(std::vector<ConfigProblem> problems,
                                                  const std::vector<ConfigAssignment>& assignments);

}  // namespace img2img

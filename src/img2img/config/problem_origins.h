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
/// `rejected`: the problems of assignments that were not applied (apply_config's type errors, with key
/// and origin); such an assignment does not count, and a related key left at its default that way gets
/// RelatedKey::rejected_at instead of a "set at" that would point at the rejected line.
std::vector<ConfigProblem> locate_config_problems(std::vector<ConfigProblem> problems,
                                                  const std::vector<ConfigAssignment>& assignments,
                                                  const std::vector<ConfigProblem>& rejected = {});

/// `problems` in the order a reader fixes them: those at a FILE:LINE by file (in order of first
/// appearance) and line, then the command line's, then those without an origin (a flag's own value, a
/// default, a combination), each group in its given order. Never throws.
std::vector<ConfigProblem> sort_config_problems(std::vector<ConfigProblem> problems);

}  // namespace img2img

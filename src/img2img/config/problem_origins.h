#pragma once
// Where a range or combination problem's value came from: the "FILE:LINE: " prefix that type errors
// (apply_config) already carry, added to validation problems (config_problems).

#include <string>  // std::string
#include <vector>  // std::vector

#include "img2img/config/config_keys.h"

namespace img2img {

/// `problems` as config_problems words them (each starts with the key it is about, e.g.
/// "data.batch_size = -2: expected >= 1"), each prefixed with the origin of the assignment that last set
/// that key, as apply_config prefixes type errors: "terrain.toml:7: data.batch_size = -2: expected >= 1".
/// Unchanged: a problem whose key was last set on the command line (the flag names it already), one about a
/// key no assignment set (a default, or a problem not about one key).
std::vector<std::string> locate_config_problems(const std::vector<std::string>& problems,
                                                const std::vector<ConfigAssignment>& assignments);

}  // namespace img2img

#pragma once

#include <string>  // std::string
#include <vector>  // std::vector

#include "img2img/config/config_problem.h"
#include "img2img/config/run_config.h"

namespace img2img {

/// What validate_config checks beyond values and ranges.
struct ValidateOptions {
  /// Data / test paths must exist; output.run_dir, output.model_path, output.onnx_path and test.output_dir
  /// (expanded for now, iteration 1, generator 0) must lie in a creatable folder (off for `img2img config`).
  bool check_paths = true;
};

/// Every problem with `config` (ranges, combinations, path templates, missing data paths), each with
/// its key (and the other keys a combination names) and a message naming the value, what is expected
/// and the fix; origins are left empty (locate_config_problems fills them). Empty = valid.
std::vector<ConfigProblem> config_problems(const RunConfig& config, const ValidateOptions& options = {});

/// What the range check of the integer or number key `key` accepts, in its own words after "expected " ("> 0",
/// "1..16"); "" for another key or one no check limits. Found by config_problems itself (defaults, testing on, paths
/// unchecked) with the key at the lowest, then the highest value of its type, so it cannot drift from the checks.
std::string config_key_range(const std::string& key);

/// Throws ConfigError listing all config_problems at once; returns normally when there are none.
void validate_config(const RunConfig& config, const ValidateOptions& options = {});

}  // namespace img2img

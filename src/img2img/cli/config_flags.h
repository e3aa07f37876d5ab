#pragma once
// Binds `--config FILE` and one `--section.key` flag per configuration key to a CLI11 subcommand.

#include <CLI/App.hpp>  // CLI::App

#include <functional>  // std::function
#include <map>     // std::map
#include <memory>  // std::shared_ptr
#include <string>  // std::string
#include <vector>  // std::vector

#include "img2img/config/config_keys.h"
#include "img2img/config/run_config.h"
#include "img2img/config/validate.h"

namespace img2img::cli {

/// Raw strings captured by CLI11; resolved after parsing.
struct ConfigFlags {
  std::vector<std::string> config_files;  ///< --config FILE, in the order given (later files override earlier ones)
  std::map<std::string, CLI::Option*> options;  ///< key name -> its flag
  CLI::App* app = nullptr;
};

/// Adds --config (repeatable) and every key flag (grouped by section, help with the default) to `app`.
std::shared_ptr<ConfigFlags> add_config_flags(CLI::App* app);

/// Defaults (unpaired_defaults() when data.input_type = multiple_unpaired) <- config files in order (and
/// `base_toml`, e.g. a checkpoint's config, before them) <- flags, then
/// validation; every problem (unknown flag or key with did-you-mean, wrong type, range) is reported
/// in one ConfigError, a value from the config file with its "FILE:LINE: " (locate_config_problems).
/// `check_first`, when given, sees the applied configuration and the assignments
/// that made it (in order, each with its origin "FILE:LINE", "command line" or `base_origin`) before
/// validation (only if every key and value was understood) and may throw its own error first, e.g. a
/// resumed run's contradictions with its checkpoint, which would otherwise surface as consequences
/// (test.input_type for a changed data.input_type).
/// `notes`, when given, receives one line per key set to a value the configuration does not read
/// (unused_source_key_notes: data.composite_dir with data.input_type = multiple_paired), formatted as the
/// problems ("x.toml:3: data.composite_dir = ... is ignored: ..."); keys last set by `base_toml` give none.
RunConfig resolve_config_flags(
    const ConfigFlags& flags, const ValidateOptions& validate = {}, const std::string& base_toml = "",
    const std::string& base_origin = "",
    const std::function<void(const RunConfig&, const std::vector<ConfigAssignment>&)>& check_first = {},
    std::vector<std::string>* notes = nullptr);

}  // namespace img2img::cli

#pragma once
// Keys whose default is worked out from other keys (derived defaults), and the TOML file `img2img config`
// prints: there such a key is commented out unless given, so that a file edited and read back with --config
// behaves as if the edits had been typed as flags (an edited max_iterations moves linear_decay with it).

#include <string>  // std::string
#include <vector>  // std::vector

#include "img2img/config/config_keys.h"
#include "img2img/config/run_config.h"

namespace img2img {

/// How a key's value is worked out from other keys when no file or flag gives it.
struct DerivedDefault {
  std::string follows;  ///< the key it follows, e.g. "train.max_iterations"; "" = a plain default
  std::string rule;     ///< with the values of `config`, e.g. "half of train.max_iterations = 200"
};

/// The derived default of `key` in `config`: generator.layers (data.image_size), train.linear_decay
/// (train.max_iterations; resolve_derived_defaults) and the keys whose default differs for unpaired data
/// (data.input_type; unpaired_defaults). `follows` is "" for any other key. Never throws.
DerivedDefault derived_default(const std::string& key, const RunConfig& config);

/// `config` as TOML in config_to_toml's layout, for a user to edit and read back with --config: each key
/// with a derived default that no assignment in `assignments` names is written commented out, with its
/// value and where it comes from ("# linear_decay = 100  # worked out: half of train.max_iterations = 200
/// (uncomment to fix it)"); every other key as a normal line. Read back, it resolves to `config` again.
std::string config_template_toml(const RunConfig& config, const std::vector<ConfigAssignment>& assignments,
                                 bool with_comments = true);

}  // namespace img2img

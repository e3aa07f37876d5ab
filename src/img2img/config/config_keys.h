#pragma once
// The one table of configuration keys (llama.cpp common/arg.cpp style): every `section.key` of the
// TOML file, which is also the `--section.key` flag, with its type, help text and default.

#include <functional>  // std::function
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/config/config_problem.h"
#include "img2img/config/run_config.h"

namespace img2img {

/// One configuration key. `get` renders the current value as a TOML literal; `set` parses a value
/// (as written in TOML or on the command line) and throws std::invalid_argument("expected ...").
struct ConfigKey {
  std::string name;                  ///< "data.image_size"
  std::string type;                  ///< integer | number | boolean | string | path template | one of ...
  std::string help;                  ///< one line, shown by --help with the default
  std::vector<std::string> template_names;  ///< for path templates: the allowed {names}
  std::function<std::string(const RunConfig&)> get;
  std::function<void(RunConfig&, const std::string&)> set;
  bool is_bool = false;
  /// For a default derived from other keys when the key is not given (resolve_derived_defaults):
  /// what it follows, e.g. "follows data.image_size". "" = a plain default.
  std::string default_note;
};

/// All keys, in documentation order (sections: data, train, generator, discriminator, test, output,
/// plot, device, distributed).
const std::vector<ConfigKey>& config_keys();

/// Looks a key up by its full name; nullptr when unknown.
const ConfigKey* find_config_key(const std::string& name);

/// "did you mean 'data.image_size'?" for a mistyped key (a bare or wrong-section name, a pix2pix / Houdini
/// node / shorthand alias: key_alias_hint, else the nearest spelling), or "" when nothing is close.
std::string suggest_config_key(const std::string& name);

/// One `key = value` from a config file or the command line. `origin` names where it came from
/// ("terrain.toml" or "command line") for error messages.
struct ConfigAssignment {
  std::string key;
  std::string value;
  std::string origin;
};

/// Reads a TOML config file (CLI11's TOML reader) into assignments, sections flattened to
/// `section.key`. Throws ConfigError if the file is missing or not valid TOML.
std::vector<ConfigAssignment> read_config_file(const std::string& path);

/// Same for TOML text already in memory (e.g. the config stored in a checkpoint).
std::vector<ConfigAssignment> parse_config_text(const std::string& text, const std::string& origin);

/// Applies assignments in order (later ones override) on top of `base` (the defaults unless given).
/// Unknown keys (with a did-you-mean) and values of the wrong type (a numeric key's with its range, as
/// config_key_range words it, and its default in `base`: "expected a number > 0; default 0.0002") are all
/// collected, each with its assignment's origin: appended to `problems` when given, else thrown as one
/// ConfigError. Does not check ranges: see validate_config. Resolves the derived defaults last
/// (resolve_derived_defaults).
/// (The default is `RunConfig()`, not `{}`: GCC 12 at -O3 followed `{}`'s aggregate initialisation of
/// TestConfig's DataSource base member by member and warned -Wmaybe-uninitialized at every caller.)
RunConfig apply_config(const std::vector<ConfigAssignment>& assignments, RunConfig base = RunConfig(),
                       std::vector<ConfigProblem>* problems = nullptr);

/// Sets the derived defaults of the keys not named in `assignments` (a file, a checkpoint's config or
/// flags): generator.layers = the most layers whose 2^layers divides data.image_size (so <= it), at most 8
/// (at least 1);
/// train.linear_decay = train.max_iterations / 2. A key given explicitly keeps its value. Called by
/// apply_config, so config.toml and checkpoints record the resolved numbers, and a --resume (whose
/// checkpoint config names every key) keeps them.
void resolve_derived_defaults(RunConfig& config, const std::vector<ConfigAssignment>& assignments);

/// The whole configuration as TOML, one `[section]` per struct, every key (derived ones too) as a normal
/// line with its help as a comment; re-readable by read_config_file. The run's record (config.toml,
/// checkpoints); `img2img config` prints config_template_toml instead (config_template.h).
std::string config_to_toml(const RunConfig& config, bool with_comments = true);

}  // namespace img2img

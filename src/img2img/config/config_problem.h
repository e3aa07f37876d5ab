#pragma once
// A configuration problem as a value: the keys it is about, where their values came from, and the
// message. Validation and apply_config produce them, locate_config_problems (problem_origins.h) fills
// the origins from the assignments, and format_config_problem words them, in this one place.

#include <string>  // std::string
#include <vector>  // std::vector

namespace img2img {

/// A further key a problem names beside its leading one (generator.layers vs data.image_size), and
/// where its value was last set ("terrain.toml:7", a resumed checkpoint; "" for a default or a flag).
struct RelatedKey {
  std::string key;
  std::string origin;
  /// Where the key's only value was given and rejected (a type error listed too), so the message shows its
  /// default: rendered " (KEY's value at REJECTED_AT was rejected: its default is used)". "" = none.
  std::string rejected_at;
};

/// One configuration problem. Rendered as "ORIGIN: MESSAGE" (just MESSAGE when origin is empty), then
/// " (KEY is set at ORIGIN)" for each related key with an origin (or the rejected_at note). Validation messages start with `key`.
struct ConfigProblem {
  std::string key;      ///< the key the message is about ("data.batch_size"); "" when not about one key
  std::string origin;   ///< "terrain.toml:3", "command line", or "" (a default, or a flag naming itself)
  std::string message;  ///< the text after the origin: "data.batch_size = -2: expected >= 1"
  std::vector<RelatedKey> related;  ///< other keys whose values the message names
};

/// The problem as one line: "terrain.toml:3: data.batch_size = -2: expected >= 1".
std::string format_config_problem(const ConfigProblem& problem);

/// "N configuration problem(s):\n  - ..." (one format_config_problem line each) for a ConfigError.
std::string format_config_problems(const std::vector<ConfigProblem>& problems);

}  // namespace img2img

#include "img2img/config/config_template.h"

#include <fmt/format.h>  // fmt::format

#include <algorithm>  // std::any_of

#include "img2img/config/unpaired_defaults.h"

namespace img2img {
namespace {

// A rendered TOML value for a comment: strings without their quotes ("lsgan", not "\"lsgan\"").
std::string plain_value(const std::string& toml) {
  if (toml.size() >= 2 && toml.front() == '"' && toml.back() == '"') return toml.substr(1, toml.size() - 2);
  return toml;
}

}  // namespace

DerivedDefault derived_default(const std::string& key, const RunConfig& config) {
  if (key == "train.linear_decay")
    return {"train.max_iterations", fmt::format("half of train.max_iterations = {}", config.train.max_iterations)};
  if (key == "generator.layers")
    return {"data.image_size", fmt::format("the most layers whose 2^layers divides data.image_size = {}, at most 8",
                                           config.data.image_size)};
  // The keys that unpaired_defaults() changes follow data.input_type both ways: a file printed for paired
  // data and switched to multiple_unpaired must get lsgan, and the other way round.
  const ConfigKey* k = find_config_key(key);
  if (k == nullptr || key == "data.input_type") return {};
  static const RunConfig paired, unpaired = unpaired_defaults();
  const std::string for_paired = k->get(paired), for_unpaired = k->get(unpaired);
  if (for_paired == for_unpaired) return {};
  if (is_unpaired(config.data.input_type))
    return {"data.input_type", fmt::format("the default for data.input_type = multiple_unpaired, {} for paired data",
                                           plain_value(for_paired))};
  return {"data.input_type", fmt::format("the default for paired data, {} for data.input_type = multiple_unpaired",
                                         plain_value(for_unpaired))};
}

std::string config_template_toml(const RunConfig& config, const std::vector<ConfigAssignment>& assignments,
                                 bool with_comments) {
  const auto given = [&assignments](const std::string& name) {
    return std::any_of(assignments.begin(), assignments.end(), [&name](const ConfigAssignment& a) { return a.key == name; });
  };
  std::string out;
  std::string section;
  for (const auto& k : config_keys()) {
    const auto dot = k.name.find('.');
    const std::string sec = k.name.substr(0, dot);
    if (sec != section) {
      out += (section.empty() ? "" : "\n") + ("[" + sec + "]\n");
      section = sec;
    }
    const std::string line = k.name.substr(dot + 1) + " = " + k.get(config);
    const DerivedDefault derived = derived_default(k.name, config);
    if (!derived.follows.empty() && !given(k.name)) {
      // Commented out, so that reading the file back works it out again from the keys the user edits.
      out += "# " + line + "  # worked out: " + derived.rule + " (uncomment to fix it)";
      if (with_comments) out += "; " + k.help;
    } else {
      out += line;
      if (with_comments) {
        out += "  # " + k.help;
        if (!derived.follows.empty())
          out += fmt::format(" (worked out unless given: {}; without this line it follows {})", derived.rule,
                             derived.follows);
      }
    }
    out += "\n";
  }
  return out;
}

}  // namespace img2img

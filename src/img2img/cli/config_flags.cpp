#include "img2img/cli/config_flags.h"

#include <fmt/format.h>  // fmt::format

#include <algorithm>  // std::find

#include "img2img/cli/flag_values.h"  // expect_nonempty
#include "img2img/config/config_keys.h"
#include "img2img/config/problem_origins.h"
#include "img2img/config/source_keys.h"
#include "img2img/config/unpaired_defaults.h"
#include "img2img/core/error.h"

namespace img2img::cli {

std::shared_ptr<ConfigFlags> add_config_flags(CLI::App* app) {
  auto flags = std::make_shared<ConfigFlags>();
  flags->app = app;
  // Repeatable, one file per --config: later files override earlier ones, flags override them all (as with
  // several -c files of other tools). Each takes exactly one value, so `--config a.toml b.toml` is not two.
  // An empty value (`--config "$UNSET_VAR"`) is an error, never a run without the file.
  expect_nonempty(app->add_option("--config", flags->config_files,
                  "TOML configuration file; give --config several times to layer files (later ones override "
                  "earlier ones); flags given too override them")
                      ->type_name("FILE")
                      ->allow_extra_args(false),
                  "a TOML file", "my.toml");
  const RunConfig defaults;
  for (const auto& key : config_keys()) {
    const std::string section = key.name.substr(0, key.name.find('.'));
    std::string help = key.default_note.empty()
                           ? fmt::format("{} (default: {})", key.help, key.get(defaults))
                           : fmt::format("{} (default: {}; {} at the defaults)", key.help, key.default_note,
                                         key.get(defaults));
    if (!key.template_names.empty()) {
      std::string names;
      for (const auto& n : key.template_names) names += (names.empty() ? "{" : ", {") + n + "}";
      help += "; template names: " + names;
      if (std::find(key.template_names.begin(), key.template_names.end(), "iteration") != key.template_names.end())
        help += " ({iteration:06} zero-fills to 6 digits)";
    }
    CLI::Option* opt = app->add_option("--" + key.name)->description(help)->group("[" + section + "]");
    opt->type_name(key.type.rfind("one of", 0) == 0 ? key.type.substr(7) : key.type);
    if (key.is_bool) opt->expected(0, 1);  // `--data.shuffle` alone means true
    // A flag given twice: the last one wins, as flags win over the config file.
    opt->multi_option_policy(CLI::MultiOptionPolicy::TakeLast);
    flags->options[key.name] = opt;
  }
  // Unknown `--foo` flags are collected and reported with the other config problems.
  app->allow_extras();
  return flags;
}

RunConfig resolve_config_flags(
    const ConfigFlags& flags, const ValidateOptions& validate, const std::string& base_toml,
    const std::string& base_origin,
    const std::function<void(const RunConfig&, const std::vector<ConfigAssignment>&)>& check_first,
    std::vector<std::string>* notes) {
  std::vector<ConfigAssignment> assignments;
  if (!base_toml.empty()) assignments = parse_config_text(base_toml, base_origin);
  for (const std::string& path : flags.config_files) {
    auto file = read_config_file(path);
    assignments.insert(assignments.end(), file.begin(), file.end());
  }
  for (const auto& [name, opt] : flags.options) {
    if (opt->count() == 0) continue;
    const auto& results = opt->results();
    // A bare boolean flag (`--data.shuffle`) means true; any other key keeps its value, "" included
    // (`--output.onnx_path ''` turns ONNX files off).
    const bool bare = results.empty() || results.back().empty();
    std::string value = bare && find_config_key(name)->is_bool ? "true" : results.empty() ? "" : results.back();
    assignments.push_back({name, value, "command line"});
  }
  std::vector<ConfigProblem> problems;
  for (const auto& extra : flags.app->remaining()) {
    if (extra.rfind("--", 0) != 0) {
      // `--config a.toml b.toml`: each --config takes one file.
      const bool toml = extra.size() > 5 && extra.compare(extra.size() - 5, 5, ".toml") == 0;
      problems.push_back(
          {"", "command line",
           toml ? fmt::format("unexpected argument '{}': each config file needs its own --config "
                              "(--config FIRST.toml --config {}; later files override earlier ones)",
                              extra, extra)
                : fmt::format("unexpected argument '{}'; values go as --section.key=value", extra),
           {}});
      continue;
    }
    std::string name = extra.substr(2);
    name = name.substr(0, name.find('='));
    const std::string hint = suggest_config_key(name);
    problems.push_back(
        {"", "command line", fmt::format("unknown flag '--{}'{}", name, hint.empty() ? "" : "; " + hint), {}});
  }
  // Unpaired runs start from unpaired_defaults(): the file and flags decide the base, then apply on it.
  RunConfig config = apply_config(assignments, base_config_for(assignments), &problems);
  if (check_first && problems.empty()) check_first(config, assignments);
  // Range problems name the FILE:LINE of each value from the config file they are about, as type errors do.
  // A value rejected above (a type error) was not applied: a range problem that shows the key's default
  // says so instead of pointing at the rejected line.
  const auto more = locate_config_problems(config_problems(config, validate), assignments, problems);
  problems.insert(problems.end(), more.begin(), more.end());
  if (!problems.empty()) throw ConfigError(format_config_problems(sort_config_problems(std::move(problems))));
  if (notes != nullptr)
    for (const ConfigProblem& n :
         sort_config_problems(unused_source_key_notes(config, assignments, base_toml.empty() ? "" : base_origin)))
      notes->push_back(format_config_problem(n));
  return config;
}

}  // namespace img2img::cli

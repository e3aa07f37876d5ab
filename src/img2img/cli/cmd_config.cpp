#include <cstdio>    // std::fprintf
#include <iostream>  // std::cout

#include "img2img/cli/commands.h"
#include "img2img/cli/config_flags.h"
#include "img2img/config/config_keys.h"

namespace img2img::cli {

Command setup_config(CLI::App& app) {
  CLI::App* sub = app.add_subcommand(
      "config", "Print the fully resolved configuration (defaults <- --config file <- flags) as TOML");
  auto flags = add_config_flags(sub);
  auto no_comments = std::make_shared<bool>(false);
  sub->add_flag("--no-comments", *no_comments, "omit the help comment after each key");
  return {sub, [flags, no_comments] {
            ValidateOptions v;
            v.check_paths = false;  // printing a config needs no data on disk
            std::vector<std::string> notes;  // keys the configuration does not read: on stderr, stdout stays TOML
            const RunConfig config = resolve_config_flags(*flags, v, "", "", {}, &notes);
            for (const std::string& n : notes) std::fprintf(stderr, "note: %s\n", n.c_str());
            std::cout << config_to_toml(config, !*no_comments);
            return 0;
          }};
}

}  // namespace img2img::cli

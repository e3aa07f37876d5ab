#include <cstdio>    // std::fprintf
#include <iostream>  // std::cout

#include "img2img/cli/commands.h"
#include "img2img/cli/config_flags.h"
#include "img2img/config/config_keys.h"
#include "img2img/config/config_template.h"

namespace img2img::cli {

Command setup_config(CLI::App& app) {
  CLI::App* sub = app.add_subcommand(
      "config",
      "Print the resolved configuration (defaults <- --config files <- flags) as a TOML file to edit for train "
      "--config; keys worked out from others are commented out unless given, so they follow your edits");
  auto flags = add_config_flags(sub);
  auto no_comments = std::make_shared<bool>(false);
  sub->add_flag("--no-comments", *no_comments,
                "omit the help comment after each key (a key commented out keeps its 'worked out' note)");
  return {sub, [flags, no_comments] {
            ValidateOptions v;
            v.check_paths = false;  // printing a config needs no data on disk
            std::vector<std::string> notes;  // keys the configuration does not read: on stderr, stdout stays TOML
            std::vector<ConfigAssignment> given;  // what the files and flags set; the rest is default or worked out
            const RunConfig config = resolve_config_flags(
                *flags, v, "", "", [&given](const RunConfig&, const std::vector<ConfigAssignment>& a) { given = a; },
                &notes);
            for (const std::string& n : notes) std::fprintf(stderr, "note: %s\n", n.c_str());
            std::cout << config_template_toml(config, given, !*no_comments);
            return 0;
          }};
}

}  // namespace img2img::cli

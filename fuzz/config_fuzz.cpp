// libFuzzer target: the TOML config parser, apply_config, validation (problems located and rendered)
// and the TOML round trip.
// Bad text must end in an img2img::Error (ConfigError); anything else (another exception, a crash,
// a sanitizer report) is a bug.

#include <cstddef>  // size_t
#include <cstdint>  // uint8_t
#include <string>   // std::string

#include "img2img/config/config_keys.h"
#include "img2img/config/problem_origins.h"
#include "img2img/config/validate.h"
#include "img2img/core/error.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  try {
    const auto assignments = img2img::parse_config_text(text, "fuzz");
    const img2img::RunConfig config = img2img::apply_config(assignments);
    img2img::ValidateOptions options;
    options.check_paths = false;
    // Problems are located and rendered as the CLI does.
    (void)img2img::format_config_problems(
        img2img::locate_config_problems(img2img::config_problems(config, options), assignments));
    // A config that parsed must print as TOML that parses back.
    (void)img2img::apply_config(img2img::parse_config_text(img2img::config_to_toml(config), "round trip"));
  } catch (const img2img::Error&) {
  }
  return 0;
}

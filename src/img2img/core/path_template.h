#pragma once
// Output path templates (spec "Path templates"): {network}, {index}, {iteration}, {run_dir}, {date},
// {time}, plus environment variables ($VAR, ${VAR}) and a leading ~.

#include <map>     // std::map
#include <string>  // std::string
#include <vector>  // std::vector

namespace img2img {

/// The {names} used in `tmpl`, in order of appearance (duplicates kept). Throws ConfigError on an
/// unclosed '{'.
std::vector<std::string> template_names(const std::string& tmpl);

/// Expands `tmpl`: each {name} from `values` (an unknown name throws ConfigError listing the known
/// ones), then $VAR / ${VAR} from the environment (unset -> ConfigError naming it) and a leading ~
/// ($HOME). {iteration} values are passed in already formatted (zero-padded so files sort).
std::string expand_template(const std::string& tmpl, const std::map<std::string, std::string>& values);

/// {date} (YYYY-MM-DD) and {time} (HHMMSS) of now, local time, for expand_template.
std::map<std::string, std::string> date_time_template_values();

/// Zero-padded iteration for file names: 7 -> "000007".
std::string format_iteration(long long iteration);

}  // namespace img2img

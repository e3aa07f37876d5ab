#pragma once
// Output path templates (spec "Path templates"): {network}, {index}, {iteration}, {run_dir}, {date},
// {time}, plus environment variables ($VAR, ${VAR}) and a leading ~. The numbers {iteration} and
// {index} are written plain ({iteration} -> 7) or zero-filled to a width ({iteration:06} -> 000007).

#include <map>     // std::map
#include <string>  // std::string
#include <vector>  // std::vector

namespace img2img {

/// The {names} used in `tmpl`, in order of appearance (duplicates kept), without their format
/// (`{iteration:06}` -> "iteration"). Throws ConfigError on an unclosed '{' and on a malformed format
/// of a known name (`{iteration:x}`, `{network:06}`), naming the template and the fix.
std::vector<std::string> template_names(const std::string& tmpl);

/// Expands `tmpl`: each {name} from `values` (an unknown name throws ConfigError listing the known
/// ones), then $VAR / ${VAR} from the environment (unset -> ConfigError naming it) and a leading ~
/// ($HOME). {iteration} and {index} values are integers (decimal text): written as the plain number,
/// or zero-filled with `{iteration:0N}` (N = 1 to 20). Throws ConfigError for a malformed format.
std::string expand_template(const std::string& tmpl, const std::map<std::string, std::string>& values);

/// Whether `tmpl` uses {date} or {time}: an output.run_dir template that names a new folder per run
/// (create_run_folder adds -2, -3, ... when that folder exists). Throws as template_names.
bool names_folder_per_run(const std::string& tmpl);

/// {date} (YYYY-MM-DD) and {time} (HHMMSS) of now, local time, for expand_template.
std::map<std::string, std::string> date_time_template_values();

/// Zero-padded iteration for the test image FILE names (`<iteration>_<name>_<role>.png`, not a
/// template), so they sort: 7 -> "000007". Template values take the plain number (std::to_string).
std::string format_iteration(long long iteration);

/// `word` as one word of a POSIX shell command line, for the commands img2img prints to be copied
/// (`resume with: img2img train --resume ...`): unchanged when it holds only characters no shell treats
/// specially (letters, digits, UTF-8 bytes, `_ . / : = @ % + , -`), else in single quotes with each `'`
/// written `'\''` (`runs/my run` -> `'runs/my run'`, `it's` -> `'it'\''s'`, "" -> `''`).
std::string shell_quote(const std::string& word);

}  // namespace img2img

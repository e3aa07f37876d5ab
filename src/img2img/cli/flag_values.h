#pragma once
// Checks of `img2img` flag values while CLI11 parses them, so a bad value of a known flag is one
// `error:` line naming the flag, the value and what is expected (exit 1), never CLI11's raw
// "Could not convert: ..." (exit 104), and a flag whose value was forgotten does not silently take
// the next flag as its value.

#include <CLI/App.hpp>  // CLI::App, CLI::Option

#include <cstdint>    // int64_t
#include <limits>     // std::numeric_limits
#include <stdexcept>  // std::runtime_error
#include <string>     // std::string
#include <vector>     // std::vector

namespace img2img::cli {

/// A bad value of a known flag (not a number, out of range, missing). Thrown from CLI11 validators
/// during App::parse; main prints "error: " + what() and exits 1 (a user error, docs/reliability.md).
class FlagValueError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// "--data.image_size needs a value, but the next argument is the flag '--train.max_iterations'; ..."
/// for `flag` followed by `next` (a value starting with "--"). Negative numbers (-1) are values.
std::string needs_value_message(const std::string& flag, const std::string& next);

/// The value of `opt` must be a whole number in [min, max]; otherwise FlagValueError
/// "--tile-size: expected <what>, got 'abc'" (with an example from the option's default when it has
/// one). `what` says what the number means, e.g. "a whole number of pixels". Returns `opt`.
CLI::Option* expect_integer(CLI::Option* opt, const std::string& what,
                            int64_t min = std::numeric_limits<int64_t>::min(),
                            int64_t max = std::numeric_limits<int64_t>::max());

/// The value of `opt` must be a finite number (for a vector option: each item); otherwise
/// FlagValueError as expect_integer. Returns `opt`.
CLI::Option* expect_number(CLI::Option* opt, const std::string& what);

/// The value of `opt` must be one of `choices` ("resize", "pad"); otherwise FlagValueError listing
/// them. Returns `opt`.
CLI::Option* expect_choice(CLI::Option* opt, const std::vector<std::string>& choices);

/// The value of `opt` must name a device: auto, cpu, cuda or cuda:N; otherwise FlagValueError.
/// Returns `opt`.
CLI::Option* expect_device(CLI::Option* opt);

/// Adds `--weights average|trained` to `sub` (infer, export), bound to `value` ("average" by default):
/// which weights of a generator checkpoint to load (infer/checkpoint_weights.h). Returns the option.
CLI::Option* add_weights_option(CLI::App& sub, std::string& value);

/// "--resume needs a run folder or checkpoint file, got an empty value (...); give it, e.g. --resume
/// runs/2024-05-01-1200, or leave --resume out" for `flag`, `what` and `example`.
std::string empty_value_message(const std::string& flag, const std::string& what, const std::string& example);

/// The value of `opt` must not be empty: `--resume=` or `--resume "$UNSET_VAR"` would otherwise act as
/// if the flag were absent. FlagValueError "--resume needs <what>, got an empty value ...". Returns `opt`.
CLI::Option* expect_nonempty(CLI::Option* opt, const std::string& what, const std::string& example);

/// Every option of `app` and its subcommands (recursively) that takes a value rejects a value that
/// starts with "--": `--data.image_size --train.max_iterations 3` forgot the value, and CLI11 would
/// take "--train.max_iterations" as it. Call after all options are added.
void reject_flags_as_values(CLI::App& app);

/// For CLI11's "NAME: 1 required TYPE missing" (a flag given last without its value): the flag name,
/// else "".
std::string flag_missing_its_value(const std::string& cli11_message);

/// For `img2img ARGS` (args[0] = the program): "" if the first argument not starting with '-' is a
/// subcommand of `app` or there is none; else "unknown subcommand 'bogus'; [did you mean 'train'? ]
/// expected one of: train, config, ...; see img2img --help" (main prints it as an `error:` line,
/// exit 1; CLI11 would say "A subcommand is required", exit 106).
std::string unknown_subcommand_message(const CLI::App& app, const std::vector<std::string>& args);

}  // namespace img2img::cli

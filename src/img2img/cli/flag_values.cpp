#include "img2img/cli/flag_values.h"

#include <fmt/format.h>  // fmt::format

#include <algorithm>  // std::find_if, std::max
#include <charconv>  // std::from_chars
#include <cmath>     // std::isfinite
#include <cstdlib>   // std::strtod
#include <vector>    // std::vector

#include "img2img/core/suggest.h"

namespace img2img::cli {

namespace {

bool looks_like_flag(const std::string& value) { return value.rfind("--", 0) == 0; }

// " (e.g. --tile-size 256)" from the option's default, or "".
std::string example(const CLI::Option* opt) {
  const std::string d = opt->get_default_str();
  return d.empty() || d.front() == '[' ? "" : fmt::format(" (e.g. {} {})", opt->get_name(), d);
}

void throw_if_flag(const CLI::Option* opt, const std::string& value) {
  if (looks_like_flag(value)) throw FlagValueError(needs_value_message(opt->get_name(), value));
}

}  // namespace

std::string needs_value_message(const std::string& flag, const std::string& next) {
  return fmt::format("{} needs a value, but the next argument is the flag '{}'; give the value after {} "
                     "(or write {}=VALUE)",
                     flag, next, flag, flag);
}

CLI::Option* expect_integer(CLI::Option* opt, const std::string& what, int64_t min, int64_t max) {
  opt->check(CLI::Validator(
      [opt, what, min, max](std::string& value) -> std::string {
        throw_if_flag(opt, value);
        int64_t v = 0;
        const char* end = value.data() + value.size();
        const auto [ptr, ec] = std::from_chars(value.data(), end, v);
        if (value.empty() || ec != std::errc() || ptr != end || v < min || v > max)
          throw FlagValueError(fmt::format("{}: expected {}, got '{}'{}", opt->get_name(), what, value, example(opt)));
        return "";
      },
      ""));
  return opt;
}

CLI::Option* expect_number(CLI::Option* opt, const std::string& what) {
  opt->check(CLI::Validator(
      [opt, what](std::string& value) -> std::string {
        throw_if_flag(opt, value);
        char* end = nullptr;
        const double v = value.empty() ? 0.0 : std::strtod(value.c_str(), &end);
        if (value.empty() || end != value.c_str() + value.size() || !std::isfinite(v))
          throw FlagValueError(fmt::format("{}: expected {}, got '{}'{}", opt->get_name(), what, value, example(opt)));
        return "";
      },
      ""));
  return opt;
}

CLI::Option* expect_choice(CLI::Option* opt, const std::vector<std::string>& choices) {
  opt->check(CLI::Validator(
      [opt, choices](std::string& value) -> std::string {
        throw_if_flag(opt, value);
        std::string list;
        for (size_t i = 0; i < choices.size(); ++i) {
          if (choices[i] == value) return "";
          list += (i == 0 ? "" : i + 1 == choices.size() ? " or " : ", ") + choices[i];
        }
        throw FlagValueError(fmt::format("{}: expected {}, got '{}'", opt->get_name(), list, value));
      },
      ""));
  return opt;
}

CLI::Option* add_weights_option(CLI::App& sub, std::string& value) {
  return expect_choice(sub.add_option("--weights", value,
                                      "average: the moving average of the trained weights that the checkpoint's .pt "
                                      "holds (generator.ema_decay); trained: the trained weights, from the training "
                                      "state beside it (X.optim.pt; a checkpoint without an average: its .pt)")
                           ->capture_default_str(),
                       {"average", "trained"});
}

CLI::Option* expect_device(CLI::Option* opt) {
  opt->check(CLI::Validator(
      [opt](std::string& value) -> std::string {
        throw_if_flag(opt, value);
        if (value == "auto" || value == "cpu" || value == "cuda") return "";
        int64_t index = -1;
        const char* end = value.data() + value.size();
        if (value.rfind("cuda:", 0) == 0) {
          const auto [ptr, ec] = std::from_chars(value.data() + 5, end, index);
          if (ec == std::errc() && ptr == end && index >= 0 && value.size() > 5) return "";
        }
        throw FlagValueError(
            fmt::format("{}: expected auto, cpu, cuda or cuda:N (N = 0, 1, ...), got '{}'", opt->get_name(), value));
      },
      ""));
  return opt;
}

std::string empty_value_message(const std::string& flag, const std::string& what, const std::string& example) {
  return fmt::format("{} needs {}, got an empty value (an unset or empty shell variable?); give it, e.g. {} "
                     "{}, or leave {} out",
                     flag, what, flag, example, flag);
}

CLI::Option* expect_nonempty(CLI::Option* opt, const std::string& what, const std::string& example) {
  opt->check(CLI::Validator(
      [opt, what, example](std::string& value) -> std::string {
        throw_if_flag(opt, value);
        if (value.find_first_not_of(" \t") == std::string::npos)
          throw FlagValueError(empty_value_message(opt->get_name(), what, example));
        return "";
      },
      ""));
  return opt;
}

void reject_flags_as_values(CLI::App& app) {
  for (CLI::Option* opt : app.get_options()) {
    if (!opt->nonpositional() || opt->get_expected_min() < 1) continue;
    opt->check(CLI::Validator(
        [opt](std::string& value) -> std::string {
          throw_if_flag(opt, value);
          return "";
        },
        ""));
  }
  for (CLI::App* sub : app.get_subcommands([](CLI::App*) { return true; })) reject_flags_as_values(*sub);
}

std::string flag_missing_its_value(const std::string& message) {
  const auto colon = message.find(": ");
  if (colon == std::string::npos || message.rfind("--", 0) != 0) return "";
  const std::string rest = message.substr(colon + 2);
  if (rest.find(" required ") == std::string::npos || rest.size() < 8 || rest.compare(rest.size() - 8, 8, " missing") != 0)
    return "";
  return message.substr(0, colon);
}

std::string unknown_subcommand_message(const CLI::App& app, const std::vector<std::string>& args) {
  // img2img has no top-level option that takes a value, so the first other argument is the subcommand.
  const auto given = std::find_if(args.begin() + (args.empty() ? 0 : 1), args.end(),
                                  [](const std::string& a) { return a.empty() || a[0] != '-'; });
  if (given == args.end()) return "";
  std::vector<std::string> names;
  for (const CLI::App* sub : app.get_subcommands([](const CLI::App*) { return true; })) {
    if (sub->get_name() == *given) return "";
    names.push_back(sub->get_name());
  }
  const std::string close = closest_name(*given, names, std::max<size_t>(2, given->size() / 3));
  std::string list;
  for (const std::string& n : names) list += (list.empty() ? "" : ", ") + n;
  return fmt::format("unknown subcommand '{}'; {}expected one of: {} (img2img --help describes them)", *given,
                     close.empty() ? "" : fmt::format("did you mean '{}'? ", close), list);
}

}  // namespace img2img::cli

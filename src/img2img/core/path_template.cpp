#include "img2img/core/path_template.h"

#include <fmt/format.h>  // fmt::format

#include <algorithm>     // std::find
#include <cctype>        // std::isalnum, std::isdigit
#include <charconv>      // std::from_chars
#include <cstdlib>       // std::getenv
#include <cstring>       // std::strchr
#include <ctime>         // std::time, std::strftime
#include <system_error>  // std::errc

#include "img2img/core/error.h"

namespace img2img {

std::map<std::string, std::string> date_time_template_values() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char date[16], time[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
  std::strftime(time, sizeof time, "%H%M%S", &tm);
  return {{"date", date}, {"time", time}};
}

namespace {
constexpr int kMaxWidth = 20;  // a 64-bit count has at most 19 digits

bool is_number_name(const std::string& name) { return name == "iteration" || name == "index"; }
bool is_text_name(const std::string& name) {
  return name == "network" || name == "run_dir" || name == "date" || name == "time";
}

// One {field} of a template: `{iteration:06}` is name "iteration" with width 6.
struct Field {
  std::string name;
  bool has_format = false;
  int width = 0;
};

// Parses the text between '{' and '}'. A format is checked for the names img2img knows; an unknown
// name keeps it (the unknown name is the error reported).
Field parse_field(const std::string& inside, const std::string& tmpl) {
  Field f;
  const size_t colon = inside.find(':');
  f.name = inside.substr(0, colon);
  if (colon == std::string::npos) return f;
  f.has_format = true;
  const std::string spec = inside.substr(colon + 1);
  if (is_text_name(f.name))
    throw ConfigError(fmt::format("path template '{}': {{{}}} gives a format to {{{}}}, which is not a number; only "
                                  "{{iteration}} and {{index}} take one (e.g. {{iteration:06}}). Write {{{}}}.",
                                  tmpl, inside, f.name, f.name));
  if (!is_number_name(f.name)) return f;
  bool ok = spec.size() >= 2 && spec.size() <= 3 && spec[0] == '0' && spec[1] != '0';
  for (size_t k = 1; ok && k < spec.size(); ++k) ok = std::isdigit(static_cast<unsigned char>(spec[k])) != 0;
  if (ok) f.width = std::stoi(spec.substr(1));
  if (!ok || f.width < 1 || f.width > kMaxWidth)
    throw ConfigError(fmt::format("path template '{}': {{{}}} has an invalid format '{}'. Write {{{}}} for the plain "
                                  "number (7), or {{{}:0N}} to zero-fill it to N digits (N = 1 to {}) so file names "
                                  "sort, e.g. {{{}:06}} (000007).",
                                  tmpl, inside, spec, f.name, f.name, kMaxWidth, f.name));
  return f;
}

// The text of `value` for field `f`: numbers plain or zero-filled (a value with leading zeros, e.g.
// format_iteration's, is written as its number), any other name as it is.
std::string field_text(const Field& f, const std::string& value, const std::string& tmpl) {
  if (!is_number_name(f.name)) return value;
  long long n = 0;
  const char* end = value.data() + value.size();
  const auto [ptr, ec] = std::from_chars(value.data(), end, n);
  if (ec != std::errc() || ptr != end) {
    if (!f.has_format) return value;
    throw ConfigError(fmt::format("path template '{}': {{{}}} = '{}' is not an integer, so it cannot be zero-filled. "
                                  "Write {{{}}}.",
                                  tmpl, f.name, value, f.name));
  }
  return f.has_format ? fmt::format("{:0{}d}", n, f.width) : std::to_string(n);
}
}  // namespace

std::vector<std::string> template_names(const std::string& tmpl) {
  std::vector<std::string> names;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '{') continue;
    if (i > 0 && tmpl[i - 1] == '$') continue;  // ${VAR} is an environment variable
    const size_t close = tmpl.find('}', i);
    if (close == std::string::npos)
      throw ConfigError(fmt::format("path template '{}' has an unclosed '{{'. Close it, e.g. {{iteration}}.", tmpl));
    names.push_back(parse_field(tmpl.substr(i + 1, close - i - 1), tmpl).name);
    i = close;
  }
  return names;
}

bool names_folder_per_run(const std::string& tmpl) {
  const std::vector<std::string> names = template_names(tmpl);
  return std::find(names.begin(), names.end(), "date") != names.end() ||
         std::find(names.begin(), names.end(), "time") != names.end();
}

std::string expand_template(const std::string& tmpl, const std::map<std::string, std::string>& values) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    const char c = tmpl[i];
    if (c == '{' && !(i > 0 && tmpl[i - 1] == '$')) {
      const size_t close = tmpl.find('}', i);
      if (close == std::string::npos)
        throw ConfigError(fmt::format("path template '{}' has an unclosed '{{'.", tmpl));
      const Field field = parse_field(tmpl.substr(i + 1, close - i - 1), tmpl);
      const auto it = values.find(field.name);
      if (it == values.end()) {
        std::string known;
        for (const auto& [k, v] : values) known += (known.empty() ? "{" : ", {") + k + "}";
        throw ConfigError(
            fmt::format("unknown {{{}}} in path template '{}'; allowed here: {}", field.name, tmpl, known));
      }
      out += field_text(field, it->second, tmpl);
      i = close;
    } else if (c == '$' && i + 1 < tmpl.size()) {
      std::string var;
      if (tmpl[i + 1] == '{') {
        const size_t close = tmpl.find('}', i);
        if (close == std::string::npos)
          throw ConfigError(fmt::format("path template '{}' has an unclosed '${{'.", tmpl));
        var = tmpl.substr(i + 2, close - i - 2);
        i = close;
      } else {
        size_t j = i + 1;
        while (j < tmpl.size() && (std::isalnum(static_cast<unsigned char>(tmpl[j])) || tmpl[j] == '_')) ++j;
        var = tmpl.substr(i + 1, j - i - 1);
        if (var.empty()) {
          out += c;
          continue;
        }
        i = j - 1;
      }
      const char* env = std::getenv(var.c_str());
      if (env == nullptr)
        throw ConfigError(fmt::format("environment variable ${} used in path '{}' is not set. Set it or edit the path.",
                                      var, tmpl));
      out += env;
    } else if (c == '~' && i == 0 && (tmpl.size() == 1 || tmpl[1] == '/')) {
      const char* home = std::getenv("HOME");
      if (home == nullptr) throw ConfigError(fmt::format("path '{}' starts with ~ but $HOME is not set.", tmpl));
      out += home;
    } else {
      out += c;
    }
  }
  return out;
}

std::string format_iteration(long long iteration) { return fmt::format("{:06d}", iteration); }

std::string shell_quote(const std::string& word) {
  const auto plain = [](unsigned char c) {
    return c >= 0x80 || std::isalnum(c) || (c != 0 && std::strchr("_./:=@%+,-", c) != nullptr);
  };
  if (!word.empty() && std::all_of(word.begin(), word.end(), [&](char c) { return plain(static_cast<unsigned char>(c)); }))
    return word;
  std::string out = "'";
  for (const char c : word) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

}  // namespace img2img

#include "img2img/core/path_template.h"

#include <fmt/format.h>  // fmt::format

#include <cctype>   // std::isalnum
#include <cstdlib>  // std::getenv
#include <ctime>    // std::time, std::strftime

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

std::vector<std::string> template_names(const std::string& tmpl) {
  std::vector<std::string> names;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    if (tmpl[i] != '{') continue;
    if (i > 0 && tmpl[i - 1] == '$') continue;  // ${VAR} is an environment variable
    const size_t close = tmpl.find('}', i);
    if (close == std::string::npos)
      throw ConfigError(fmt::format("path template '{}' has an unclosed '{{'. Close it, e.g. {{iteration}}.", tmpl));
    names.push_back(tmpl.substr(i + 1, close - i - 1));
    i = close;
  }
  return names;
}

std::string expand_template(const std::string& tmpl, const std::map<std::string, std::string>& values) {
  std::string out;
  for (size_t i = 0; i < tmpl.size(); ++i) {
    const char c = tmpl[i];
    if (c == '{' && !(i > 0 && tmpl[i - 1] == '$')) {
      const size_t close = tmpl.find('}', i);
      if (close == std::string::npos)
        throw ConfigError(fmt::format("path template '{}' has an unclosed '{{'.", tmpl));
      const std::string name = tmpl.substr(i + 1, close - i - 1);
      const auto it = values.find(name);
      if (it == values.end()) {
        std::string known;
        for (const auto& [k, v] : values) known += (known.empty() ? "{" : ", {") + k + "}";
        throw ConfigError(fmt::format("unknown {{{}}} in path template '{}'; allowed here: {}", name, tmpl, known));
      }
      out += it->second;
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

}  // namespace img2img

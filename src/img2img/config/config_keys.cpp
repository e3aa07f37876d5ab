#include "img2img/config/config_keys.h"

#include <CLI/Config.hpp>  // CLI::ConfigTOML
#include <fmt/format.h>    // fmt::format

#include <algorithm>   // std::min, std::all_of, std::count
#include <filesystem>  // std::filesystem::is_directory
#include <cctype>     // std::isalnum
#include <cmath>      // std::isfinite
#include <fstream>    // std::ifstream
#include <map>        // std::map
#include <sstream>    // std::istringstream
#include <stdexcept>  // std::invalid_argument

#include "img2img/config/config_template.h"  // config_template_toml
#include "img2img/config/enum_names.h"
#include "img2img/config/key_aliases.h"
#include "img2img/config/validate.h"  // config_key_range
#include "img2img/core/error.h"
#include "img2img/core/suggest.h"

namespace img2img {
namespace {

std::string trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// ---- value codecs: parse(string) throws std::invalid_argument("expected ..."); render() -> TOML ----
int64_t parse_value(const std::string& s, int64_t*) {
  const std::string t = trim(s);
  size_t used = 0;
  long long v = 0;
  try {
    v = std::stoll(t, &used, 10);
  } catch (const std::exception&) {
    used = 0;
  }
  if (t.empty() || used != t.size()) throw std::invalid_argument("expected an integer");
  return static_cast<int64_t>(v);
}
double parse_value(const std::string& s, double*) {
  const std::string t = trim(s);
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(t, &used);
  } catch (const std::exception&) {
    used = 0;
  }
  if (t.empty() || used != t.size()) throw std::invalid_argument("expected a number");
  if (!std::isfinite(v)) throw std::invalid_argument("expected a finite number");
  return v;
}
bool parse_value(const std::string& s, bool*) {
  const std::string t = lower(trim(s));
  if (t == "true" || t == "1" || t == "yes" || t == "on") return true;
  if (t == "false" || t == "0" || t == "no" || t == "off") return false;
  throw std::invalid_argument("expected true or false");
}
std::string parse_value(const std::string& s, std::string*) { return s; }
template <class E>
E parse_value(const std::string& s, E*) {
  const std::string t = lower(trim(s));
  for (const auto& [v, name] : enum_names<E>())
    if (name == t) return v;
  throw std::invalid_argument("expected one of: " + enum_choices<E>());
}

std::string render(int64_t v) { return std::to_string(v); }
std::string render(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eE") == std::string::npos) s += ".0";  // TOML float literal
  return s;
}
std::string render(bool v) { return v ? "true" : "false"; }
// CLI11's TOML reader strips the quotes but does not unescape, so values are written verbatim.
std::string quote(const std::string& v) { return "\"" + v + "\""; }
std::string render(const std::string& v) { return quote(v); }
template <class E>
std::string render(E v) {
  return quote(to_string(v));
}

std::string type_name(int64_t*) { return "integer"; }
std::string type_name(double*) { return "number"; }
std::string type_name(bool*) { return "boolean"; }
std::string type_name(std::string*) { return "string"; }
template <class E>
std::string type_name(E*) {
  return "one of " + enum_choices<E>();
}

// A key bound to `(config.*section).*field`. Base may be a base class of Section (DataSource).
template <class Section, class Base, class T>
ConfigKey key(std::string name, Section RunConfig::*section, T Base::*field, std::string help,
              std::vector<std::string> template_names = {}) {
  ConfigKey k;
  k.name = std::move(name);
  k.type = template_names.empty() ? type_name(static_cast<T*>(nullptr)) : "path template";
  k.help = std::move(help);
  k.template_names = std::move(template_names);
  k.get = [section, field](const RunConfig& c) { return render(static_cast<const Base&>(c.*section).*field); };
  k.set = [section, field](RunConfig& c, const std::string& v) {
    static_cast<Base&>(c.*section).*field = parse_value(v, static_cast<T*>(nullptr));
  };
  k.is_bool = std::is_same_v<T, bool>;
  return k;
}

const std::vector<std::string> kRunDirNames{"date", "time"};
const std::vector<std::string> kOutputNames{"run_dir", "network", "index", "iteration", "date", "time"};

template <class Section>
void add_source_keys(std::vector<ConfigKey>& k, const std::string& s, Section RunConfig::*sec) {
  k.push_back(key(s + ".input_type", sec, &DataSource::input_type,
                  "single_paired | multiple_paired | multiple_unpaired | composite_paired"));
  k.push_back(key(s + ".input_image", sec, &DataSource::input_image, "single_paired: input image file"));
  k.push_back(key(s + ".reference_image", sec, &DataSource::reference_image,
                  "single_paired: reference image file"));
  k.push_back(key(s + ".input_dir", sec, &DataSource::input_dir, "multiple_*: folder of input images (unpaired: domain A)"));
  k.push_back(key(s + ".reference_dir", sec, &DataSource::reference_dir,
                  "multiple_*: folder of reference images (paired: by file name; unpaired: domain B)"));
  k.push_back(key(s + ".composite_dir", sec, &DataSource::composite_dir,
                  "composite_paired: folder of input|reference side-by-side images"));
  k.push_back(key(s + ".storage", sec, &DataSource::storage,
                  "automatic (host memory, batches moved to the device) | device (all on the device)"));
  k.push_back(key(s + ".worker_threads", sec, &DataSource::worker_threads,
                  "background image-decoding threads; 0 = decode on the training thread"));
  k.push_back(key(s + ".memory_budget_mb", sec, &DataSource::memory_budget_mb,
                  "automatic storage: MiB of host memory for decoded images, more is streamed from disk; 0 = half of "
                  "RAM; at most 2^40"));
  k.push_back(key(s + ".batch_size", sec, &DataSource::batch_size, "samples per step"));
}

std::vector<ConfigKey> make_keys() {
  std::vector<ConfigKey> k;
  using R = RunConfig;
  // [data]
  add_source_keys(k, "data", &R::data);
  k.push_back(key("data.channel_count", &R::data, &DataConfig::channel_count,
                  "channels of inputs, references and outputs (1-4); fewer: last repeated, more: dropped"));
  k.push_back(key("data.image_size", &R::data, &DataConfig::image_size, "square side in pixels of every sample"));
  k.push_back(key("data.limit_count", &R::data, &DataConfig::limit_count, "0 = all; N = first N samples by name"));
  k.push_back(key("data.crop", &R::data, &DataConfig::crop, "0 = off; s in (0,1): random crop of side s..1"));
  k.push_back(key("data.flip_horizontal", &R::data, &DataConfig::flip_horizontal, "probability of a left-right flip"));
  k.push_back(key("data.flip_vertical", &R::data, &DataConfig::flip_vertical, "probability of an up-down flip"));
  k.push_back(key("data.rotation", &R::data, &DataConfig::rotation, "probability of a random rotation"));
  k.push_back(key("data.shuffle", &R::data, &DataConfig::shuffle, "reshuffle the samples every iteration"));
  // [train]
  k.push_back(key("train.max_iterations", &R::train, &TrainConfig::max_iterations, "iterations (epochs) to train"));
  k.push_back(key("train.learning_rate", &R::train, &TrainConfig::learning_rate, "base learning rate"));
  k.push_back(key("train.scheduler", &R::train, &TrainConfig::scheduler, "learning-rate schedule per iteration"));
  k.push_back(key("train.linear_decay", &R::train, &TrainConfig::linear_decay,
                  "linear: iterations of linear decay at the end; the last rate is learning_rate / "
                  "(linear_decay + 1)"));
  k.back().default_note = "follows train.max_iterations: half of it";
  k.push_back(key("train.step_size", &R::train, &TrainConfig::step_size, "step: iterations between LR drops"));
  k.push_back(key("train.gamma", &R::train, &TrainConfig::gamma, "step: LR multiplier per drop"));
  k.push_back(key("train.init", &R::train, &TrainConfig::init, "weight initialiser"));
  k.push_back(key("train.init_gain", &R::train, &TrainConfig::init_gain, "initialiser std / gain"));
  k.push_back(key("train.optimizer", &R::train, &TrainConfig::optimizer, "optimiser"));
  k.push_back(key("train.beta1", &R::train, &TrainConfig::beta1, "adam: beta1"));
  k.push_back(key("train.beta2", &R::train, &TrainConfig::beta2, "adam: beta2"));
  k.push_back(key("train.rho", &R::train, &TrainConfig::rho, "adadelta: rho"));
  k.push_back(key("train.momentum", &R::train, &TrainConfig::momentum, "sgd: momentum"));
  k.push_back(key("train.gan_loss", &R::train, &TrainConfig::gan_loss,
                  "vanilla (BCE with logits, pix2pix) | lsgan (MSE, CycleGAN)"));
  k.push_back(key("train.seed", &R::train, &TrainConfig::seed, "random seed; same seed = same CPU run"));
  k.push_back(key("train.identity_lambda", &R::train, &TrainConfig::identity_lambda,
                  "unpaired: identity loss weight, fraction of l1_lambda"));
  k.push_back(key("train.pool_size", &R::train, &TrainConfig::pool_size,
                  "unpaired: generated-image pool per discriminator; 0 = off"));
  k.push_back(key("train.nan_policy", &R::train, &TrainConfig::nan_policy,
                  "non-finite loss: stop (error, last good checkpoints kept) | skip (no update uses that loss; docs/reliability.md)"));
  k.push_back(key("train.nan_max_skips", &R::train, &TrainConfig::nan_max_skips,
                  "nan_policy skip: consecutive skipped steps that stop the run"));
  // [generator]
  k.push_back(key("generator.layers", &R::generator, &GeneratorConfig::layers,
                  "U-Net down/up-sampling layers; 2^layers <= data.image_size"));
  k.back().default_note = "follows data.image_size: the most layers with 2^layers dividing it, at most 8";
  k.push_back(key("generator.initial_layer_size", &R::generator, &GeneratorConfig::initial_layer_size,
                  "channels of the first layer, doubled per layer up to max_layer_size"));
  k.push_back(key("generator.max_layer_size", &R::generator, &GeneratorConfig::max_layer_size,
                  "channel cap; 0 = data.image_size; 512 = pix2pix unet_256"));
  k.push_back(key("generator.kernel_size", &R::generator, &GeneratorConfig::kernel_size,
                  "convolution kernel size (stride 2)"));
  k.push_back(key("generator.l1_lambda", &R::generator, &GeneratorConfig::l1_lambda, "weight of the L1 term"));
  k.push_back(key("generator.down_activation", &R::generator, &GeneratorConfig::down_activation,
                  "activation of the down-sampling layers"));
  k.push_back(key("generator.up_activation", &R::generator, &GeneratorConfig::up_activation,
                  "activation of the up-sampling layers"));
  k.push_back(key("generator.norm", &R::generator, &GeneratorConfig::norm, "normalisation layer"));
  k.push_back(key("generator.dropout", &R::generator, &GeneratorConfig::dropout,
                  "dropout probability in the 3 innermost decoder layers; 0 = off"));
  k.push_back(key("generator.ema_decay", &R::generator, &GeneratorConfig::ema_decay,
                  "moving average of the generator's weights that is tested, saved and exported: decay per step, "
                  "warmed up as min(decay, (1+t)/(10+t)); 0 = off (the trained weights)"));
  // [discriminator]
  k.push_back(key("discriminator.layers", &R::discriminator, &DiscriminatorConfig::layers,
                  "PatchGAN stride-2 layers (3 = 70x70 patches)"));
  k.push_back(key("discriminator.initial_layer_size", &R::discriminator,
                  &DiscriminatorConfig::initial_layer_size, "channels of the first layer (ndf)"));
  k.push_back(key("discriminator.kernel_size", &R::discriminator, &DiscriminatorConfig::kernel_size,
                  "convolution kernel size"));
  k.push_back(key("discriminator.activation", &R::discriminator, &DiscriminatorConfig::activation,
                  "activation after each convolution"));
  k.push_back(key("discriminator.norm", &R::discriminator, &DiscriminatorConfig::norm, "normalisation layer"));
  // [test]
  k.push_back(key("test.enabled", &R::test, &TestConfig::enabled, "test on a held-out set during training"));
  k.push_back(key("test.target_ssim", &R::test, &TestConfig::target_ssim,
                  "0 = off; stop once the mean test SSIM reaches this (needs test.enabled)"));
  k.push_back(key("test.output_dir", &R::test, &TestConfig::output_dir, "test images folder", kOutputNames));
  add_source_keys(k, "test", &R::test);
  k.push_back(key("test.frequency", &R::test, &TestConfig::frequency, "test every N iterations"));
  k.push_back(key("test.size", &R::test, &TestConfig::size,
                  "test samples per test (unpaired: per domain), drawn at random once per run (train.seed); 0 = all"));
  k.push_back(key("test.image_count", &R::test, &TestConfig::image_count,
                  "samples (unpaired: per domain) whose images are written per test, the same every test; 0 = none"));
  k.push_back(key("test.add_outputs", &R::test, &TestConfig::add_outputs,
                  "list the latest test's images in outputs.json"));
  // [output]
  k.push_back(key("output.run_dir", &R::output, &OutputConfig::run_dir,
                  "run folder: log, config, plots, outputs.json", kRunDirNames));
  k.push_back(key("output.model_path", &R::output, &OutputConfig::model_path,
                  "checkpoint file per network; \"\" = off", kOutputNames));
  k.push_back(key("output.model_save_rate", &R::output, &OutputConfig::model_save_rate,
                  "iterations between checkpoints (the last is always saved)"));
  k.push_back(key("output.add_model_outputs", &R::output, &OutputConfig::add_model_outputs,
                  "list checkpoints in outputs.json"));
  k.push_back(key("output.onnx_path", &R::output, &OutputConfig::onnx_path,
                  "ONNX file per generator; \"\" = off", kOutputNames));
  k.push_back(key("output.onnx_save_rate", &R::output, &OutputConfig::onnx_save_rate,
                  "iterations between ONNX files; 0 = only the last"));
  k.push_back(key("output.onnx_opset", &R::output, &OutputConfig::onnx_opset, "ONNX opset version"));
  k.push_back(key("output.onnx_dynamic_axes", &R::output, &OutputConfig::onnx_dynamic_axes,
                  "symbolic batch, height and width in the ONNX graph"));
  k.push_back(key("output.add_onnx_outputs", &R::output, &OutputConfig::add_onnx_outputs,
                  "list ONNX files in outputs.json"));
  // [plot]
  k.push_back(key("plot.type", &R::plot, &PlotConfig::type, "plot format"));
  k.push_back(key("plot.rate", &R::plot, &PlotConfig::rate, "iterations between plot rewrites"));
  // [device]
  k.push_back(key("device.device", &R::device, &DeviceConfig::device, "auto | cpu | cuda | cuda:N"));
  k.push_back(key("device.cpu_threads", &R::device, &DeviceConfig::cpu_threads,
                  "intra-op CPU threads; 0 = OMP_NUM_THREADS if set, else the cores / LOCAL_WORLD_SIZE (one process: the free cores)"));
  // [distributed]
  k.push_back(key("distributed.backend", &R::distributed, &DistributedConfig::backend,
                  "collectives of a data-parallel run: auto (nccl on CUDA where built, else gloo) | gloo | nccl"));
  k.push_back(key("distributed.timeout", &R::distributed, &DistributedConfig::timeout,
                  "seconds a rank waits for silent peers before it stops with an error (>= 1)"));
  return k;
}

std::string strip_quotes(const std::string& v) {
  const std::string t = trim(v);
  if (t.size() >= 2 && (t.front() == '"' || t.front() == '\'') && t.back() == t.front())
    return t.substr(1, t.size() - 2);
  return t;
}

// ---- TOML pre-scan: CLI11's TOML reader reports no line numbers and accepts broken lines (an
// unclosed '[data' becomes the key '[data', an unclosed string is taken as is, a duplicate key
// silently wins, '[s] # note' is not a section). Every line is checked first; each problem names
// the line and the fix. ----

bool bare_key_char(char c) {
  return std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '-' || c == '.';
}

// Walks `text` outside of TOML strings ('...' and "..." with backslash escapes): calls stop(c) for
// each character outside quotes and returns the position where it first returned true (npos if
// never). *open_quote receives the quote char of a string left open at the end (or 0).
template <class Stop>
size_t scan_unquoted(const std::string& text, Stop stop, char* open_quote = nullptr) {
  char quote = 0;
  size_t i = 0;
  for (; i < text.size(); ++i) {
    const char c = text[i];
    if (quote != 0) {
      if (c == '\\' && quote == '"') ++i;
      else if (c == quote) quote = 0;
    } else if (c == '"' || c == '\'') {
      quote = c;
    } else if (stop(c)) {
      break;
    }
  }
  if (open_quote != nullptr) *open_quote = quote;
  return i < text.size() ? i : std::string::npos;
}

// A line without its comment: `code` (trimmed) and the quote char of a string left open (or 0).
// A '#' inside a string is part of the string.
struct LineCode {
  std::string code;
  char open_quote = 0;
};

LineCode split_comment(const std::string& line) {
  LineCode out;
  const size_t hash = scan_unquoted(line, [](char c) { return c == '#'; }, &out.open_quote);
  out.code = trim(line.substr(0, hash));
  return out;
}

// Position of the first `target` outside quotes, or npos.
size_t find_unquoted(const std::string& code, char target) {
  return scan_unquoted(code, [target](char c) { return c == target; });
}

// Number of '[' minus number of ']' outside quotes.
int bracket_balance(const std::string& code) {
  int depth = 0;
  scan_unquoted(code, [&depth](char c) {
    depth += c == '[' ? 1 : c == ']' ? -1 : 0;
    return false;
  });
  return depth;
}

struct TomlScan {
  std::string cleaned;                  // the text without comments, one line per input line
  std::vector<std::string> problems;    // "line N: ..."
  std::map<std::string, int> key_line;  // "data.image_size" -> its line
};

TomlScan scan_toml(const std::string& text) {
  TomlScan scan;
  std::istringstream in(text);
  std::string line, section;
  int n = 0, array_depth = 0, array_line = 0;
  const auto fail = [&](int line_no, const std::string& what) {
    scan.problems.push_back(fmt::format("line {}: {}", line_no, what));
    scan.cleaned += "\n";
  };
  while (std::getline(in, line)) {
    ++n;
    const LineCode lc = split_comment(line);
    const std::string& code = lc.code;
    if (array_depth > 0) {  // continuation of a multi-line array
      array_depth += bracket_balance(code);
      scan.cleaned += code + "\n";
      continue;
    }
    if (code.empty()) {
      scan.cleaned += "\n";
      continue;
    }
    if (code.front() == '[') {
      if (code.rfind("[[", 0) == 0) {
        fail(n, fmt::format("'{}': arrays of tables ([[...]]) are not used by img2img; write a [section] header", code));
        continue;
      }
      const size_t close = code.find(']');
      if (close == std::string::npos) {
        fail(n, fmt::format("section header '{}' has no closing ']'; write '[{}]'", code, trim(code.substr(1))));
        continue;
      }
      const std::string name = trim(code.substr(1, close - 1));
      const std::string rest = trim(code.substr(close + 1));
      if (!rest.empty()) {
        fail(n, fmt::format("unexpected '{}' after the section header '[{}]'; only a # comment may follow it", rest,
                            name));
        continue;
      }
      if (name.empty() || !std::all_of(name.begin(), name.end(), bare_key_char)) {
        fail(n, fmt::format("section header '{}': expected [name] with letters, digits, '_' or '-', e.g. [data]",
                            code));
        continue;
      }
      section = name;
      scan.cleaned += "[" + name + "]\n";
      continue;
    }
    const size_t eq = find_unquoted(code, '=');
    if (eq == std::string::npos) {
      const size_t space = code.find_first_of(" \t:");
      const std::string fix = space == std::string::npos
                                  ? fmt::format("{} = VALUE", code)
                                  : fmt::format("{} = {}", code.substr(0, space), trim(code.substr(space + 1)));
      fail(n, fmt::format("'{}' is not 'key = value' (no '='); write '{}'", code, fix));
      continue;
    }
    std::string key = trim(code.substr(0, eq));
    const std::string value = trim(code.substr(eq + 1));
    if (key.size() >= 2 && (key.front() == '"' || key.front() == '\'') && key.back() == key.front())
      key = key.substr(1, key.size() - 2);
    if (key.empty() || !std::all_of(key.begin(), key.end(), bare_key_char)) {
      fail(n, fmt::format("'{}': expected a key of letters, digits, '_' or '-' before '=', e.g. image_size = 256",
                          code));
      continue;
    }
    if (value.empty()) {
      fail(n, fmt::format("'{}' has no value after '='; write e.g. {} = 1, or {} = \"\" for an empty string", code,
                          key, key));
      continue;
    }
    if (value.rfind("\"\"\"", 0) == 0 || value.rfind("'''", 0) == 0) {
      fail(n, fmt::format("'{}': multi-line strings are not supported; write the string on one line", code));
      continue;
    }
    if (lc.open_quote != 0) {
      fail(n, fmt::format("'{}': the string has no closing {} quote; close it on the same line", code,
                          lc.open_quote == '"' ? "double (\")" : "single (')"));
      continue;
    }
    if (value.front() == '"' || value.front() == '\'') {
      // Nothing may follow the closing quote (a comment was cut above).
      const char q = value.front();
      size_t i = 1;
      for (; i < value.size(); ++i) {
        if (q == '"' && value[i] == '\\') ++i;
        else if (value[i] == q) break;
      }
      if (i + 1 < value.size()) {
        fail(n, fmt::format("unexpected '{}' after the string {}; put a # before a comment", trim(value.substr(i + 1)),
                            value.substr(0, i + 1)));
        continue;
      }
    }
    const std::string full = section.empty() ? key : section + "." + key;
    const auto [it, inserted] = scan.key_line.emplace(full, n);
    if (!inserted) {
      fail(n, fmt::format("duplicate key '{}' (first set on line {}); keep one of them", full, it->second));
      continue;
    }
    if (value.front() == '[') {
      array_depth = bracket_balance(value);
      array_line = n;
    }
    scan.cleaned += key + " = " + value + "\n";
  }
  if (array_depth > 0) {
    scan.problems.push_back(fmt::format("line {}: the array opened here has no closing ']'", array_line));
  }
  return scan;
}

// CLI11's TOML reader after scan_toml; with `with_lines` each assignment's origin is "FILE:LINE".
std::vector<ConfigAssignment> parse_toml(const std::string& raw, const std::string& origin, bool with_lines) {
  // A UTF-8 byte order mark (Windows editors write one) is not part of the first line.
  const std::string text = raw.rfind("\xEF\xBB\xBF", 0) == 0 ? raw.substr(3) : raw;
  if (const size_t nul = text.find('\0'); nul != std::string::npos)
    throw ConfigError(fmt::format("config '{}' is not a text file: it holds a NUL byte on line {}; a config is a "
                                  "TOML text file (see examples/*.toml and docs/configuration.md)",
                                  origin, 1 + std::count(text.begin(), text.begin() + nul, '\n')));
  const TomlScan scan = scan_toml(text);
  if (!scan.problems.empty()) {
    std::string msg;
    if (scan.problems.size() == 1) {
      msg = fmt::format("cannot parse config '{}', {}", origin, scan.problems[0]);
    } else {
      msg = fmt::format("cannot parse config '{}': {} syntax problems:", origin, scan.problems.size());
      for (const auto& p : scan.problems) msg += "\n  - " + p;
    }
    throw ConfigError(msg + " (TOML syntax: docs/configuration.md)");
  }
  std::istringstream in(scan.cleaned);
  std::vector<CLI::ConfigItem> items;
  try {
    // scan_toml already removed the comments; CLI11 would also cut a value at a '#' inside a string
    // (CLI11 2.1), so its comment character is set to one that a line cannot hold.
    CLI::ConfigTOML reader;
    reader.comment('\n');
    items = reader.from_config(in);
  } catch (const std::exception& e) {
    throw ConfigError(fmt::format("cannot parse config '{}': {}. Fix the TOML syntax (see docs/configuration.md).",
                                  origin, e.what()));
  }
  std::vector<ConfigAssignment> out;
  for (const auto& item : items) {
    if (item.name == "++" || item.name == "--") continue;  // section open / close markers
    std::string value;
    for (size_t i = 0; i < item.inputs.size(); ++i) value += (i ? "," : "") + strip_quotes(item.inputs[i]);
    const std::string name = item.fullname();
    const auto line = scan.key_line.find(name);
    out.push_back({name, value,
                   with_lines && line != scan.key_line.end() ? fmt::format("{}:{}", origin, line->second) : origin});
  }
  return out;
}

// What follows a numeric key's "expected an integer" / "expected a number": the range its check accepts and
// its default in `base`, e.g. " > 0; default 0.0002" (config_key_range words the range as the check does).
std::string numeric_hint(const ConfigKey& k, const RunConfig& base) {
  if (k.type != "integer" && k.type != "number") return "";
  const std::string range = config_key_range(k.name);
  std::string hint;
  if (!range.empty()) hint = (std::string("0123456789[(<>=").find(range[0]) != std::string::npos ? " " : ": ") + range;
  if (range.find("(default ") != std::string::npos) return hint;  // the check names it already (distributed.timeout)
  return hint + "; default " + (k.default_note.empty() ? k.get(base) : k.default_note);
}

}  // namespace

const std::vector<ConfigKey>& config_keys() {
  static const std::vector<ConfigKey> keys = make_keys();
  return keys;
}

const ConfigKey* find_config_key(const std::string& name) {
  for (const auto& k : config_keys())
    if (k.name == name) return &k;
  return nullptr;
}

std::string suggest_config_key(const std::string& name) {
  const ConfigKey* best = nullptr;
  size_t best_d = std::string::npos;
  // A bare key ("image_size") or one in the wrong section ("train.batch_size") matches by its own name.
  // Case, '-' and spaces do not matter there ("--image-size", the node's label "Image Size").
  const std::string leaf = normalise_key_name(name);
  for (const auto& k : config_keys())
    if (k.name.substr(k.name.find('.') + 1) == leaf) return "did you mean '" + k.name + "'?";
  // A name from pix2pix, the Houdini node or a common shorthand ("lr") maps to its key, not to the
  // nearest spelling ("train.rho").
  if (std::string alias = key_alias_hint(name); !alias.empty()) return alias;
  for (const auto& k : config_keys()) {
    const size_t d = edit_distance(name, k.name);
    if (d < best_d) best_d = d, best = &k;
  }
  if (best != nullptr && best_d <= std::max<size_t>(3, name.size() / 4))
    return "did you mean '" + best->name + "'?";
  return "";
}

std::vector<ConfigAssignment> parse_config_text(const std::string& text, const std::string& origin) {
  return parse_toml(text, origin, false);
}

std::vector<ConfigAssignment> read_config_file(const std::string& path) {
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw ConfigError(fmt::format("config file '{}' is a folder; --config expects a TOML file such as "
                                  "examples/terrain.toml",
                                  path));
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    throw ConfigError(fmt::format("cannot open config file '{}': no such file or not readable. "
                                  "Check the --config path.",
                                  path));
  }
  std::ostringstream text;
  text << in.rdbuf();
  return parse_toml(text.str(), path, true);
}

RunConfig apply_config(const std::vector<ConfigAssignment>& assignments, RunConfig config,
                       std::vector<ConfigProblem>* collect) {
  const RunConfig base = config;  // the defaults a type error names
  std::vector<ConfigProblem> problems;
  for (const auto& a : assignments) {
    const ConfigKey* k = find_config_key(a.key);
    if (k == nullptr) {
      const std::string hint = suggest_config_key(a.key);
      problems.push_back(
          {"", a.origin, fmt::format("unknown key '{}'{}", a.key, hint.empty() ? "" : "; " + hint), {}});
      continue;
    }
    try {
      k->set(config, a.value);
    } catch (const std::invalid_argument& e) {
      // A flag is named as typed (--data.image_size), a file's key as written there.
      const std::string expected = e.what() + numeric_hint(*k, base);
      if (a.origin == "command line")
        problems.push_back({a.key, a.origin, fmt::format("--{} '{}': {}", a.key, a.value, expected), {}});
      else
        problems.push_back({a.key, a.origin, fmt::format("{} = '{}': {}", a.key, a.value, expected), {}});
    }
  }
  resolve_derived_defaults(config, assignments);
  if (collect != nullptr) {
    collect->insert(collect->end(), problems.begin(), problems.end());
  } else if (!problems.empty()) {
    throw ConfigError(format_config_problems(problems));
  }
  return config;
}

void resolve_derived_defaults(RunConfig& config, const std::vector<ConfigAssignment>& assignments) {
  const auto given = [&assignments](const char* name) {
    return std::any_of(assignments.begin(), assignments.end(), [name](const ConfigAssignment& a) { return a.key == name; });
  };
  if (!given("generator.layers")) {
    // The most layers whose 2^layers divides image_size (so <= it): a default that always validates.
    int64_t layers = 1;  // an image_size below 4 or odd is reported by validation, not here
    const int64_t size = config.data.image_size;
    while (layers < 8 && size > 0 && size % (int64_t{1} << (layers + 1)) == 0) ++layers;
    config.generator.layers = layers;
  }
  if (!given("train.linear_decay")) config.train.linear_decay = std::max<int64_t>(0, config.train.max_iterations / 2);
}

std::string config_to_toml(const RunConfig& config, bool with_comments) {
  // The run's record (config.toml, checkpoints): every key as a normal line, as if every key were given, so a
  // --resume keeps the resolved numbers; a derived key's comment says what it follows without the line.
  static const std::vector<ConfigAssignment> every_key = [] {
    std::vector<ConfigAssignment> all;
    for (const auto& k : config_keys()) all.push_back({k.name, "", ""});
    return all;
  }();
  return config_template_toml(config, every_key, with_comments);
}

}  // namespace img2img

#include "img2img/config/validate.h"

#include <fmt/format.h>  // fmt::format

#include <fcntl.h>   // open
#include <unistd.h>  // access, close, getpid, unlink

#include <algorithm>   // std::find
#include <array>       // std::array
#include <cerrno>      // errno
#include <cstring>     // std::strerror
#include <filesystem>  // std::filesystem::exists
#include <limits>      // std::numeric_limits
#include <map>         // std::map
#include <regex>       // std::regex_match

#include "img2img/config/config_keys.h"
#include "img2img/config/enum_names.h"
#include "img2img/config/source_keys.h"
#include "img2img/core/error.h"
#include "img2img/core/path_template.h"
#include "img2img/core/image_files.h"  // list_image_files
#include "img2img/core/image_pairs.h"  // pair_image_files
#include "img2img/models/shape_rules.h"  // patch_output_size

namespace img2img {
namespace fs = std::filesystem;

namespace {

// Collects problems, each tagged with the key its message starts with (and, for a combination, the
// other keys whose values it names), so that origins are found without reading the message.
struct Checker {
  std::vector<ConfigProblem> problems;
  template <class... Args>
  void fail(const std::string& key, fmt::format_string<Args...> f, Args&&... args) {
    problems.push_back({key, "", fmt::format(f, std::forward<Args>(args)...), {}});
  }
  template <class... Args>
  void fail_with(const std::string& key, const std::vector<std::string>& related, fmt::format_string<Args...> f,
                 Args&&... args) {
    ConfigProblem p{key, "", fmt::format(f, std::forward<Args>(args)...), {}};
    for (const auto& r : related) p.related.push_back({r, ""});
    problems.push_back(std::move(p));
  }
  void int_min(const std::string& key, int64_t v, int64_t lo, const char* fix = "") {
    if (v < lo) fail(key, "{} = {}: expected >= {}{}", key, v, lo, fix);
  }
  void int_range(const std::string& key, int64_t v, int64_t lo, int64_t hi) {
    if (v < lo || v > hi) fail(key, "{} = {}: expected {}..{}", key, v, lo, hi);
  }
  void probability(const std::string& key, double v) {
    if (!(v >= 0.0 && v <= 1.0)) fail(key, "{} = {}: expected a probability in [0, 1] (0 = off)", key, v);
  }
  void positive(const std::string& key, double v) {
    if (!(v > 0.0)) fail(key, "{} = {}: expected > 0", key, v);
  }
  void non_negative(const std::string& key, double v) {
    if (!(v >= 0.0)) fail(key, "{} = {}: expected >= 0", key, v);
  }
};

// Whether a file can be created in the existing folder `dir`: access() and, since root passes access()
// even where creating fails (/proc, read-only mounts), a probe file created and removed at once.
// errno tells why not.
bool folder_accepts_files(const fs::path& dir) {
  if (::access(dir.c_str(), W_OK | X_OK) != 0) return false;
  const fs::path probe = dir / fmt::format(".img2img-write-test-{}", ::getpid());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
  if (fd < 0) return errno == EEXIST;  // EEXIST: a left-over probe, so creating works
  ::close(fd);
  ::unlink(probe.c_str());
  return true;
}

// The folder `tmpl` names (expanded with `values`), or with `is_file` the folder of the file it names,
// must be creatable: its nearest existing ancestor is a writable folder. Catches read-only locations
// and a path through a file before any training.
void check_writable_dir(Checker& c, const char* key, const std::string& tmpl,
                        const std::map<std::string, std::string>& values, bool is_file = false) {
  std::string expanded;
  try {
    expanded = expand_template(tmpl, values);
  } catch (const ConfigError&) {  // bad template names / unset variables: reported by their own checks
    return;
  }
  std::error_code ec;
  const fs::path target = is_file ? fs::path(expanded).parent_path() : fs::path(expanded);
  fs::path q = target;
  while (!q.empty() && !fs::exists(q, ec) && q != q.parent_path()) q = q.parent_path();
  if (q.empty()) q = ".";
  const std::string what = is_file ? fmt::format("'{}' (the folder of '{}')", target.string(), expanded)
                                   : fmt::format("'{}'", expanded);
  if (!fs::is_directory(q, ec))
    c.fail(key, "{} = '{}': cannot create {} because '{}' is a file, not a folder. Choose another {}.", key, tmpl, what,
           q.string(), key);
  else if (!folder_accepts_files(q))
    c.fail(key, "{} = '{}': cannot create {}: folder '{}' is not writable ({}). Choose a writable {}.", key, tmpl, what,
           q.string(), std::strerror(errno), key);
}

// Every output path template, expanded for a sample (now, the first iteration, generator 0), must lie
// in a creatable folder: found before training instead of when the first checkpoint / test / ONNX
// file is written.
void check_output_paths(Checker& c, const RunConfig& cfg) {
  std::map<std::string, std::string> values = date_time_template_values();
  try {
    values["run_dir"] = expand_template(cfg.output.run_dir, values);
  } catch (const ConfigError&) {  // reported by the template check
    return;
  }
  values["network"] = "generator";
  values["index"] = "0";
  values["iteration"] = "1";
  check_writable_dir(c, "output.run_dir", cfg.output.run_dir, values);
  if (!cfg.output.model_path.empty()) check_writable_dir(c, "output.model_path", cfg.output.model_path, values, true);
  if (!cfg.output.onnx_path.empty()) check_writable_dir(c, "output.onnx_path", cfg.output.onnx_path, values, true);
  if (cfg.test.enabled && !cfg.test.output_dir.empty())
    check_writable_dir(c, "test.output_dir", cfg.test.output_dir, values);
}

void check_source(Checker& c, const DataSource& s, const std::string& sec, bool check_paths, bool unpaired_training) {
  c.int_min(sec + ".batch_size", s.batch_size, 1);
  c.int_range(sec + ".worker_threads", s.worker_threads, 0, 64);
  if (!(s.memory_budget_mb >= 0.0 && s.memory_budget_mb <= kMaxMemoryBudgetMb))
    c.fail(sec + ".memory_budget_mb",
           "{}.memory_budget_mb = {}: expected 0..{:.0f} MiB (0 = half of the machine's memory; the maximum is "
           "2^40 MiB)",
           sec, s.memory_budget_mb, kMaxMemoryBudgetMb);
  // Whether `path` is there as the key needs it (a folder: with images); a problem is reported.
  auto need = [&](const std::string& key, const std::string& path, bool dir) {
    if (!check_paths) return false;
    if (path.empty()) {
      c.fail_with(sec + "." + key, {sec + ".input_type"},
                  "{}.{} is empty but {}.input_type = {} needs it. Set --{}.{}=PATH.", sec, key, sec,
                  to_string(s.input_type), sec, key);
      return false;
    }
    if (!fs::exists(path)) {
      c.fail(sec + "." + key,
             "{}.{} = '{}': no such {}. Check the path (relative paths start at the current folder).", sec, key,
             path, dir ? "folder" : "file");
      return false;
    }
    if (dir != fs::is_directory(path)) {
      c.fail(sec + "." + key, "{}.{} = '{}': expected a {}, got a {}.", sec, key, path, dir ? "folder" : "file",
             dir ? "file" : "folder");
      return false;
    }
    if (dir) {
      // A folder without images (or with two images of one name) is found here, naming the key;
      // training would stop on it only after the run folder was made, naming the folder alone.
      try {
        list_image_files(path);
      } catch (const DataError& e) {
        c.fail(sec + "." + key, "{}.{}: {}", sec, key, e.what());
        return false;
      }
    }
    return true;
  };
  // Only keys of another input type given (--data.composite_dir without --data.input_type=composite_paired):
  // one problem naming the input type that reads them, instead of "is empty" for each key this one needs.
  if (const auto other = other_input_type_problems(s, sec, unpaired_training); check_paths && !other.empty()) {
    c.problems.insert(c.problems.end(), other.begin(), other.end());
    return;
  }
  switch (s.input_type) {
    case InputType::kSinglePaired:
      need("input_image", s.input_image, false);
      need("reference_image", s.reference_image, false);
      break;
    case InputType::kMultiplePaired: {
      // Both folders list: their names must pair up. Found here, the error names both keys before the
      // run folder is made (training found it after, naming the folders alone). Same check as the data set's.
      const bool inputs = need("input_dir", s.input_dir, true);
      const bool references = need("reference_dir", s.reference_dir, true);  // both checked: every problem at once
      if (inputs && references) {
        try {
          pair_image_files(s.input_dir, s.reference_dir);
        } catch (const DataError& e) {
          std::string what = e.what();  // its lines go under the problem's bullet, indented as its text
          for (size_t at = what.find('\n'); at != std::string::npos; at = what.find('\n', at + 5))
            what.replace(at, 1, "\n    ");
          c.fail_with(sec + ".input_dir", {sec + ".reference_dir"}, "{}.input_dir and {}.reference_dir: {}", sec, sec,
                      what);
        }
      }
      break;
    }
    case InputType::kMultipleUnpaired:
      need("input_dir", s.input_dir, true);
      need("reference_dir", s.reference_dir, true);
      // Unpaired training maps the one folder's domain to the other's: given one folder for both, the
      // generators learn to copy their input (paired data with one folder gets a run-start warning).
      if (check_paths && is_unpaired(s.input_type) && same_existing_path(s.input_dir, s.reference_dir)) {
        if (sec == "data")
          c.fail_with("data.input_dir", {"data.reference_dir"},
                      "data.input_dir and data.reference_dir are the same folder ('{}' and '{}'): unpaired training "
                      "learns to turn images like data.input_dir's (domain A) into images like data.reference_dir's "
                      "(domain B), so with one folder for both the generators learn to copy their input: hours of "
                      "training for an identity mapping. Give the two domains as two folders (e.g. "
                      "--data.input_dir=photos --data.reference_dir=paintings).",
                      s.input_dir, s.reference_dir);
        else
          c.fail_with("test.input_dir", {"test.reference_dir"},
                      "test.input_dir and test.reference_dir are the same folder ('{}' and '{}'): unpaired tests pass "
                      "test.input_dir's images (domain A) through generator 0 and test.reference_dir's (domain B) "
                      "through generator 1, so with one folder for both each generator is tested on the other's "
                      "domain too. Give the test images of the two domains as two folders.",
                      s.input_dir, s.reference_dir);
      }
      break;
    case InputType::kCompositePaired:
      need("composite_dir", s.composite_dir, true);
      break;
  }
}

}  // namespace

std::vector<ConfigProblem> config_problems(const RunConfig& cfg, const ValidateOptions& options) {
  Checker c;
  // [data]
  const DataConfig& d = cfg.data;
  check_source(c, d, "data", options.check_paths, is_unpaired(d.input_type));
  // Unpaired: data.channel_count applies to both domains, so input and output channel counts are
  // always equal and train.identity_lambda needs no channel check.
  c.int_range("data.channel_count", d.channel_count, 1, 4);
  c.int_range("data.image_size", d.image_size, 4, 8192);
  c.int_min("data.limit_count", d.limit_count, 0, " (0 = all samples)");
  if (!(d.crop == 0.0 || (d.crop > 0.0 && d.crop < 1.0)))
    c.fail("data.crop",
           "data.crop = {}: expected 0 (off) or a value in (0, 1), the smallest crop as a fraction of the side",
           d.crop);
  c.probability("data.flip_horizontal", d.flip_horizontal);
  c.probability("data.flip_vertical", d.flip_vertical);
  c.probability("data.rotation", d.rotation);

  // [generator]
  const GeneratorConfig& g = cfg.generator;
  c.int_range("generator.layers", g.layers, 1, 16);
  if (g.layers >= 1 && g.layers <= 16 && d.image_size >= 4) {
    int64_t largest = 0;
    while ((int64_t{1} << (largest + 1)) <= d.image_size) ++largest;
    if ((int64_t{1} << g.layers) > d.image_size) {
      c.fail_with("generator.layers", {"data.image_size"},
                  "generator.layers = {} needs 2^{} = {} <= data.image_size = {}; the largest allowed value for "
                  "this image size is {}.",
                  g.layers, g.layers, int64_t{1} << g.layers, d.image_size, largest);
    } else if (d.image_size % 2 != 0) {
      const int64_t below = d.image_size / 32 * 32, above = below + 32;  // the multiples of 32 around it
      c.fail("data.image_size",
             "data.image_size = {} is odd; every U-Net layer halves the image exactly, so it must be even, best a "
             "multiple of 32 or more (e.g. {}).",
             d.image_size, below >= 32 ? fmt::format("{} or {}", below, above) : std::to_string(above));
    } else if (d.image_size % (int64_t{1} << g.layers) != 0) {
      c.fail_with("data.image_size", {"generator.layers"},
                  "data.image_size = {} is not divisible by 2^generator.layers = {}; each layer halves the size "
                  "exactly. Use an image size that is a multiple of {}.",
                  d.image_size, int64_t{1} << g.layers, int64_t{1} << g.layers);
    }
  }
  c.int_range("generator.initial_layer_size", g.initial_layer_size, 1, 4096);
  if (g.max_layer_size < 0 || g.max_layer_size > 8192)
    c.fail("generator.max_layer_size", "generator.max_layer_size = {}: expected 0..8192 (0 = data.image_size)",
           g.max_layer_size);
  c.int_range("generator.kernel_size", g.kernel_size, 1, 11);
  c.non_negative("generator.l1_lambda", g.l1_lambda);
  if (!(g.dropout >= 0.0 && g.dropout < 1.0))
    c.fail("generator.dropout", "generator.dropout = {}: expected [0, 1) (0 = off)", g.dropout);
  if (!(g.ema_decay == 0.0 || (g.ema_decay >= 0.5 && g.ema_decay < 1.0)))
    c.fail("generator.ema_decay",
           "generator.ema_decay = {}: expected 0 (off) or a decay in [0.5, 1), e.g. 0.999 (the weight of the average "
           "per step; 1 would never change it). Use --generator.ema_decay=0.999, or 0 to test and save the trained "
           "weights",
           g.ema_decay);

  // [discriminator]
  const DiscriminatorConfig& ds = cfg.discriminator;
  c.int_range("discriminator.layers", ds.layers, 1, 10);
  c.int_range("discriminator.initial_layer_size", ds.initial_layer_size, 1, 4096);
  c.int_range("discriminator.kernel_size", ds.kernel_size, 1, 11);
  if (ds.layers >= 1 && ds.layers <= 10 && ds.kernel_size >= 1 && ds.kernel_size <= 11 && d.image_size >= 4 &&
      patch_output_size(ds.layers, ds.kernel_size, d.image_size) < 1) {
    int64_t fit = ds.layers;  // the most layers that fit at this kernel size, 0 if none
    while (fit >= 1 && patch_output_size(fit, ds.kernel_size, d.image_size) < 1) --fit;
    int64_t kernel = ds.kernel_size;  // the largest kernel size that fits with these layers, 0 if none
    while (kernel >= 1 && patch_output_size(ds.layers, kernel, d.image_size) < 1) --kernel;
    // The smallest image size that fits (the output grows with the input), a multiple of 2^generator.layers.
    const int64_t step = g.layers >= 1 && g.layers <= 13 ? int64_t{1} << g.layers : 1;
    int64_t size = (d.image_size + step - 1) / step * step;
    while (size < 8192 && patch_output_size(ds.layers, ds.kernel_size, size) < 1) size += step;
    std::string fixes;
    if (fit >= 1) fixes += fmt::format("discriminator.layers <= {}, ", fit);
    if (kernel >= 1) fixes += fmt::format("discriminator.kernel_size <= {}, ", kernel);
    c.fail_with("discriminator.layers", {"discriminator.kernel_size", "data.image_size"},
                "discriminator.layers = {} with kernel_size {} shrinks a {} px image to nothing; use {}or "
                "data.image_size >= {}.",
                ds.layers, ds.kernel_size, d.image_size, fixes, size);
  }

  // [train]
  const TrainConfig& t = cfg.train;
  c.int_min("train.max_iterations", t.max_iterations, 1);
  c.positive("train.learning_rate", t.learning_rate);
  c.int_min("train.linear_decay", t.linear_decay, 0);
  c.int_min("train.step_size", t.step_size, 1);
  c.positive("train.gamma", t.gamma);
  c.positive("train.init_gain", t.init_gain);
  if (!(t.beta1 >= 0.0 && t.beta1 < 1.0)) c.fail("train.beta1", "train.beta1 = {}: expected [0, 1)", t.beta1);
  if (!(t.beta2 >= 0.0 && t.beta2 < 1.0)) c.fail("train.beta2", "train.beta2 = {}: expected [0, 1)", t.beta2);
  if (!(t.rho >= 0.0 && t.rho <= 1.0))
    c.fail("train.rho",
           "train.rho = {}: expected [0, 1] (Adadelta's decay of its running averages; PyTorch default 0.9)", t.rho);
  c.non_negative("train.momentum", t.momentum);
  c.non_negative("train.identity_lambda", t.identity_lambda);
  c.int_min("train.pool_size", t.pool_size, 0);
  c.int_min("train.nan_max_skips", t.nan_max_skips, 1);
  c.int_range("train.seed", t.seed, 0, std::numeric_limits<int64_t>::max());  // a negative seed would wrap

  // [test]
  const TestConfig& ts = cfg.test;
  if (ts.enabled) {
    check_source(c, ts, "test", options.check_paths, is_unpaired(d.input_type));
    if (is_unpaired(ts.input_type) != is_unpaired(d.input_type))
      c.fail_with("test.input_type", {"data.input_type"},
                  "test.input_type = {} does not match data.input_type = {}: paired training needs paired test data "
                  "and unpaired training unpaired test data.",
                  to_string(ts.input_type), to_string(d.input_type));
  }
  if (!(ts.target_ssim >= 0.0 && ts.target_ssim <= 1.0))
    c.fail("test.target_ssim", "test.target_ssim = {}: expected [0, 1] (0 = off)", ts.target_ssim);
  // Early stopping compares the test SSIM, which is only measured when testing is on.
  if (ts.target_ssim > 0.0 && !ts.enabled)
    c.fail_with("test.target_ssim", {"test.enabled"},
                "test.target_ssim = {} has no effect with test.enabled = false: early stopping compares the "
                "test SSIM, which is measured only when testing is on. Set test.enabled = true with test data, "
                "or turn early stopping off with --test.target_ssim=0 (also for a --resume of a run that saved it).",
                ts.target_ssim);
  c.int_min("test.frequency", ts.frequency, 1);
  c.int_min("test.size", ts.size, 0, " (0 = all)");
  c.int_min("test.image_count", ts.image_count, 0, " (0 = none)");

  // [output]
  const OutputConfig& o = cfg.output;
  c.int_min("output.model_save_rate", o.model_save_rate, 0, " (0 = only the last iteration)");
  c.int_min("output.onnx_save_rate", o.onnx_save_rate, 0, " (0 = only the last iteration)");
  c.int_range("output.onnx_opset", o.onnx_opset, 11, 17);
  if (o.run_dir.empty())
    c.fail("output.run_dir", "output.run_dir is empty; expected a folder, e.g. runs/{{date}}-{{time}}");
  if (options.check_paths && !o.run_dir.empty()) check_output_paths(c, cfg);
  // Templates under which two networks would write the same file (the last one written wins, so a
  // "generator" checkpoint would hold the discriminator).
  const bool unpaired = is_unpaired(cfg.data.input_type);
  // `name` is missing from template `t` ({index:02} counts); a malformed template is reported below.
  const auto lacks = [](const std::string& t, const char* name) {
    try {
      const std::vector<std::string> names = template_names(t);
      return std::find(names.begin(), names.end(), name) == names.end();
    } catch (const ConfigError&) {
      return false;
    }
  };
  if (!o.model_path.empty() && lacks(o.model_path, "network"))
    c.fail("output.model_path",
           "output.model_path = '{}' has no {{network}}: the generator and the discriminator would be written to "
           "the same file. Add {{network}}, e.g. '{}'",
           o.model_path, RunConfig{}.output.model_path);
  if (unpaired && !o.model_path.empty() && lacks(o.model_path, "index"))
    c.fail_with("output.model_path", {"data.input_type"},
                "output.model_path = '{}' has no {{index}}: unpaired training has two generators and two "
                "discriminators (index 0: input -> reference, 1: back) that would share files. Add {{index}}, "
                "e.g. '{}'",
                o.model_path, RunConfig{}.output.model_path);
  if (unpaired && !o.onnx_path.empty() && lacks(o.onnx_path, "index"))
    c.fail_with("output.onnx_path", {"data.input_type"},
                "output.onnx_path = '{}' has no {{index}}: unpaired training exports two generators (index 0 and 1) "
                "that would share one file. Add {{index}}, e.g. '{}'",
                o.onnx_path, RunConfig{}.output.onnx_path);

  // path templates: every {name} must be allowed for its key
  for (const auto& k : config_keys()) {
    if (k.template_names.empty()) continue;
    std::string value = k.get(cfg);
    value = value.substr(1, value.size() - 2);  // strip the TOML quotes
    try {
      for (const auto& name : template_names(value)) {
        if (std::find(k.template_names.begin(), k.template_names.end(), name) == k.template_names.end()) {
          std::string allowed;
          for (const auto& a : k.template_names) allowed += (allowed.empty() ? "{" : ", {") + a + "}";
          c.fail(k.name, "{} = '{}': unknown {{{}}}; allowed: {}", k.name, value, name, allowed);
        }
      }
    } catch (const ConfigError& e) {
      c.fail(k.name, "{}: {}", k.name, e.what());
    }
  }

  // [plot], [device]
  c.int_min("plot.rate", cfg.plot.rate, 1);
  static const std::regex device_re("auto|cpu|cuda|cuda:[0-9]+");
  if (!std::regex_match(cfg.device.device, device_re))
    c.fail("device.device", "device.device = '{}': expected auto, cpu, cuda or cuda:N", cfg.device.device);
  c.int_range("device.cpu_threads", cfg.device.cpu_threads, 0, 1024);
  // [distributed]: at least a second (a collective of a 256 px step takes ~0.3 s on loopback), at most a
  // week (milliseconds of it must fit the store's and Gloo's std::chrono timeouts).
  if (!(cfg.distributed.timeout >= 1.0 && cfg.distributed.timeout <= 604800.0))
    c.fail("distributed.timeout", "distributed.timeout = {}: expected seconds in [1, 604800] (default 300)",
           cfg.distributed.timeout);
  return c.problems;
}

std::string config_key_range(const std::string& key) {
  const ConfigKey* k = find_config_key(key);
  if (k == nullptr || (k->type != "integer" && k->type != "number")) return "";
  // Every range starts at 0 or above (the seed at 0, so a negative one cannot wrap), so the lowest value fails its
  // check; the highest is tried for a check that only has an upper bound.
  const std::array<const char*, 2> extremes = k->type == "integer"
                                                  ? std::array<const char*, 2>{"-9223372036854775808",
                                                                               "9223372036854775807"}
                                                  : std::array<const char*, 2>{"-1e308", "1e308"};
  ValidateOptions unchecked;
  unchecked.check_paths = false;
  const std::string lead = key + " = ";
  for (const char* extreme : extremes) {
    RunConfig probe;
    probe.test.enabled = true;  // test.* sources are checked only with testing on
    k->set(probe, extreme);
    for (const ConfigProblem& p : config_problems(probe, unchecked)) {
      const size_t expected = p.message.find(": expected ");
      if (p.key == key && p.message.rfind(lead, 0) == 0 && expected != std::string::npos)
        return p.message.substr(expected + 11);
    }
  }
  return "";
}

void validate_config(const RunConfig& config, const ValidateOptions& options) {
  const auto problems = config_problems(config, options);
  if (!problems.empty()) throw ConfigError(format_config_problems(problems));
}

}  // namespace img2img

#include "img2img/train/training_state.h"

#include <ATen/Context.h>             // at::globalContext().defaultGenerator
#include <c10/util/Exception.h>       // c10::Error
#include <fmt/format.h>               // fmt::format
#include <torch/serialize/archive.h>  // torch::serialize::{Input,Output}Archive

#include <algorithm>  // std::sort
#include <sstream>  // std::stringstream
#include <vector>   // std::vector

#include "img2img/config/config_keys.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/train/checkpoint.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {
std::string archive_bytes(torch::serialize::OutputArchive& archive) {
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
}

// Tensors land on `device` (optimiser state next to its parameters).
torch::serialize::InputArchive read_archive(const fs::path& path, const torch::Device& device) {
  torch::serialize::InputArchive archive;
  try {
    std::istringstream in(read_file(path));
    archive.load_from(in, device);
  } catch (const c10::Error& e) {
    throw CheckpointError(fmt::format("training state '{}' is truncated or not an img2img training state ({}).",
                                      path.string(), e.what_without_backtrace()));
  } catch (const Error&) {
    throw CheckpointError(fmt::format("cannot open training state '{}'.", path.string()));
  }
  return archive;
}

std::string read_string(torch::serialize::InputArchive& archive, const std::string& key) {
  c10::IValue v;
  archive.read(key, v);
  return v.toStringRef();
}

int64_t read_int(torch::serialize::InputArchive& archive, const std::string& key) {
  c10::IValue v;
  archive.read(key, v);
  return v.toInt();
}

at::Generator device_generator(const torch::Device& device) {
  return at::globalContext().defaultGenerator(device);
}
}  // namespace

fs::path training_state_path(const fs::path& weights) {
  fs::path p = weights;
  return p.extension() == ".pt" ? p.replace_extension(".optim.pt") : fs::path(weights.string() + ".optim.pt");
}

void save_training_state(const fs::path& generator_weights, const fs::path& discriminator_weights,
                         Pix2PixModel& model, int64_t iteration, const std::mt19937_64& rng,
                         const torch::Device& device) {
  std::ostringstream mt;
  mt << rng;  // the standard's textual state of the engine, read back with operator>>
  fs::path d_rel = discriminator_weights.lexically_relative(generator_weights.parent_path());
  if (d_rel.empty()) d_rel = fs::absolute(discriminator_weights);
  {
    torch::serialize::OutputArchive archive;
    torch::serialize::OutputArchive optimizer;
    model.generator_optimizer->save(optimizer);
    archive.write("optimizer", optimizer);
    archive.write("iteration", c10::IValue(iteration));
    archive.write("rng_mt19937_64", c10::IValue(mt.str()));
    archive.write("rng_torch_cpu", at::detail::getDefaultCPUGenerator().get_state());
    if (!device.is_cpu()) archive.write("rng_torch_device", device_generator(device).get_state());
    archive.write("discriminator_weights", c10::IValue(d_rel.generic_string()));
    write_file_atomic(training_state_path(generator_weights), archive_bytes(archive));
  }
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive optimizer;
  model.discriminator_optimizer->save(optimizer);
  archive.write("optimizer", optimizer);
  write_file_atomic(training_state_path(discriminator_weights), archive_bytes(archive));
}

namespace {
// A run folder's generator checkpoints (X.json), newest iteration first.
std::vector<fs::path> generator_metas_newest_first(const fs::path& dir) {
  std::vector<std::pair<int64_t, fs::path>> found;
  std::error_code ec;
  for (const auto& e : fs::recursive_directory_iterator(dir, ec)) {
    if (e.path().extension() != ".json") continue;
    try {
      const CheckpointMeta m = read_checkpoint_meta(e.path());
      if (m.network == "generator" && m.index == 0) found.emplace_back(m.iteration, e.path());
    } catch (const Error&) {  // not a checkpoint (outputs.json, ...)
    }
  }
  std::sort(found.begin(), found.end(), [](const auto& a, const auto& b) { return a.first > b.first; });
  std::vector<fs::path> out;
  for (auto& f : found) out.push_back(std::move(f.second));
  return out;
}
}  // namespace

ResumePoint find_resume_point(const fs::path& run_or_checkpoint) {
  std::error_code ec;
  if (fs::is_directory(run_or_checkpoint, ec)) {
    // A run killed while writing a checkpoint leaves its newest one incomplete (no training state or
    // discriminator yet): resume from the newest complete one.
    const std::vector<fs::path> metas = generator_metas_newest_first(run_or_checkpoint);
    for (size_t i = 0; i + 1 < metas.size(); ++i) {
      try {
        ResumePoint point = find_resume_point(metas[i]);
        point.origin = run_or_checkpoint;
        return point;
      } catch (const CheckpointError&) {
      }
    }
    if (!metas.empty()) {
      ResumePoint point = find_resume_point(metas.back());
      point.origin = run_or_checkpoint;
      return point;
    }
  }
  ResumePoint point;
  point.origin = run_or_checkpoint;
  const CheckpointMeta meta = read_checkpoint_meta(run_or_checkpoint, &point.generator_weights);
  if (meta.network != "generator")
    throw CheckpointError(fmt::format("--resume '{}' is a {} checkpoint; pass the generator's .pt (the "
                                      "discriminator is found from it) or the run folder.",
                                      run_or_checkpoint.string(), meta.network));
  point.iteration = meta.iteration;
  point.config_toml = meta.config_toml;
  if (!meta.run_dir.empty() && fs::is_directory(meta.run_dir, ec)) point.run_dir = meta.run_dir;  // else moved
  for (fs::path p = fs::absolute(point.generator_weights).parent_path(); point.run_dir.empty() && !p.empty();
       p = p.parent_path()) {
    if (fs::exists(p / "outputs.json", ec)) point.run_dir = p;
    if (p == p.parent_path()) break;
  }
  const fs::path state = training_state_path(point.generator_weights);
  if (!fs::exists(state))
    throw CheckpointError(fmt::format("checkpoint '{}' has no training state '{}' beside it (written by img2img "
                                      "versions with --resume support), so it cannot be resumed.",
                                      point.generator_weights.string(), state.string()));
  torch::serialize::InputArchive archive = read_archive(state, torch::kCPU);
  const fs::path d = read_string(archive, "discriminator_weights");
  point.discriminator_weights = d.is_absolute() ? d : point.generator_weights.parent_path() / d;
  for (const fs::path& p : {point.discriminator_weights, training_state_path(point.discriminator_weights)})
    if (!fs::exists(p))
      throw CheckpointError(fmt::format("resuming '{}' needs the discriminator file '{}', which is missing.",
                                        point.generator_weights.string(), p.string()));
  return point;
}

void check_resume_config(const RunConfig& resolved, const ResumePoint& point) {
  const RunConfig saved = apply_config(parse_config_text(point.config_toml, "checkpoint config"));
  std::vector<std::string> problems;
  for (const ConfigKey& key : config_keys()) {
    const std::string& n = key.name;
    const bool architecture = (n.rfind("generator.", 0) == 0 && n != "generator.l1_lambda") ||
                              n.rfind("discriminator.", 0) == 0 || n == "data.channel_count" ||
                              n == "data.image_size" || n == "train.optimizer";
    if (!architecture) continue;
    const std::string was = key.get(saved), now = key.get(resolved);
    if (was != now)
      problems.push_back(fmt::format("{} = {} contradicts the checkpoint's {} = {}", n, now, n, was));
  }
  if (resolved.train.max_iterations <= point.iteration)
    problems.push_back(fmt::format("train.max_iterations = {} but the checkpoint already completed {} iterations; "
                                   "pass --train.max_iterations=N with N > {}",
                                   resolved.train.max_iterations, point.iteration, point.iteration));
  if (problems.empty()) return;
  std::string msg = fmt::format("cannot resume '{}':", point.origin.string());
  for (const std::string& p : problems) msg += "\n  - " + p;
  msg += "\nArchitecture keys and the optimiser come from the checkpoint; drop the contradicting flags.";
  throw ConfigError(msg);
}

int64_t restore_training_state(const ResumePoint& point, Pix2PixModel& model, std::mt19937_64& rng,
                               const torch::Device& device) {
  load_weights(point.generator_weights, *model.generator);
  load_weights(point.discriminator_weights, *model.discriminator);
  const fs::path g_state = training_state_path(point.generator_weights);
  torch::serialize::InputArchive g = read_archive(g_state, device);
  torch::serialize::InputArchive d = read_archive(training_state_path(point.discriminator_weights), device);
  try {
    torch::serialize::InputArchive opt;
    g.read("optimizer", opt);
    model.generator_optimizer->load(opt);
    torch::serialize::InputArchive d_opt;
    d.read("optimizer", d_opt);
    model.discriminator_optimizer->load(d_opt);
    std::istringstream mt(read_string(g, "rng_mt19937_64"));
    mt >> rng;
    torch::Tensor cpu_state;
    g.read("rng_torch_cpu", cpu_state);
    at::Generator cpu = at::detail::getDefaultCPUGenerator();  // a handle to the global generator
    cpu.set_state(cpu_state.cpu());                            // generator states are CPU bytes
    torch::Tensor device_state;
    if (!device.is_cpu() && g.try_read("rng_torch_device", device_state))
      device_generator(device).set_state(device_state.cpu());
    return read_int(g, "iteration");
  } catch (const c10::Error& e) {
    throw CheckpointError(fmt::format("training state '{}' does not fit this model ({}); was train.optimizer changed?",
                                      g_state.string(), e.what_without_backtrace()));
  }
}

}  // namespace img2img

#include "img2img/train/training_state.h"

#include <ATen/Context.h>             // at::globalContext().defaultGenerator
#include <c10/util/Exception.h>       // c10::Error
#include <fmt/format.h>               // fmt::format
#include <torch/serialize/archive.h>  // torch::serialize::{Input,Output}Archive

#include <algorithm>  // std::sort, std::find
#include <sstream>  // std::stringstream
#include <vector>   // std::vector

#include "img2img/config/config_keys.h"
#include "img2img/config/enum_names.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/train/checkpoint.h"
#include "img2img/train/run_lock.h"

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

// The iteration and the RNG states (mt19937_64, torch CPU, torch `device`) of a run.
void write_run_state(torch::serialize::OutputArchive& archive, int64_t iteration, const std::mt19937_64& rng,
                     const torch::Device& device) {
  std::ostringstream mt;
  mt << rng;  // the standard's textual state of the engine, read back with operator>>
  archive.write("iteration", c10::IValue(iteration));
  archive.write("rng_mt19937_64", c10::IValue(mt.str()));
  archive.write("rng_torch_cpu", at::detail::getDefaultCPUGenerator().get_state());
  if (!device.is_cpu()) archive.write("rng_torch_device", device_generator(device).get_state());
}

// Restores what write_run_state wrote; returns the iteration. Throws c10::Error for a missing key.
int64_t read_run_state(torch::serialize::InputArchive& archive, std::mt19937_64& rng, const torch::Device& device) {
  std::istringstream mt(read_string(archive, "rng_mt19937_64"));
  mt >> rng;
  torch::Tensor cpu_state;
  archive.read("rng_torch_cpu", cpu_state);
  at::Generator cpu = at::detail::getDefaultCPUGenerator();  // a handle to the global generator
  cpu.set_state(cpu_state.cpu());                            // generator states are CPU bytes
  torch::Tensor device_state;
  if (!device.is_cpu() && archive.try_read("rng_torch_device", device_state))
    device_generator(device).set_state(device_state.cpu());
  return read_int(archive, "iteration");
}

// `file` relative to `base`'s folder (absolute if it has no relative form), as stored in a state file.
std::string relative_to(const fs::path& file, const fs::path& base) {
  fs::path rel = file.lexically_relative(base.parent_path());
  if (rel.empty()) rel = fs::absolute(file);
  return rel.generic_string();
}

// A path stored by relative_to, resolved against `base`'s folder.
fs::path resolve_stored(const std::string& stored, const fs::path& base) {
  const fs::path p = stored;
  return p.is_absolute() ? p : base.parent_path() / p;
}

std::string pairing(bool unpaired) {
  return unpaired ? "multiple_unpaired (an unpaired CycleGAN model)" : "a paired input type (a paired pix2pix model)";
}

// Both sides of a paired/unpaired mismatch between a checkpoint and the model it should continue.
CheckpointError pairing_mismatch(const ResumePoint& point, bool model_unpaired) {
  return CheckpointError(fmt::format(
      "cannot resume '{}': the checkpoint was trained with data.input_type = {}, but this run has "
      "data.input_type = {}. Resume with the checkpoint's input type (drop --data.input_type) or start a new run.",
      point.origin.string(), pairing(point.unpaired), pairing(model_unpaired)));
}
}  // namespace

fs::path training_state_path(const fs::path& weights) {
  fs::path p = weights;
  return p.extension() == ".pt" ? p.replace_extension(".optim.pt") : fs::path(weights.string() + ".optim.pt");
}

void save_training_state(const fs::path& generator_weights, const fs::path& discriminator_weights,
                         Pix2PixModel& model, int64_t iteration, const std::mt19937_64& rng,
                         const torch::Device& device) {
  {
    torch::serialize::OutputArchive archive;
    torch::serialize::OutputArchive optimizer;
    model.generator_optimizer->save(optimizer);
    archive.write("optimizer", optimizer);
    write_run_state(archive, iteration, rng, device);
    archive.write("discriminator_weights", c10::IValue(relative_to(discriminator_weights, generator_weights)));
    write_file_atomic(training_state_path(generator_weights), archive_bytes(archive));
  }
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive optimizer;
  model.discriminator_optimizer->save(optimizer);
  archive.write("optimizer", optimizer);
  write_file_atomic(training_state_path(discriminator_weights), archive_bytes(archive));
}

std::vector<fs::path> save_cycle_training_state(const std::array<fs::path, 4>& weights, CycleGanModel& model,
                                                int64_t iteration, const std::mt19937_64& rng,
                                                const torch::Device& device) {
  const fs::path& g0 = weights[0];
  std::vector<fs::path> written;
  for (int k = 0; k < 2; ++k) {  // discriminator k: image pool k (+ the discriminators' optimiser for k = 0)
    torch::serialize::OutputArchive archive;
    if (k == 0) {
      torch::serialize::OutputArchive optimizer;
      model.discriminator_optimizer->save(optimizer);
      archive.write("optimizer", optimizer);
    }
    torch::serialize::OutputArchive pool;
    model.pools()[static_cast<size_t>(k)].save(pool);
    archive.write("image_pool", pool);
    written.push_back(training_state_path(weights[k == 0 ? 1 : 3]));
    write_file_atomic(written.back(), archive_bytes(archive));
  }
  // Generator 0's last: a complete file set once it exists (a kill while saving leaves it missing).
  torch::serialize::OutputArchive archive;
  torch::serialize::OutputArchive optimizer;
  model.generator_optimizer->save(optimizer);
  archive.write("optimizer", optimizer);
  write_run_state(archive, iteration, rng, device);
  archive.write("discriminator_weights", c10::IValue(relative_to(weights[1], g0)));
  archive.write("generator_1_weights", c10::IValue(relative_to(weights[2], g0)));
  archive.write("discriminator_1_weights", c10::IValue(relative_to(weights[3], g0)));
  written.insert(written.begin(), training_state_path(g0));
  write_file_atomic(written.front(), archive_bytes(archive));
  return written;
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

namespace {
ResumePoint find_resume_point_in(const fs::path& run_or_checkpoint) {
  std::error_code ec;
  if (fs::is_directory(run_or_checkpoint, ec)) {
    // A run killed while writing a checkpoint leaves its newest one incomplete (no training state or
    // discriminator yet), and a damaged file cannot be read: resume from the newest complete one and
    // say which were skipped and why.
    const std::vector<fs::path> metas = generator_metas_newest_first(run_or_checkpoint);
    std::vector<std::string> skipped;
    for (size_t i = 0; i + 1 < metas.size(); ++i) {
      try {
        ResumePoint point = find_resume_point(metas[i]);
        point.origin = run_or_checkpoint;
        point.skipped = std::move(skipped);
        return point;
      } catch (const CheckpointError& e) {
        fs::path weights = metas[i];
        int64_t iteration = 0;
        try {
          iteration = read_checkpoint_meta(metas[i], &weights).iteration;
        } catch (const Error&) {  // listed by generator_metas_newest_first, so readable
        }
        skipped.push_back(fmt::format("--resume skips the newer checkpoint '{}' of iteration {}, which cannot be "
                                      "resumed: {}",
                                      weights.string(), iteration, e.what()));
      }
    }
    if (!metas.empty()) {
      ResumePoint point = find_resume_point(metas.back());
      point.origin = run_or_checkpoint;
      point.skipped = std::move(skipped);
      return point;
    }
  }
  ResumePoint point;
  point.origin = run_or_checkpoint;
  const CheckpointMeta meta = read_checkpoint_meta(run_or_checkpoint, &point.generator_weights);
  if (meta.network != "generator" || meta.index != 0)
    throw CheckpointError(fmt::format("--resume '{}' is a {} {} checkpoint; pass generator 0's .pt (the other "
                                      "networks are found from it) or the run folder.",
                                      run_or_checkpoint.string(), meta.network, meta.index));
  point.iteration = meta.iteration;
  point.config_toml = meta.config_toml;
  point.unpaired = is_unpaired(checkpoint_config(meta).data.input_type);
  // The run folder is where the checkpoint lies now (the nearest folder above it holding outputs.json),
  // so a copied or moved run continues in the copy; the folder recorded at save time only serves
  // checkpoints written outside their run folder (an output.model_path elsewhere).
  for (fs::path p = fs::absolute(point.generator_weights).parent_path(); point.run_dir.empty() && !p.empty();
       p = p.parent_path()) {
    if (fs::exists(p / "outputs.json", ec)) point.run_dir = p;
    if (p == p.parent_path()) break;
  }
  if (point.run_dir.empty() && !meta.run_dir.empty() && fs::is_directory(meta.run_dir, ec)) point.run_dir = meta.run_dir;
  const fs::path state = training_state_path(point.generator_weights);
  if (!fs::exists(state)) {
    // A leftover temporary (NAME.tmpPID) means the state write was cut short (kill, second Ctrl-C).
    bool interrupted_write = false;
    for (const auto& f : fs::directory_iterator(state.parent_path(), ec))
      if (f.path().filename().string().rfind(state.filename().string() + ".tmp", 0) == 0) interrupted_write = true;
    throw CheckpointError(fmt::format(
        "checkpoint '{}' has no training state '{}' beside it, so it cannot be resumed: {}",
        point.generator_weights.string(), state.string(),
        interrupted_write
            ? "its writing was interrupted (a temporary file of it is left). Resume from an earlier checkpoint of the "
              "run; if it has none, start the run again in a new folder (--output.run_dir=NEW_FOLDER) or delete "
              "the run folder first."
            : "it was written without one: either the run was killed while writing this checkpoint (resume from "
              "an earlier one; if there is none, start the run again in a new folder with "
              "--output.run_dir=NEW_FOLDER or delete the run folder first), or the files were copied without "
              "their .optim.pt training states (copy those too)."));
  }
  torch::serialize::InputArchive archive = read_archive(state, torch::kCPU);
  std::vector<fs::path> needed;
  try {
    point.discriminator_weights = resolve_stored(read_string(archive, "discriminator_weights"), point.generator_weights);
    needed = {point.discriminator_weights, training_state_path(point.discriminator_weights)};
    if (point.unpaired) {
      point.generator_1_weights = resolve_stored(read_string(archive, "generator_1_weights"), point.generator_weights);
      point.discriminator_1_weights =
          resolve_stored(read_string(archive, "discriminator_1_weights"), point.generator_weights);
      needed.insert(needed.end(), {point.generator_1_weights, point.discriminator_1_weights,
                                   training_state_path(point.discriminator_1_weights)});
    }
  } catch (const c10::Error& e) {
    throw CheckpointError(fmt::format("training state '{}' lacks an entry ({}); it was not written by img2img train.",
                                      state.string(), e.what_without_backtrace()));
  }
  for (const fs::path& p : needed)
    if (!fs::exists(p))
      throw CheckpointError(fmt::format("resuming '{}' needs the {} file '{}', which is missing.",
                                        point.generator_weights.string(),
                                        point.unpaired ? "checkpoint" : "discriminator", p.string()));
  return point;
}
}  // namespace

ResumePoint find_resume_point(const fs::path& run_or_checkpoint) {
  try {
    return find_resume_point_in(run_or_checkpoint);
  } catch (const CheckpointError&) {
    // A live run that has not saved a complete checkpoint yet: say that it is running, not that
    // the folder holds no checkpoint (its lock is checked only after the resume point is found).
    std::error_code ec;
    if (!fs::is_directory(run_or_checkpoint, ec)) throw;
    const std::string pid = run_folder_lock_holder(run_or_checkpoint);
    if (pid.empty()) throw;
    throw ConfigError(fmt::format(
        "another img2img train (pid {}) is writing to {} and has not saved a checkpoint that can be resumed yet; "
        "wait for it to save one (every output.model_save_rate iterations) or to finish, or stop it first (lock file "
        "{})",
        pid, run_or_checkpoint.string(), (run_or_checkpoint / kRunLockFileName).string()));
  }
}

namespace {
// Where the value of `key` in the resolved config came from: the origin of its last assignment
// (" (from base.toml:3)", " (from the command line)"), or "" when unknown or from the checkpoint.
std::string value_origin(const std::vector<ConfigAssignment>* assignments, const std::string& key) {
  if (assignments == nullptr) return "";
  for (auto a = assignments->rbegin(); a != assignments->rend(); ++a)
    if (a->key == key) {
      if (a->origin.rfind("checkpoint", 0) == 0) return " (from the checkpoint's saved config)";
      return fmt::format(" (from {})", a->origin == "command line" ? "the command line" : a->origin);
    }
  return "";
}

// " (base.toml:3, the command line)": the distinct places `keys` were set, for the fix text.
std::string origins_of(const std::vector<ConfigAssignment>* assignments, const std::vector<std::string>& keys) {
  std::vector<std::string> places;
  for (const std::string& k : keys) {
    std::string o = value_origin(assignments, k);
    if (o.empty() || o.find("checkpoint") != std::string::npos) continue;
    o = o.substr(7, o.size() - 8);  // " (from X)" -> "X"
    if (std::find(places.begin(), places.end(), o) == places.end()) places.push_back(o);
  }
  std::string out;
  for (const std::string& p : places) out += (out.empty() ? "" : ", ") + p;
  return out.empty() ? "" : " (" + out + ")";
}
}  // namespace

void check_resume_config(const RunConfig& resolved, const ResumePoint& point,
                         const std::vector<ConfigAssignment>* assignments) {
  const RunConfig saved = apply_config(parse_config_text(point.config_toml, "checkpoint config"));
  std::vector<std::string> problems, contradicting;
  for (const ConfigKey& key : config_keys()) {
    const std::string& n = key.name;
    const bool architecture = (n.rfind("generator.", 0) == 0 && n != "generator.l1_lambda") ||
                              n.rfind("discriminator.", 0) == 0 || n == "data.channel_count" ||
                              n == "data.image_size" || n == "train.optimizer";
    if (!architecture) continue;
    const std::string was = key.get(saved), now = key.get(resolved);
    if (was == now) continue;
    problems.push_back(fmt::format("{} = {}{} contradicts the checkpoint's {} = {}", n, now,
                                   value_origin(assignments, n), n, was));
    contradicting.push_back(n);
  }
  if (is_unpaired(saved.data.input_type) != is_unpaired(resolved.data.input_type)) {
    problems.push_back(fmt::format("data.input_type = \"{}\"{} contradicts the checkpoint's data.input_type = \"{}\": {} "
                                   "checkpoint cannot continue as {} training",
                                   to_string(resolved.data.input_type), value_origin(assignments, "data.input_type"),
                                   to_string(saved.data.input_type),
                                   is_unpaired(saved.data.input_type) ? "an unpaired (CycleGAN)" : "a paired (pix2pix)",
                                   is_unpaired(resolved.data.input_type) ? "unpaired (CycleGAN)" : "paired (pix2pix)"));
    contradicting.push_back("data.input_type");
  }
  if (resolved.train.max_iterations <= point.iteration)
    problems.push_back(fmt::format("train.max_iterations = {}{} but the checkpoint already completed {} iterations; "
                                   "pass --train.max_iterations=N with N > {}",
                                   resolved.train.max_iterations, value_origin(assignments, "train.max_iterations"),
                                   point.iteration, point.iteration));
  if (problems.empty()) return;
  std::string msg = fmt::format("cannot resume '{}':", point.origin.string());
  for (const std::string& p : problems) msg += "\n  - " + p;
  // The fix for contradictions (the max_iterations line carries its own).
  if (!contradicting.empty())
    msg += fmt::format("\nArchitecture keys, train.optimizer and paired/unpaired come from the checkpoint: remove the "
                       "contradicting settings{} to resume, or start a new run (without --resume) to change them.",
                       origins_of(assignments, contradicting));
  throw ConfigError(msg);
}

std::string resume_relative_paths_note(const std::vector<ConfigAssignment>& assignments,
                                       const std::string& checkpoint_origin) {
  std::vector<std::string> found, flags;
  for (const char* section : {"data", "test"})
    for (const char* name : {"input_dir", "reference_dir", "composite_dir"}) {
      const std::string key = fmt::format("{}.{}", section, name);
      const ConfigAssignment* last = nullptr;
      for (const ConfigAssignment& a : assignments)
        if (a.key == key) last = &a;
      std::error_code ec;
      if (last == nullptr || last->origin != checkpoint_origin || last->value.empty() ||
          fs::path(last->value).is_absolute() || fs::exists(last->value, ec))
        continue;
      found.push_back(fmt::format("{} = '{}'", key, last->value));
      flags.push_back(fmt::format("--{}=PATH", key));
    }
  if (found.empty()) return "";
  std::string list, flag_list;
  for (size_t i = 0; i < found.size(); ++i) {
    list += (i == 0 ? "" : ", ") + found[i];
    flag_list += (i == 0 ? "" : " ") + flags[i];
  }
  std::error_code ec;
  return fmt::format("\nNote: {} {} from the checkpoint's saved configuration, resolved against the "
                     "current folder '{}', not the folder the run was started in. Run img2img from that folder, or "
                     "give the paths: {}",
                     list, found.size() == 1 ? "is a relative path" : "are relative paths", fs::current_path(ec).string(), flag_list);
}

int64_t restore_training_state(const ResumePoint& point, Pix2PixModel& model, std::mt19937_64& rng,
                               const torch::Device& device) {
  if (point.unpaired) throw pairing_mismatch(point, false);
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
    return read_run_state(g, rng, device);
  } catch (const c10::Error& e) {
    throw CheckpointError(fmt::format("training state '{}' does not fit this model ({}); was train.optimizer changed?",
                                      g_state.string(), e.what_without_backtrace()));
  }
}

int64_t restore_training_state(const ResumePoint& point, CycleGanModel& model, std::mt19937_64& rng,
                               const torch::Device& device) {
  if (!point.unpaired) throw pairing_mismatch(point, true);
  load_weights(point.generator_weights, *model.generators[0]);
  load_weights(point.discriminator_weights, *model.discriminators[0]);
  load_weights(point.generator_1_weights, *model.generators[1]);
  load_weights(point.discriminator_1_weights, *model.discriminators[1]);
  const fs::path g_state = training_state_path(point.generator_weights);
  const fs::path d_state[2] = {training_state_path(point.discriminator_weights),
                               training_state_path(point.discriminator_1_weights)};
  torch::serialize::InputArchive g = read_archive(g_state, device);
  torch::serialize::InputArchive d[2] = {read_archive(d_state[0], device), read_archive(d_state[1], device)};
  const fs::path* current = &g_state;  // the file being read, for the message
  try {
    torch::serialize::InputArchive opt;
    g.read("optimizer", opt);
    model.generator_optimizer->load(opt);
    for (size_t k = 0; k < 2; ++k) {
      current = &d_state[k];
      if (k == 0) {
        torch::serialize::InputArchive d_opt;
        d[0].read("optimizer", d_opt);
        model.discriminator_optimizer->load(d_opt);
      }
      torch::serialize::InputArchive pool;
      d[k].read("image_pool", pool);
      model.pools()[k].load(pool);
    }
    current = &g_state;
    return read_run_state(g, rng, device);
  } catch (const c10::Error& e) {
    throw CheckpointError(fmt::format("training state '{}' does not fit this model ({}); was train.optimizer changed?",
                                      current->string(), e.what_without_backtrace()));
  }
}

}  // namespace img2img

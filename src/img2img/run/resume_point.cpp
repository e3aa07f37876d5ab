#include "img2img/run/resume_point.h"

#include <c10/util/Exception.h>       // c10::Error
#include <fmt/format.h>               // fmt::format

#include <algorithm>  // std::sort, std::find
#include <sstream>    // std::stringstream, std::istringstream
#include <vector>     // std::vector

#include "img2img/config/config_keys.h"
#include "img2img/config/enum_names.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/run/checkpoint.h"
#include "img2img/run/run_lock.h"

namespace img2img {
namespace fs = std::filesystem;

// Tensors land on `device` (optimiser state next to its parameters).
torch::serialize::InputArchive read_training_state(const fs::path& path, const torch::Device& device) {
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

std::string read_state_string(torch::serialize::InputArchive& archive, const std::string& key) {
  c10::IValue v;
  archive.read(key, v);
  return v.toStringRef();
}

namespace {
// A path stored by relative_to, resolved against `base`'s folder.
fs::path resolve_stored(const std::string& stored, const fs::path& base) {
  const fs::path p = stored;
  return p.is_absolute() ? p : base.parent_path() / p;
}

}  // namespace

fs::path training_state_path(const fs::path& weights) {
  fs::path p = weights;
  return p.extension() == ".pt" ? p.replace_extension(".optim.pt") : fs::path(weights.string() + ".optim.pt");
}

std::string network_key(const std::string& network, int64_t index) {
  return network + "_" + std::to_string(index);
}

// Generator 0's key for network (network, index)'s weights file: "discriminator_weights",
// "generator_1_weights" (index 0 unnumbered, as checkpoints have always been written).
std::string weights_entry(const std::string& network, int64_t index) {
  return index == 0 ? network + "_weights" : network + "_" + std::to_string(index) + "_weights";
}

// The network key of a weights_entry ("generator_1_weights" -> "generator_1"); "" for other entries.
std::string network_of_entry(const std::string& entry) {
  const std::string suffix = "_weights";
  if (entry.size() <= suffix.size() || entry.compare(entry.size() - suffix.size(), suffix.size(), suffix) != 0)
    return "";
  const std::string name = entry.substr(0, entry.size() - suffix.size());
  const size_t underscore = name.rfind('_');
  const bool numbered = underscore != std::string::npos && underscore + 1 < name.size() &&
                        name.find_first_not_of("0123456789", underscore + 1) == std::string::npos;
  return numbered ? name : network_key(name, 0);
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
    if (metas.empty()) {
      const bool run_folder = fs::exists(run_or_checkpoint / "outputs.json", ec);
      throw CheckpointError(fmt::format(
          "--resume '{}': the folder holds no img2img generator checkpoint (generator_0_N.pt with its .json), so "
          "there is nothing to resume: {}. Run the same img2img train command again without --resume, or give "
          "--resume a run folder or generator_0 .pt that has one.",
          run_or_checkpoint.string(),
          run_folder ? "the run ended before it wrote one (checkpoints are written every output.model_save_rate "
                       "iterations and at the end; none when output.model_path is empty)"
                     : "it is not a run folder either (no outputs.json)"));
    }
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
  point.world_size = meta.world_size;
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
  // A relative --resume gives a relative run folder, as a relative output.run_dir does in a fresh run, so
  // a resumed run's lines name its files as the first run's did ("runs/a/checkpoints/...").
  if (!point.run_dir.empty() && run_or_checkpoint.is_relative() && point.run_dir.is_absolute()) {
    const fs::path relative = point.run_dir.lexically_normal().lexically_proximate(fs::current_path(ec));
    if (!ec && relative.is_relative()) point.run_dir = relative;
  }
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
  torch::serialize::InputArchive archive = read_training_state(state, torch::kCPU);
  std::vector<fs::path> needed;
  point.networks[network_key("generator", 0)] = point.generator_weights;
  try {
    for (const std::string& entry : archive.keys()) {
      const std::string key = network_of_entry(entry);
      if (key.empty()) continue;
      point.networks[key] = resolve_stored(read_state_string(archive, entry), point.generator_weights);
      needed.push_back(point.networks[key]);
    }
    read_state_string(archive, "rng_mt19937_64");  // a state file of generator 0 (names the entry when missing)
    // Which other networks have a state file; checkpoints written before this entry: every discriminator.
    std::vector<std::string> with_state;
    c10::IValue listed;
    if (archive.try_read("networks_with_state", listed)) {
      std::stringstream list(listed.toStringRef());
      for (std::string k; std::getline(list, k, ',');) with_state.push_back(k);
    } else {
      for (const auto& [key, path] : point.networks)
        if (key.rfind("discriminator_", 0) == 0) with_state.push_back(key);
    }
    for (const std::string& k : with_state)
      if (point.networks.count(k)) needed.push_back(training_state_path(point.networks.at(k)));
  } catch (const c10::Error& e) {
    throw CheckpointError(fmt::format("training state '{}' lacks an entry ({}); it was not written by img2img train.",
                                      state.string(), e.what_without_backtrace()));
  }
  for (const fs::path& p : needed)
    if (!fs::exists(p))
      throw CheckpointError(fmt::format("resuming '{}' needs the {} file '{}', which is missing.",
                                        point.generator_weights.string(),
                                        point.networks.size() == 2 ? "discriminator" : "checkpoint", p.string()));
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
    const bool architecture = (n.rfind("generator.", 0) == 0 && n != "generator.l1_lambda" &&
                                                               n != "generator.ema_decay") ||
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

}  // namespace img2img

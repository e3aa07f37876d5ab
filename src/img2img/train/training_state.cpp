#include "img2img/train/training_state.h"

#include <ATen/Context.h>             // at::globalContext().defaultGenerator
#include <c10/util/Exception.h>       // c10::Error
#include <fmt/format.h>               // fmt::format
#include <torch/serialize/archive.h>  // torch::serialize::{Input,Output}Archive

#include <sstream>  // std::stringstream
#include <vector>   // std::vector

#include "img2img/core/error.h"
#include "img2img/run/checkpoint.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {
std::string archive_bytes(torch::serialize::OutputArchive& archive) {
  std::ostringstream out;
  archive.save_to(out);
  return out.str();
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
  std::istringstream mt(read_state_string(archive, "rng_mt19937_64"));
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

// The average of network `n` in `averages` (generator k at [k]), or nullptr.
template <typename Averages>
auto average_of(Averages* averages, const NamedNetwork& n) -> decltype(&(*averages)[0]) {
  if (averages == nullptr || n.network != "generator" || n.index < 0 ||
      static_cast<size_t>(n.index) >= averages->size())
    return nullptr;
  return &(*averages)[static_cast<size_t>(n.index)];
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

std::vector<TrainingStateFile> training_state_files(const std::vector<fs::path>& weights, GanModel& model,
                                                    ModelOptimizers& optimizers, int64_t iteration,
                                                    const std::mt19937_64& rng, const torch::Device& device,
                                                    const std::vector<WeightAverage>* averages) {
  const std::vector<NamedNetwork> networks = model.networks();
  if (weights.size() != networks.size() || networks.empty() || networks[0].network != "generator" ||
      networks[0].index != 0)
    throw Error(fmt::format("training_state_files: {} weights files for {} networks (generator 0 first)",
                            weights.size(), networks.size()));
  std::vector<TrainingStateFile> written(networks.size());
  std::vector<std::string> with_state;  // other networks that have a state file
  torch::serialize::OutputArchive first;  // generator 0's, written last
  for (size_t i = 0; i < networks.size(); ++i) {
    const NamedNetwork& n = networks[i];
    torch::serialize::OutputArchive own;
    torch::serialize::OutputArchive& archive = i == 0 ? first : own;
    bool any = false;
    for (size_t g = 0; g < optimizers.size(); ++g)
      if (n.index == 0 && optimizers.group_networks()[g] == n.network) {
        torch::serialize::OutputArchive optimizer;
        optimizers.optimizer(g).save(optimizer);
        archive.write("optimizer", optimizer);
        any = true;
      }
    any = model.save_state(i, archive) || any;
    if (const WeightAverage* a = average_of(averages, n)) {
      a->save(archive);
      any = true;
    }
    if (i == 0) continue;
    first.write(weights_entry(n.network, n.index), c10::IValue(relative_to(weights[i], weights[0])));
    if (!any) continue;
    with_state.push_back(network_key(n.network, n.index));
    written[i] = {training_state_path(weights[i]), archive_bytes(own), n.network, n.index};
  }
  write_run_state(first, iteration, rng, device);
  std::string list;
  for (const std::string& k : with_state) list += (list.empty() ? "" : ",") + k;
  first.write("networks_with_state", c10::IValue(list));
  // Generator 0's last: a complete file set once it exists (a kill while saving leaves it missing).
  std::vector<TrainingStateFile> out;
  for (size_t i = 1; i < written.size(); ++i)
    if (!written[i].path.empty()) out.push_back(std::move(written[i]));
  out.push_back({training_state_path(weights[0]), archive_bytes(first), networks[0].network, 0});
  return out;
}


int64_t restore_training_state(const ResumePoint& point, GanModel& model, ModelOptimizers& optimizers,
                               std::mt19937_64& rng, const torch::Device& device, bool unpaired_run,
                               std::vector<WeightAverage>* averages) {
  if (point.unpaired != unpaired_run) throw pairing_mismatch(point, unpaired_run);
  const std::vector<NamedNetwork> networks = model.networks();
  std::vector<fs::path> weights;
  for (const NamedNetwork& n : networks) {
    const auto found = point.networks.find(network_key(n.network, n.index));
    if (found == point.networks.end())
      throw CheckpointError(fmt::format("cannot resume '{}': its training state lists no {} {} checkpoint, which this "
                                        "model has; was it written by another kind of model?",
                                        point.origin.string(), n.network, n.index));
    load_weights(found->second, *n.module);
    weights.push_back(found->second);
  }
  const fs::path g_state = training_state_path(weights[0]);
  const fs::path* current = &g_state;  // the file being read, for the message
  try {
    std::vector<fs::path> files;  // the state file of each network ("" = none)
    for (size_t i = 0; i < networks.size(); ++i) {
      const fs::path f = training_state_path(weights[i]);
      files.push_back(i == 0 || fs::exists(f) ? f : fs::path());
      // A generator without a state file (a run without an average): its average starts from X.pt.
      if (WeightAverage* a = average_of(averages, networks[i]); a != nullptr && files.back().empty()) a->restart();
    }
    torch::serialize::InputArchive first = read_training_state(g_state, device);
    for (size_t i = networks.size(); i-- > 0;) {  // generator 0's last: it holds the RNG states
      if (files[i].empty()) continue;
      current = &files[i];
      torch::serialize::InputArchive own;
      if (i > 0) own = read_training_state(files[i], device);
      torch::serialize::InputArchive& archive = i == 0 ? first : own;
      for (size_t g = 0; g < optimizers.size(); ++g)
        if (networks[i].index == 0 && optimizers.group_networks()[g] == networks[i].network) {
          torch::serialize::InputArchive opt;
          archive.read("optimizer", opt);
          optimizers.optimizer(g).load(opt);
        }
      model.load_state(i, archive);
      if (WeightAverage* a = average_of(averages, networks[i]))
        a->load(archive);
      else if (networks[i].network == "generator")  // average now off: go on from the trained weights
        load_trained_weights(*networks[i].module, archive);
    }
    current = &g_state;
    return read_run_state(first, rng, device);
  } catch (const c10::Error& e) {
    throw CheckpointError(fmt::format("training state '{}' does not fit this model ({}); was train.optimizer changed?",
                                      current->string(), e.what_without_backtrace()));
  }
}

}  // namespace img2img

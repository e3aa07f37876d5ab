#include "img2img/train/training_loop.h"

#include <ATen/Parallel.h>                   // at::get_num_threads
#include <fmt/format.h>                      // fmt::format
#include <torch/csrc/autograd/grad_mode.h>  // torch::NoGradGuard
#include <torch/utils.h>                     // torch::manual_seed

#include <algorithm>  // std::find, std::min
#include <chrono>     // std::chrono
#include <cmath>      // std::isfinite
#include <csignal>    // SIGINT, SIGTERM, SIGHUP
#include <map>        // std::map
#include <optional>   // std::optional
#include <random>     // std::mt19937_64
#include <tuple>      // std::tie

#include "img2img/config/config_keys.h"
#include "img2img/config/enum_names.h"
#include "img2img/config/source_keys.h"  // same_source_warning
#include "img2img/core/error.h"
#include "img2img/core/runtime.h"
#include "img2img/core/thread_governor.h"
#include "img2img/models/shape_rules.h"
#include "img2img/run/checkpoint.h"
#include "img2img/run/run_writer.h"
#include "img2img/train/lr_schedule.h"
#include "img2img/train/non_finite.h"
#include "img2img/train/optimizers.h"
#include "img2img/train/training_state.h"
#include "img2img/train/weight_average.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {
using Clock = std::chrono::steady_clock;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

// JSON null for NaN / inf (a diverged loss or an SSIM on images below the window).
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

int64_t parameter_count(torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

std::string network_label(const NamedNetwork& n) {
  return n.index == 0 ? n.network : fmt::format("{} {}", n.network, n.index);
}

// "1 CPU thread", "2 CPU threads", and when the count follows the free cores (core/thread_governor.h)
// "2 CPU threads (follows the free cores: 1-2)"; train.log's "CPU threads 2 -> 1" lines say each change.
std::string cpu_threads_text(int threads) {
  const std::string count = cpu_thread_count_text(threads);
  if (!cpu_threads_governed() || threads < 2) return count;
  return fmt::format("{} (follows the free cores: 1-{})", count, threads);
}

// The run folder a --resume continues and the warnings of what it does not continue as it was.
std::optional<RunResume> resume_of(const TrainOptions& options) {
  if (!options.resume) return std::nullopt;
  return run_resume(options.resume->run_dir, options.resume->config_toml, options.resume->iteration);
}

std::vector<std::string> resume_warnings(const RunConfig& config, const TrainOptions& options) {
  if (!options.resume) return {};
  const ResumePoint& point = *options.resume;
  std::vector<std::string> warnings = point.skipped;
  const RunConfig before = apply_config(parse_config_text(point.config_toml, "checkpoint config"));
  if (std::string w = resume_schedule_warning(before.train, config.train, point.iteration); !w.empty())
    warnings.push_back(std::move(w));
  // generator.ema_decay may differ on resume (docs/quality.md); say what that does.
  // (A checkpoint that cannot be read fails with its own error when it is loaded, after this.)
  double was = 0;
  try {
    was = read_checkpoint_meta(point.generator_weights).average_decay;
  } catch (const Error&) {
    return warnings;
  }
  const double now = config.generator.ema_decay;
  if (was > 0 && now == 0)
    warnings.push_back(fmt::format("generator.ema_decay = 0 (the checkpoint's generator is a moving average, decay "
                                   "{}): training goes on from the trained weights, and the tests, checkpoints and "
                                   "ONNX files of this run hold them, not an average",
                                   was));
  else if (was == 0 && now > 0)
    warnings.push_back(fmt::format("generator.ema_decay = {} (the checkpoint's generator holds its trained weights, "
                                   "no average): the moving average starts from the resumed weights",
                                   now));
  else if (was > 0 && now != was)
    warnings.push_back(fmt::format("generator.ema_decay = {} (the checkpoint's average used {}): the average goes on "
                                   "with the new decay", now, was));
  return warnings;
}

// Throws (before anything is saved) if a weight or buffer of `network` is NaN/inf, so a diverged
// model never overwrites or adds to the good checkpoints.
void check_finite_weights(const NamedNetwork& network, int64_t iteration) {
  torch::NoGradGuard no_grad;
  auto check = [&](const std::string& name, const torch::Tensor& t) {
    if (t.is_floating_point() && !torch::isfinite(t).all().item<bool>())
      throw Error(fmt::format("iteration {}: the {} weights became NaN/inf ('{}'); training diverged. Nothing was "
                              "saved for this iteration: the checkpoints already written are the last good ones. "
                              "Lower train.learning_rate or check float images for extreme values.",
                              iteration, network_label(network), name));
  };
  for (const auto& p : network.module->named_parameters(/*recurse=*/true)) check(p.key(), p.value());
  for (const auto& b : network.module->named_buffers(/*recurse=*/true)) check(b.key(), b.value());
}

// The statistics line of an iteration: labels in order of first appearance, each with the values of
// every statistic that shares it ("G_GAN 0.7012 0.6930  cycle 1.2 1.3").
std::string format_statistics(const std::vector<StatisticInfo>& info, const std::vector<double>& values,
                              int precision_cap = 99) {
  std::vector<std::string> labels, parts;
  for (size_t k = 0; k < info.size(); ++k) {
    if (info[k].label.empty()) continue;
    const auto found = std::find(labels.begin(), labels.end(), info[k].label);
    const std::string value = fmt::format("{:.{}f}", values[k], std::min(info[k].precision, precision_cap));
    if (found == labels.end()) {
      labels.push_back(info[k].label);
      parts.push_back(info[k].label + " " + value);
    } else {
      parts[static_cast<size_t>(found - labels.begin())] += " " + value;
    }
  }
  std::string out;
  for (const std::string& p : parts) out += (out.empty() ? "" : "  ") + p;
  return out;
}

// The statistics of the `iteration` event: one field per StatisticInfo::event, an array when several share it.
nlohmann::json statistics_event(const std::vector<StatisticInfo>& info, const std::vector<double>& values) {
  nlohmann::json fields = nlohmann::json::object();
  std::map<std::string, int> count;
  for (const StatisticInfo& s : info)
    if (!s.event.empty()) ++count[s.event];
  for (size_t k = 0; k < info.size(); ++k) {
    const std::string& e = info[k].event;
    if (e.empty()) continue;
    if (count[e] == 1)
      fields[e] = number(values[k]);
    else
      fields[e].push_back(number(values[k]));
  }
  return fields;
}

// How an iteration's step loop ended. `partial`: a stop request (Ctrl-C/SIGTERM) cut it short after
// `steps_done` < steps_per_it steps; the weights then hold its first steps, but the checkpoint carries
// `iteration` = the last completed one, so --resume repeats the interrupted iteration in full.
struct IterationEnd {
  bool partial = false;
  int64_t iteration = 0;  // 1-based iteration number for checkpoints and the summary
};

IterationEnd end_iteration(bool interrupted, int64_t it, int64_t steps_done, int64_t steps_per_it, bool saves,
                           std::string& stop_reason, RunWriter& writer) {
  IterationEnd end;
  end.partial = interrupted && steps_done < steps_per_it;
  end.iteration = end.partial ? it : it + 1;
  if (interrupted) {
    stop_reason = end.partial ? fmt::format("interrupted in iteration {} after step {} of {}", it + 1, steps_done,
                                            steps_per_it)
                              : fmt::format("interrupted after iteration {}", it + 1);
    writer.line(stop_reason + (saves ? "; writing a checkpoint and the manifest"
                                     : "; writing the manifest (output.model_path is empty: no checkpoint, nothing to "
                                       "resume)"));
  }
  return end;
}

// The log line after a kInterruptedLabel checkpoint (run/run_outputs.h).
std::string interrupted_checkpoint_note(int64_t iteration) {
  return fmt::format("iteration {} has no checkpoint on disk (output.model_save_rate), so the weights after the last "
                     "finished step of iteration {} were saved with '{}' in their name, labelled iteration {}; --resume "
                     "continues from them and repeats iteration {} in full",
                     iteration, iteration + 1, kInterruptedLabel, iteration, iteration + 1);
}

// When a stop was requested before the first step (`stop`: a Ctrl-C during setup, on any rank): marks
// `summary` interrupted and nothing_trained at `start_iteration` and says that nothing was trained.
void stop_before_first_step(bool stop, int64_t start_iteration, TrainSummary& summary, RunWriter& writer) {
  if (!stop) return;
  summary.interrupted = summary.nothing_trained = true;
  summary.iterations = start_iteration;
  summary.stop_reason = "interrupted before the first training step";
  writer.line(start_iteration > 0
                  ? fmt::format("{}: nothing was trained yet and nothing was saved; the checkpoint of iteration {} "
                                "it resumed from is unchanged",
                                summary.stop_reason, start_iteration)
                  : fmt::format("{}: nothing was trained yet and no checkpoint was written", summary.stop_reason));
}
// Data-parallel agreement (docs/distributed.md): whether any rank asks to stop, after every step and
// every test batch. One small all-reduce: [stop, SIGINT, SIGTERM, SIGHUP]. Alone: this process's request.
// Sets summary.stop_signal to the signal behind a peer's request (SIGTERM wins over SIGHUP, SIGHUP over
// SIGINT), so every rank stopped by a peer exits alike.
bool stop_agreed(const TrainOptions& options, ProcessGroup* group, TrainSummary& summary) {
  const bool stop = options.stop_requested != nullptr && options.stop_requested->load();
  if (group == nullptr) return stop;
  const int sig = options.stop_signal != nullptr ? options.stop_signal->load() : 0;
  const std::vector<double> v =
      group->sum({stop ? 1.0 : 0.0, sig == SIGINT ? 1.0 : 0.0, sig == SIGTERM ? 1.0 : 0.0, sig == SIGHUP ? 1.0 : 0.0});
  if (v[0] > 0 && summary.stop_signal == 0)
    summary.stop_signal = v[2] > 0 ? SIGTERM : v[3] > 0 ? SIGHUP : v[1] > 0 ? SIGINT : 0;
  return v[0] > 0;
}

// The floating-point buffers (BatchNorm running statistics) of `networks`: averaged over the ranks at
// the end of every iteration, so that tests and checkpoints see one set (docs/distributed.md).
std::vector<torch::Tensor> floating_buffers(const std::vector<NamedNetwork>& networks) {
  std::vector<torch::Tensor> out;
  for (const NamedNetwork& n : networks)
    for (const torch::Tensor& b : n.module->buffers(/*recurse=*/true))
      if (b.is_floating_point()) out.push_back(b);
  return out;
}

// Everything every rank starts from rank 0: weights and buffers of `networks`.
std::vector<torch::Tensor> network_state(const std::vector<NamedNetwork>& networks) {
  std::vector<torch::Tensor> out;
  for (const NamedNetwork& n : networks) {
    for (const torch::Tensor& p : n.module->parameters(/*recurse=*/true)) out.push_back(p);
    for (const torch::Tensor& b : n.module->buffers(/*recurse=*/true)) out.push_back(b);
  }
  return out;
}

// A 64-bit FNV-1a digest (hex) of the bytes of every parameter of `networks`, in order.
std::string weights_digest(const std::vector<NamedNetwork>& networks) {
  uint64_t h = 1469598103934665603ull;
  for (const NamedNetwork& n : networks)
    for (const torch::Tensor& p : n.module->parameters(/*recurse=*/true)) {
      const torch::Tensor c = p.detach().to(torch::kCPU).contiguous();
      const auto* bytes = static_cast<const uint8_t*>(c.data_ptr());
      for (size_t i = 0, size = static_cast<size_t>(c.numel()) * c.element_size(); i < size; ++i)
        h = (h ^ bytes[i]) * 1099511628211ull;
    }
  return fmt::format("{:016x}", h);
}

// Data-parallel runs, before each save: every rank's weights are rank 0's bit for bit (the same
// averaged gradients applied to the same weights), or every rank throws. Rank 0 logs the digest.
void check_same_weights(ProcessGroup& group, const std::vector<NamedNetwork>& networks, int64_t iteration,
                        RunWriter& writer) {
  const std::string mine = weights_digest(networks), first = group.broadcast_string(mine, 0);
  const double differ = group.sum({mine == first ? 0.0 : 1.0})[0];
  if (differ > 0)
    throw Error(fmt::format("iteration {}: the weights of {} of the {} processes differ from rank 0's ({}); the "
                            "data-parallel run cannot go on. Please report this",
                            iteration, differ, group.size(),
                            group.rank() == 0 || mine == first ? fmt::format("digest {} on rank 0", first)
                                                               : fmt::format("digest {} here, {} on rank 0", mine, first)));
  writer.line(fmt::format("iteration {}: weights identical on all {} processes (digest {})", iteration, group.size(),
                          first));
}

// Data-parallel runs, right after the group forms (before anything is written): every rank must train with
// rank 0's configuration, or ranks would blend different runs (a different image size trains on silently; a
// different batch size or network breaks inside Gloo). device.* may differ (cuda:0 / cuda:1, threads per
// machine). Every rank throws if any differs; a differing rank names its keys.
void check_same_config(ProcessGroup& group, const RunConfig& config) {
  std::string mine;
  for (const ConfigKey& key : config_keys())
    if (key.name.rfind("device.", 0) != 0) mine += key.name + "\n" + key.get(config) + "\n";
  const std::string first = group.broadcast_string(mine, 0);
  const double differ = group.sum({mine == first ? 0.0 : 1.0})[0];
  if (differ == 0) return;
  if (mine == first)
    throw ConfigError(fmt::format("{} of the {} processes of the data-parallel run {} started with a configuration "
                                  "different from rank 0's (their own errors name the keys): start every process "
                                  "with the same command line and --config file (only device.* may differ)",
                                  differ, group.size(), differ == 1 ? "was" : "were"));
  std::map<std::string, std::string> theirs;
  for (size_t at = 0; at < first.size();) {
    const size_t name_end = first.find('\n', at), value_end = first.find('\n', name_end + 1);
    if (name_end == std::string::npos || value_end == std::string::npos) break;
    theirs[first.substr(at, name_end - at)] = first.substr(name_end + 1, value_end - name_end - 1);
    at = value_end + 1;
  }
  std::string keys;
  for (const ConfigKey& key : config_keys()) {
    if (key.name.rfind("device.", 0) == 0) continue;
    const auto it = theirs.find(key.name);
    const std::string here = key.get(config);
    if (it != theirs.end() && it->second == here) continue;
    keys += fmt::format("{}{} = {} here, {} on rank 0", keys.empty() ? "" : "; ", key.name, here,
                        it == theirs.end() ? "(unknown)" : it->second);
  }
  throw ConfigError(fmt::format("rank {} was started with a configuration different from rank 0's: {}. Start every "
                                "process of the data-parallel run with the same command line and --config file (only "
                                "device.* may differ)",
                                group.rank(), keys));
}

// A test in a data-parallel run: rank 0 tests (`test`, with `stop` after every batch) while the others
// wait in one small all-reduce per test batch (a heartbeat, so a long test never reaches
// distributed.timeout, and a stop request of any rank ends it); then every rank holds rank 0's
// result: [done, ssim, samples, stopped, stop].
TestResult shared_test(ProcessGroup& group, const std::function<TestResult(const std::function<bool()>&)>& test,
                       const std::function<bool()>& local_stop) {
  if (group.rank() == 0) {
    TestResult t = test([&] { return group.sum({0, 0, 0, 0, local_stop() ? 1.0 : 0.0})[4] > 0; });
    group.sum({1, t.ssim, static_cast<double>(t.samples), t.stopped ? 1.0 : 0.0, 0});
    return t;
  }
  for (;;) {
    const std::vector<double> v = group.sum({0, 0, 0, 0, local_stop() ? 1.0 : 0.0});
    if (v[0] > 0) {
      TestResult t;
      t.ssim = v[1], t.samples = static_cast<int64_t>(v[2]), t.stopped = v[3] > 0;
      return t;
    }
  }
}

// The tail of a lost-peer error (core/process_group.cpp) that points to the newest checkpoint.
constexpr const char* kLostPeerResumeAdvice = "; the last complete checkpoint in the run folder is untouched";

// Throws `e` again, as its own img2img error type (callers and tests tell them apart), with message `what`.
[[noreturn]] void rethrow_with_message(const Error& e, const std::string& what) {
  if (const auto* n = dynamic_cast<const NonFiniteLossError*>(&e)) throw NonFiniteLossError(what, n->term());
  if (dynamic_cast<const DataError*>(&e) != nullptr) throw DataError(what);
  if (dynamic_cast<const ConfigError*>(&e) != nullptr) throw ConfigError(what);
  if (dynamic_cast<const CheckpointError*>(&e) != nullptr) throw CheckpointError(what);
  if (dynamic_cast<const WriteError*>(&e) != nullptr) throw WriteError(what);
  if (dynamic_cast<const ExportError*>(&e) != nullptr) throw ExportError(what);
  if (dynamic_cast<const DistributedError*>(&e) != nullptr) throw DistributedError(what);
  throw Error(what);
}
}  // namespace

TrainSummary run_training(const RunConfig& config, const TrainOptions& options, const ModelRecipe& recipe) {
  const auto t0 = Clock::now();
  TrainSummary summary;
  // A data-parallel run (options.launch, docs/distributed.md): rank 0 alone writes the run folder and
  // the events; the others make the same calls on a silent writer.
  const bool distributed = options.launch && options.launch->world_size > 1;
  const bool lead = !distributed || options.launch->rank == 0;
  summary.rank = distributed ? options.launch->rank : 0;
  EventLog events(lead ? options.events : std::string());
  std::unique_ptr<RunWriter> writer;
  std::unique_ptr<ProcessGroup> group;
  std::string shared_run_dir;  // rank 0's run folder, for the errors of every rank
  try {
    if (recipe.check) recipe.check(config);
    const torch::Device device = resolve_device(config.device.device);
    configure_runtime(config.device.cpu_threads);
    if (distributed) {
      GroupOptions g;
      g.backend = to_string(config.distributed.backend), g.timeout_seconds = config.distributed.timeout;
      g.device = device;
      if (options.joining) options.joining->store(true);
      try {
        group = join_process_group(*options.launch, g);
      } catch (...) {
        if (options.joining) options.joining->store(false);
        throw;
      }
      if (options.joining) options.joining->store(false);
      check_same_config(*group, config);
    }
    const int64_t world = group ? group->size() : 1;

    // --resume continues the earlier run's folder, plots and outputs.json (or branches into a new folder).
    const std::optional<RunResume> resume = resume_of(options);
    writer = lead ? std::make_unique<RunWriter>(config, resume ? &*resume : nullptr, resume_warnings(config, options),
                                                options.interactive, events)
                  : RunWriter::silent(config, events);
    summary.run_dir = writer->dir();
    summary.outputs_manifest = writer->manifest_path();
    for (const std::string& n : options.notes) writer->line("note: " + n);
    // Every rank waits here for rank 0's folder (its errors name it).
    if (group) shared_run_dir = group->broadcast_string(lead ? fs::absolute(summary.run_dir).string() : "");

    const std::unique_ptr<TrainingData> data = recipe.data(config, device);
    if (group) {  // every rank must hold the same data (the same files on every machine)
      const double size = static_cast<double>(data->size());
      const std::vector<double> sizes = group->sum({size, group->rank() == 0 ? size : 0.0});
      if (sizes[0] != sizes[1] * static_cast<double>(world))
        throw ConfigError(fmt::format("rank {} found {} training samples but the ranks together {} (rank 0: {}): every "
                                      "process needs the same data set (the same files at the same paths on every "
                                      "machine)",
                                      group->rank(), data->size(), sizes[0], sizes[1]));
      data->shard(group->rank(), world);
    }
    for (const std::string& l : data->describe()) writer->line(l);
    std::unique_ptr<ModelTest> tester;
    if (config.test.enabled) {
      tester = recipe.test(config, device);
      for (const std::string& l : tester->describe()) writer->line(l);
    }
    if (const RunFolder& run = writer->folder(); !run.resumed_from.empty()) {
      const int64_t points = writer->load_plot_history();
      writer->line(fmt::format("{} run {} after iteration {}: kept its outputs.json entries and {} plot point(s) up "
                               "to there",
                               run.continued ? "continuing" : "resuming into a new folder from",
                               run.resumed_from.string(), run.resume_iteration, points));
    }
    // A resume on another number of processes changes the effective batch (data.batch_size is per process).
    if (options.resume && options.resume->world_size > 0 && options.resume->world_size != world) {
      const int64_t before = options.resume->world_size, batch = config.data.batch_size;
      writer->line(fmt::format("note: the checkpoint was trained on {} process{}, this run uses {}: the effective batch "
                               "changes from {} to {} (data.batch_size {} per process; docs/distributed.md)",
                               before, before == 1 ? "" : "es", world, batch * before, batch * world, batch));
    }

    torch::manual_seed(static_cast<uint64_t>(config.train.seed));
    std::mt19937_64 rng(static_cast<uint64_t>(config.train.seed));
    const std::unique_ptr<GanModel> model = recipe.model(config, device);
    // Data-parallel: IMG2IMG_OVERLAP etc. (docs/distributed.md, "Overlap"); read before any tensor is hooked.
    ModelOptimizers optimizers(*model, config.train, group.get(),
                               group ? gradient_sync_options_from_env() : GradientSyncOptions{});
    const std::vector<NamedNetwork> networks = model->networks();
    const std::vector<StatisticInfo> stats = model->statistics();
    // The moving average of each tested and exported generator (generator.ema_decay): what tests,
    // checkpoints (X.pt) and ONNX files hold; the trained weights stay in the modules.
    std::vector<WeightAverage> averages;
    if (config.generator.ema_decay > 0)
      for (const UnetGenerator& g : model->exported_generators()) averages.emplace_back(g.ptr(), config.generator.ema_decay);
    if (!averages.empty())
      writer->line(fmt::format("generator weights: tests, checkpoints (.pt) and ONNX files hold a moving average of "
                               "the trained weights (generator.ema_decay = {}; 0 = the trained weights){}",
                               config.generator.ema_decay,
                               recipe.unpaired ? "" : "; the SSIM on the iteration lines is the trained weights' on "
                                                      "their training batches"));
    // --resume: weights, optimiser, model and RNG states; the schedule follows the iteration.
    const int64_t start_it = options.resume ? restore_training_state(*options.resume, *model, optimizers, rng, device,
                                                                     recipe.unpaired, &averages)
                                            : 0;
    if (options.resume)
      writer->line(fmt::format("resumed {} after iteration {}", options.resume->generator_weights.string(), start_it));
    if (group) {
      // Same start on every rank: rank 0's weights and buffers. Dropout masks (torch's generator) then
      // differ per rank: rank r > 0 reseeds from (train.seed, start iteration, r).
      group->broadcast(network_state(networks), 0);
      if (group->rank() > 0) {
        std::seed_seq seq{static_cast<uint64_t>(config.train.seed), static_cast<uint64_t>(start_it),
                          static_cast<uint64_t>(group->rank())};
        uint64_t seed[1];
        seq.generate(seed, seed + 1);
        torch::manual_seed(seed[0]);
      }
      writer->line(fmt::format("data-parallel: {} processes (c10d Gloo, {} on this machine); data.batch_size {} per "
                               "process, effective batch {}; each iteration covers the data once, {} sample(s) per "
                               "process",
                               world, options.launch->local_world_size, config.data.batch_size,
                               config.data.batch_size * world, data->samples_per_iteration()));
      writer->line(optimizers.overlaps()
                       ? "gradient all-reduce: in buckets during backward, overlapped with it (IMG2IMG_OVERLAP=0: "
                         "one buffer after backward)"
                       : "gradient all-reduce: in one buffer after backward (IMG2IMG_OVERLAP=0)");
    }
    set_train_mode(*model, true);
    std::string sizes;
    for (const NamedNetwork& n : networks)
      sizes += fmt::format("{}{} {} parameters", sizes.empty() ? "" : ", ", network_label(n), parameter_count(*n.module));
    writer->line(fmt::format("device: {}, {}; {}", device.str(), cpu_threads_text(at::get_num_threads()), sizes));
    const int64_t batch = config.data.batch_size;
    for (const std::string& w : {schedule_warning(config.train), optimizer_warning(config.train),
                                 cpu_threads_warning(config.device.cpu_threads), data->batch_size_warning(batch),
                                 data->channel_warning(config.data.channel_count),
                                 shallow_unet_warning(config.generator.layers, config.data.image_size),
                                 same_source_warning(config.data, "data"),
                                 config.test.enabled ? same_source_warning(config.test, "test") : std::string()})
      if (!w.empty()) writer->line("warning: " + w);
    for (const std::string& w : data->file_warnings(config.data.image_size)) writer->line("warning: " + w);

    const int64_t n = data->size(), mine = data->samples_per_iteration();  // mine: this process's share
    const int64_t steps_per_it = (mine + batch - 1) / batch, max_it = config.train.max_iterations;
    // (Ranks other than 0 have no folder and emit no events.)
    const fs::path folder = lead ? fs::absolute(summary.run_dir) : fs::path();
    nlohmann::json start = {{"run_dir", folder.string()},
                            {"outputs_manifest", summary.outputs_manifest.string()},
                            {"log", lead ? (folder / "train.log").string() : std::string()},
                            {"max_iterations", max_it},
                            {"device", device.str()},
                            {"test_samples", tester ? tester->size() : 0},
                            {"test_storage", tester ? tester->storage_mode() : std::string()},
                            {"image_size", config.data.image_size},
                            {"channel_count", config.data.channel_count},
                            {"model", recipe.name},
                            {"world_size", world},
                            {"effective_batch_size", batch * world}};
    start.update(data->event_fields());
    writer->event("run_start", start);
    NanGuard nan_guard(config.train);
    std::vector<torch::nn::Module*> modules;  // whose buffers a skipped step restores
    for (const NamedNetwork& net : networks) modules.push_back(net.module.get());

    // Iteration whose complete checkpoint is on disk in this run folder: the one this run wrote last,
    // or, continuing in place, the one it resumed from. A Ctrl-C inside the next iteration keeps it
    // untouched; without one, the partial weights get kInterruptedLabel (never a completed label).
    int64_t saved_iteration = writer->folder().continued ? start_it : -1;
    if (group)  // rank 0's folder decides (the others have none): every rank saves, or keeps, alike
      saved_iteration = static_cast<int64_t>(group->sum({lead ? static_cast<double>(saved_iteration) : 0.0})[0]);
    // Until this run completes an iteration it stands at the resumed one (outputs.json, run_end, the
    // done line), and its newest model is the checkpoint it resumed from when that stays in place.
    summary.iterations = start_it;
    writer->completed(start_it);
    if (writer->folder().continued && options.resume) summary.final_generator = options.resume->generator_weights;
    // A stop requested during setup (Ctrl-C before the first step) trains and saves nothing.
    stop_before_first_step(stop_agreed(options, group.get(), summary), start_it, summary, *writer);
    for (int64_t it = start_it; it < max_it && !summary.nothing_trained; ++it) {
      const double lr = scheduled_learning_rate(config.train, it);
      optimizers.set_learning_rate(lr);
      data->start_iteration(rng);
      std::vector<double> sum(stats.size(), 0.0);  // batch means x batch sizes of the batches used
      const auto it_start = Clock::now();
      int64_t steps_done = 0, used = 0, skipped_steps = 0;
      for (int64_t step = 0; step < steps_per_it; ++step) {
        if (const std::string t = govern_cpu_threads(); !t.empty()) writer->line(t);  // auto threads: free cores
        if (const std::string w = fixed_cpu_threads_warning(); !w.empty())  // a fixed count beside busy programs
          writer->warning(w, {{"iteration", it + 1}, {"step", step + 1}});
        const int64_t end = std::min(mine, (step + 1) * batch), count = end - step * batch;
        std::vector<torch::Tensor> tensors;
        try {
          tensors = data->next_batch(rng);
        } catch (const DataError& e) {
          throw DataError(fmt::format("iteration {}, step {}: {}", it + 1, step + 1, e.what()));
        }
        std::vector<double> s;
        const std::string skipped =
            nan_guard.run(modules, it + 1, step + 1, [&] {
              try {
                s = model->train_step(tensors, optimizers);
              } catch (const NonFiniteLossError&) {
                optimizers.abandon_step();  // data-parallel: the peers fail this step with it
                throw;
              }
            });
        steps_done = step + 1;
        if (!skipped.empty()) {  // train.nan_policy = skip: no update used the non-finite loss
          writer->warning(skipped, {{"iteration", it + 1}, {"step", step + 1}});
          ++skipped_steps;
          summary.skipped_steps = nan_guard.skipped();
          continue;
        }
        for (WeightAverage& a : averages) a.update();
        for (size_t k = 0; k < stats.size(); ++k) sum[k] += s[k] * static_cast<double>(count);
        used += count;
        const double rate = static_cast<double>(end * world) / std::max(seconds_since(it_start), 1e-9);
        const double remaining = (static_cast<double>(max_it - it) * mine - end) * world / std::max(rate, 1e-9);
        writer->status(fmt::format("iteration {}/{} step {}/{}  {}  {:.1f} img/s  ETA {}", it + 1, max_it, step + 1,
                                   steps_per_it, format_statistics(stats, s, 3), rate, format_duration(remaining)));
        if (options.after_step) options.after_step(it + 1, step + 1);
        if (stop_agreed(options, group.get(), summary)) {
          summary.interrupted = true;
          break;
        }
      }
      if (group) {  // the iteration's statistics over all ranks' samples; one set of BatchNorm statistics
        std::vector<double> totals = sum;
        totals.push_back(static_cast<double>(used));
        totals = group->sum(totals);
        used = static_cast<int64_t>(totals.back());
        std::copy(totals.begin(), totals.end() - 1, sum.begin());
        std::vector<torch::Tensor> buffers = floating_buffers(networks);
        for (const WeightAverage& a : averages)  // averaged from each rank's own running statistics
          for (const torch::Tensor& b : a.averaged_buffers()) buffers.push_back(b);
        if (!buffers.empty()) group->average(buffers);
      }
      const double allreduce_seconds = optimizers.take_allreduce_seconds();
      const double allreduce_hidden_seconds = optimizers.take_allreduce_hidden_seconds();
      const auto [partial, iteration] =
          end_iteration(summary.interrupted, it, steps_done, steps_per_it, !config.output.model_path.empty(),
                        summary.stop_reason, *writer);
      if (!partial) {
        const double it_seconds = seconds_since(it_start);
        const double images_per_s = static_cast<double>(n) / std::max(it_seconds, 1e-9);
        // Means over the samples of the batches used; NaN when all were skipped.
        std::vector<double> mean(stats.size());
        for (size_t k = 0; k < stats.size(); ++k) mean[k] = sum[k] * used_samples_factor(used);
        if (used > 0) {
          summary.last.clear();
          for (size_t k = 0; k < stats.size(); ++k) summary.last[stats[k].key] = mean[k];
        }
        summary.iterations = iteration;
        writer->completed(iteration);
        const double eta = it_seconds * static_cast<double>(max_it - iteration);
        const std::string head = fmt::format("iteration {}/{}  lr {:.3g}  ", iteration, max_it, lr);
        if (used == 0)
          writer->line(head + fmt::format("losses skipped: all {} step(s) had non-finite losses (train.nan_policy = "
                                          "skip)  ETA {}",
                                          steps_per_it, format_duration(eta)));
        else
          writer->line(head + fmt::format("{}  {:.1f} img/s  ETA {}{}", format_statistics(stats, mean), images_per_s,
                                          format_duration(eta),
                                          skipped_steps > 0 ? fmt::format("  ({} of {} step(s) skipped)",
                                                                          skipped_steps, steps_per_it)
                                                            : ""));
        nlohmann::json fields = {{"iteration", iteration}, {"max_iterations", max_it}, {"lr", lr},
                                 {"images_per_s", images_per_s}, {"seconds", it_seconds}, {"eta_s", eta},
                                 {"skipped_steps", skipped_steps}, {"world_size", world},
                                 {"allreduce_seconds", allreduce_seconds}};
        if (world > 1) fields["allreduce_hidden_seconds"] = allreduce_hidden_seconds;
        fields.update(statistics_event(stats, mean));
        writer->event("iteration", fields);
        if (used > 0)  // no made-up points for a fully skipped iteration
          for (size_t k = 0; k < stats.size(); ++k)
            if (!stats[k].plot.empty()) writer->add_plot_point(stats[k].plot, stats[k].series, iteration, mean[k]);
      }

      bool last = iteration == max_it || summary.interrupted;
      if (tester && !summary.interrupted && (iteration % config.test.frequency == 0 || last)) {
        // A stop request (Ctrl-C) ends a long test after its current batch, not after the whole test.
        int64_t test_batches = 0;
        const int64_t tested_iteration = iteration;  // a structured binding cannot be captured in C++17
        const auto stop_test = [&options, tested_iteration, &test_batches] {
          if (options.after_test_batch) options.after_test_batch(tested_iteration, ++test_batches);
          return options.stop_requested != nullptr && options.stop_requested->load();
        };
        const AveragedWeights averaged(averages);
        const TestResult t =
            group ? shared_test(
                        *group, [&](const std::function<bool()>& stop) { return tester->run(*model, iteration, writer.get(), stop); },
                        stop_test)
                  : tester->run(*model, iteration, writer.get(), stop_test);
        if (t.stopped) {  // a partial test is no point of the curve; the run ends as interrupted
          summary.interrupted = true;
          summary.stop_reason = fmt::format("interrupted during the test of iteration {} after {} sample(s)", iteration,
                                            t.samples);
          writer->line(summary.stop_reason + "; writing a checkpoint and the manifest");
          writer->event("test", {{"iteration", iteration}, {"ssim", number(t.ssim)}, {"samples", t.samples},
                                 {"seconds", t.seconds}, {"images", t.files.size()}, {"stopped", true}});
          last = true;
        } else {
          summary.test_ssim = t.ssim;
          writer->add_plot_point("ssim", tester->plot_series(), iteration, t.ssim);
          writer->line(fmt::format("test at iteration {}: {} {:.4f} on {} sample(s) ({})", iteration,
                                   tester->ssim_name(), t.ssim, t.samples, format_duration(t.seconds)));
          writer->event("test", {{"iteration", iteration}, {"ssim", number(t.ssim)}, {"samples", t.samples},
                                 {"seconds", t.seconds}, {"images", t.files.size()}});
        }
        if (!t.stopped && config.test.target_ssim > 0 && t.ssim >= config.test.target_ssim && !last) {
          summary.stopped_early = true;
          summary.stop_reason = fmt::format("test {} {:.4f} reached test.target_ssim {} at iteration {} of {}",
                                            tester->ssim_name(), t.ssim, config.test.target_ssim, iteration, max_it);
          writer->line("early stop: " + summary.stop_reason + "; writing the final outputs");
          writer->event("early_stop", {{"iteration", iteration}, {"test_ssim", t.ssim},
                                       {"target_ssim", config.test.target_ssim}, {"reason", summary.stop_reason}});
          last = true;
        }
      }

      const int64_t rate = config.output.model_save_rate, onnx_rate = config.output.onnx_save_rate;
      const bool keep_saved = partial && iteration == saved_iteration;
      const bool save = !keep_saved && !config.output.model_path.empty() && (last || (rate > 0 && iteration % rate == 0));
      if (keep_saved) {
        writer->line(fmt::format("the checkpoint of iteration {} is already on disk and is kept; the steps of the "
                                 "interrupted iteration are not saved (--resume repeats it)",
                                 iteration));
      } else if (save && !lead) {  // rank 0 writes; the same weights are checked on every rank
        for (const NamedNetwork& net : networks) check_finite_weights(net, iteration);
        check_same_weights(*group, networks, iteration, *writer);
        if (!partial) saved_iteration = iteration;
      } else if (save) {
        for (const NamedNetwork& net : networks) check_finite_weights(net, iteration);
        if (group) check_same_weights(*group, networks, iteration, *writer);
        // The plot points (CSV) before the checkpoint, whatever plot.rate says: a run killed (kill -9)
        // later still has every point up to its newest checkpoint for --resume.
        writer->write_plot_points(iteration);
        std::vector<fs::path> weights;
        {
          const AveragedWeights averaged(averages);  // generators' X.pt: the average
          for (const NamedNetwork& net : networks) {
            CheckpointMeta meta;
            meta.network = net.network, meta.index = net.index, meta.iteration = iteration, meta.world_size = world;
            std::tie(meta.input_depth, meta.reference_depth) = data->depths(net.index);
            if (net.network == "generator" && static_cast<size_t>(net.index) < averages.size()) {
              const WeightAverage& a = averages[static_cast<size_t>(net.index)];
              meta.average_decay = a.decay(), meta.average_steps = a.steps();
            }
            weights.push_back(writer->save_checkpoint(*net.module, meta, partial ? kInterruptedLabel : ""));
            summary.checkpoints.push_back(weights.back());
          }
        }
        summary.final_generator = weights.front();
        summary.final_generators.clear();
        for (size_t k = 0; k < networks.size(); ++k)
          if (networks[k].network == "generator") summary.final_generators.push_back(weights[k]);
        if (!partial) saved_iteration = iteration;
        writer->save_training_state(
            training_state_files(weights, *model, optimizers, iteration, rng, device, &averages), iteration);
        // Every generator: an unpaired run saves generator_0 (A->B) and generator_1 (B->A).
        std::string saved;
        for (const fs::path& g : summary.final_generators) saved += (saved.empty() ? "" : ", ") + g.string();
        writer->line(fmt::format("checkpoint: {}", saved.empty() ? summary.final_generator.string() : saved));
        if (partial) writer->line(interrupted_checkpoint_note(iteration));
      }
      if (lead && !config.output.onnx_path.empty() && !summary.interrupted &&
          (last || (onnx_rate > 0 && iteration % onnx_rate == 0))) {
        std::vector<UnetGenerator> generators = model->exported_generators();
        const AveragedWeights averaged(averages);
        summary.final_onnx_files.clear();
        for (size_t k = 0; k < generators.size(); ++k) {
          check_finite_weights({"generator", static_cast<int64_t>(k), generators[k].ptr()}, iteration);
          const fs::path onnx = writer->save_onnx(*generators[k], static_cast<int64_t>(k), iteration);
          if (k == 0) summary.final_onnx = onnx;
          summary.final_onnx_files.push_back(onnx);
          writer->line(fmt::format("onnx: {}", onnx.string()));
        }
      }
      writer->write_plots_if_due(iteration, last, save);
      if (last) break;
    }
    summary.seconds = seconds_since(t0);
    RunEnd end;
    end.status = summary.interrupted ? "interrupted" : summary.stopped_early ? "stopped_early" : "finished";
    end.reason = summary.stop_reason, end.iterations = summary.iterations, end.seconds = summary.seconds;
    end.start_iteration = start_it;
    end.test_ssim = summary.test_ssim, end.skipped_steps = summary.skipped_steps;
    end.final_generator = summary.final_generator, end.final_onnx = summary.final_onnx;
    for (const StatisticInfo& s : stats)
      if (s.headline && summary.last.count(s.key))
        end.detail += fmt::format("; final {} {:.4f}", s.label, summary.last.at(s.key));
    writer->finish(end);
  } catch (const std::exception& e) {
    std::string what = e.what();
    const bool lost = dynamic_cast<const DistributedError*>(&e) != nullptr;
    // A new run that completed no iteration has no checkpoint: there is nothing to resume.
    const bool untrained = !options.resume && summary.iterations == 0;
    if (const size_t at = what.find(kLostPeerResumeAdvice); lost && untrained && at != std::string::npos)
      what.replace(at, std::string::npos,
                   "; nothing was trained, so there is no checkpoint to resume: start the run again");
    // A lost peer: name the run folder to resume.
    if (const size_t at = what.find("RUN_FOLDER"); lost && at != std::string::npos && !shared_run_dir.empty())
      what.replace(at, 10, shared_run_dir);
    // A user error (a corrupt file found while decoding, a bad first step) in a run that trained nothing:
    // the folder this run made holds nothing to keep, so it goes (rank 0's writer alone writes one).
    // An internal error keeps it (config.toml and train.log for the bug report).
    const Error* user_error = dynamic_cast<const Error*>(&e);
    const fs::path dir = writer ? writer->dir() : fs::path();
    if (writer && user_error != nullptr && untrained && writer->remove_untrained_folder()) {
      what += fmt::format("\n{} run folder '{}' was removed.",
                          what.find("nothing was trained") == std::string::npos ? "Nothing was trained; the" : "The",
                          dir.string());
      report_run_failure(events, nullptr, what, summary.iterations, summary.skipped_steps, /*run_dir_removed=*/true);
      rethrow_with_message(*user_error, what);
    }
    // The run's folder is ours once its writer exists: train.log ends with the error.
    if (writer)
      writer->fail(what, summary.iterations, summary.skipped_steps);
    else
      report_run_failure(events, nullptr, what, summary.iterations, summary.skipped_steps);
    if (lost) throw DistributedError(what);
    throw;
  }
  return summary;
}

}  // namespace img2img

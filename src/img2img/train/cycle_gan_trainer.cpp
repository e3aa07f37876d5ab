#include "img2img/train/cycle_gan_trainer.h"

#include <fmt/format.h>                      // fmt::format
#include <torch/csrc/autograd/grad_mode.h>  // torch::NoGradGuard
#include <torch/utils.h>                     // torch::manual_seed

#include <array>    // std::array
#include <chrono>   // std::chrono
#include <cmath>    // std::isfinite
#include <numeric>  // std::iota
#include <random>   // std::mt19937_64

#include "img2img/config/config_keys.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/core/path_template.h"
#include "img2img/core/runtime.h"
#include "img2img/data/augment.h"
#include "img2img/data/unpaired_dataset.h"
#include "img2img/export/onnx_export.h"
#include "img2img/metrics/ssim.h"
#include "img2img/train/checkpoint.h"
#include "img2img/train/cycle_gan_model.h"
#include "img2img/train/event_log.h"
#include "img2img/train/lr_schedule.h"
#include "img2img/train/model_tester.h"  // TestResult, TestImageFile
#include "img2img/train/non_finite.h"
#include "img2img/train/outputs_manifest.h"
#include "img2img/train/plot_writer.h"
#include "img2img/train/progress.h"
#include "img2img/train/run_outputs.h"
#include "img2img/train/training_state.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {
using Values = std::map<std::string, std::string>;
const char* const kDomain[2] = {"A", "B"};

nlohmann::json json_number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

void add_weighted(CycleStepStats& mean, const CycleStepStats& s, double w) {
  for (int k = 0; k < 2; ++k) {
    mean.g_gan[k] += s.g_gan[k] * w, mean.cycle[k] += s.cycle[k] * w, mean.identity[k] += s.identity[k] * w;
    mean.d_loss[k] += s.d_loss[k] * w, mean.score_real[k] += s.score_real[k] * w;
    mean.score_fake[k] += s.score_fake[k] * w;
  }
}

// Plots: loss = g_gan_K, cycle_K, identity_K, d_K; score = real_K, generated_K (K = network index).
void plot_cycle_iteration(PlotWriter& plots, int64_t it, const CycleStepStats& m) {
  for (int k = 0; k < 2; ++k) {
    const std::string i = std::to_string(k);
    plots.add("loss", "g_gan_" + i, it, m.g_gan[k]);
    plots.add("loss", "cycle_" + i, it, m.cycle[k]);
    plots.add("loss", "identity_" + i, it, m.identity[k]);
    plots.add("loss", "d_" + i, it, m.d_loss[k]);
    plots.add("score", "real_" + i, it, m.score_real[k]);
    plots.add("score", "generated_" + i, it, m.score_fake[k]);
  }
}

// The pix2pix-shaped summary of an iteration: means of both directions (g_l1 = mean cycle term,
// d_real = d_fake = mean discriminator loss); ssim is not measured on the training set.
StepStats summary_stats(const CycleStepStats& m) {
  StepStats s;
  s.g_gan = (m.g_gan[0] + m.g_gan[1]) / 2, s.g_l1 = (m.cycle[0] + m.cycle[1]) / 2;
  s.d_real = s.d_fake = (m.d_loss[0] + m.d_loss[1]) / 2;
  s.score_real = (m.score_real[0] + m.score_real[1]) / 2, s.score_fake = (m.score_fake[0] + m.score_fake[1]) / 2;
  s.ssim = std::nan("");
  return s;
}

// Four files per save: {network} x {index}. Generator k reads domain k and writes domain 1 - k.
void save_cycle_checkpoints(const RunConfig& config, CycleGanModel& model, int64_t iteration, const RunFolder& run,
                            const UnpairedDataset& data, OutputsManifest& manifest, TrainSummary& summary,
                            const std::string& label_suffix) {
  const PixelDepth depth[2] = {data.domain_a().depth, data.domain_b().depth};
  for (int k = 0; k < 2; ++k) {
    CheckpointMeta meta;
    meta.index = k, meta.iteration = iteration, meta.config_toml = run.config_toml;
    meta.input_depth = depth[k], meta.reference_depth = depth[1 - k];
    meta.network = "generator";
    const fs::path generator =
        save_listed_checkpoint(config, *model.generators[k], meta, run.values, manifest, label_suffix);
    if (k == 0) summary.final_generator = generator;
    summary.checkpoints.push_back(generator);
    meta.network = "discriminator";
    summary.checkpoints.push_back(
        save_listed_checkpoint(config, *model.discriminators[k], meta, run.values, manifest, label_suffix));
  }
}

// Both generators as ONNX ({index} 0 and 1); returns generator 0's file.
fs::path save_cycle_onnx(const RunConfig& config, CycleGanModel& model, int64_t iteration, const RunFolder& run,
                         OutputsManifest& manifest) {
  const fs::path first = save_listed_onnx(config, *model.generators[0], 0, iteration, run.values, manifest);
  save_listed_onnx(config, *model.generators[1], 1, iteration, run.values, manifest);
  return first;
}

// Unpaired test (spec test.*): each test image of domain k goes through generator k and back through
// generator 1 - k; SSIM(input, reconstruction) averaged over both domains. Writes
// <iteration>_<A|B>_<name>_{input,translated,reconstructed} when test.output_dir is set.
TestResult test_cycle(const RunConfig& config, const UnpairedDataset& test_set, CycleGanModel& model,
                      int64_t iteration, Values values, const torch::Device& device) {
  const auto t0 = std::chrono::steady_clock::now();
  TestResult result;
  result.iteration = iteration;
  fs::path out_dir;
  if (!config.test.output_dir.empty()) {
    values["iteration"] = format_iteration(iteration);
    out_dir = expand_template(config.test.output_dir, values);
  }
  for (auto& g : model.generators) g->eval();
  torch::NoGradGuard no_grad;
  double ssim_sum = 0;
  const ImageDomain* domains[2] = {&test_set.domain_a(), &test_set.domain_b()};
  const int64_t batch = std::max<int64_t>(1, config.test.batch_size);
  // test.size random images of each domain (all when 0), drawn per (train.seed, iteration, domain)
  // like the paired tester's, so a --resume continuation tests the same images.
  std::vector<int64_t> tested[2];
  // One loader pass: domain A's test batches, then B's (streamed test data is decoded ahead).
  std::vector<UnpairedBatch> batches;
  for (int k = 0; k < 2; ++k) {
    tested[k] = draw_test_samples(domains[k]->size(), config.test.size, config.train.seed, iteration,
                                  static_cast<uint32_t>(k));
    const auto n = static_cast<int64_t>(tested[k].size());
    for (int64_t begin = 0; begin < n; begin += batch) {
      UnpairedBatch b;
      std::vector<int64_t>& indices = k == 0 ? b.a : b.b;
      for (int64_t j = begin; j < std::min(n, begin + batch); ++j)
        indices.push_back(tested[k][static_cast<size_t>(j)]);
      batches.push_back(std::move(b));
    }
  }
  UnpairedLoader loader(test_set);
  loader.start(batches);
  for (int k = 0; k < 2; ++k) {
    const ImageDomain& d = *domains[k];
    const auto n = static_cast<int64_t>(tested[k].size());
    for (int64_t begin = 0; begin < n; begin += batch) {
      const int64_t end = std::min(n, begin + batch);
      const auto [loaded_a, loaded_b] = loader.next();
      const torch::Tensor input = (k == 0 ? loaded_a : loaded_b).to(device);              // [B, C, S, S]
      const torch::Tensor translated = model.generators[k](input);                         // other domain
      const torch::Tensor reconstructed = model.generators[1 - k](translated);             // back
      ssim_sum += ssim(signed_to_unit(reconstructed), signed_to_unit(input)).sum().item<double>();
      result.samples += end - begin;
      if (out_dir.empty()) continue;
      const PixelDepth depth_in = d.depth, depth_out = domains[1 - k]->depth;
      for (int64_t j = begin; j < end; ++j) {
        const int64_t i = tested[k][static_cast<size_t>(j)];  // index in the domain (sorted by name)
        const std::pair<const char*, std::pair<torch::Tensor, PixelDepth>> images[] = {
            {"input", {input[j - begin], depth_in}},
            {"translated", {translated[j - begin], depth_out}},
            {"reconstructed", {reconstructed[j - begin], depth_in}}};
        for (const auto& [role, image] : images) {
          const fs::path path =
              out_dir / fmt::format("{}_{}_{}_{}{}", format_iteration(iteration), kDomain[k],
                                    d.files[static_cast<size_t>(i)].stem().string(), role,
                                    image.second == PixelDepth::kFloat ? ".tif" : ".png");
          write_image(path, tensor_to_image(image.first), image.second);
          result.files.push_back({path, role, k == 0 ? i : domains[0]->size() + i});
        }
      }
    }
  }
  for (auto& g : model.generators) g->train();
  result.ssim = ssim_sum / std::max<double>(1.0, static_cast<double>(result.samples));
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  return result;
}

// The log line of an unpaired data set's storage mode, worded as train_pix2pix's.
std::string storage_description(const UnpairedDataset& d, const std::string& budget_key) {
  return describe_storage(d.storage_mode(), d.decoded_bytes(), d.budget_bytes(), d.worker_threads(), budget_key);
}
}  // namespace

TrainSummary train_cycle_gan(const RunConfig& config, const TrainOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const DataConfig& data = config.data;
  TrainSummary summary;
  EventLog events(options.events);
  std::unique_ptr<OutputsManifest> manifest;
  try {
    if (!is_unpaired(data.input_type))
      throw ConfigError("unpaired (CycleGAN) training needs data.input_type = multiple_unpaired (two unrelated "
                        "folders); paired input types train a paired (pix2pix) model.");
    const torch::Device device = resolve_device(config.device.device);
    configure_runtime(config.device);

    // --resume continues the earlier run's folder, plots and outputs.json as train_pix2pix does.
    const StartedRun started = start_run(config, options, events, manifest, summary);
    const RunFolder& run = started.run;
    ProgressReporter& progress = *started.progress;

    UnpairedDataset dataset(data, data.channel_count, data.image_size, data.limit_count);
    if (data.storage == Storage::kDevice) dataset.to(device);
    const int64_t na = dataset.domain_a().size(), nb = dataset.domain_b().size();
    progress.line(fmt::format("data (unpaired): domain A {} images ({}), domain B {} images ({}) at {} px, {} "
                              "channel(s)",
                              na, to_string(dataset.domain_a().depth), nb, to_string(dataset.domain_b().depth),
                              data.image_size, data.channel_count));
    progress.line("data storage: " + storage_description(dataset, "data.memory_budget_mb"));
    std::unique_ptr<UnpairedDataset> test_set;
    if (config.test.enabled) {
      test_set = std::make_unique<UnpairedDataset>(config.test, data.channel_count, data.image_size, 0);
      progress.line("test data storage: " + storage_description(*test_set, "test.memory_budget_mb"));
    }
    PlotWriter plots(summary.run_dir, config.plot);
    if (!run.resumed_from.empty()) {
      const int64_t points = plots.load_csv_history(run.resumed_from, run.resume_iteration);
      progress.line(fmt::format("{} run {} after iteration {}: kept its outputs.json entries and {} plot point(s) up "
                                "to there",
                                run.continued ? "continuing" : "resuming into a new folder from",
                                run.resumed_from.string(), run.resume_iteration, points));
    }

    torch::manual_seed(static_cast<uint64_t>(config.train.seed));
    std::mt19937_64 rng(static_cast<uint64_t>(config.train.seed));
    CycleGanModel model(config, device);
    // --resume: weights, optimisers, image pools and RNG states; the schedule follows the iteration.
    const int64_t start_it = options.resume ? restore_training_state(*options.resume, model, rng, device) : 0;
    if (options.resume)
      progress.line(fmt::format("resumed {} after iteration {}", options.resume->generator_weights.string(), start_it));
    progress.line(fmt::format("device: {}; 2 generators, 2 discriminators (unpaired)", device.str()));
    if (const std::string w = schedule_warning(config.train); !w.empty()) progress.line("warning: " + w);
    if (const std::string w = optimizer_warning(config.train); !w.empty()) progress.line("warning: " + w);
    if (const std::string w = cpu_threads_warning(config.device); !w.empty()) progress.line("warning: " + w);
    if (const std::string w = batch_size_warning(data.batch_size, std::max(na, nb), "images of the larger domain");
        !w.empty())
      progress.line("warning: " + w);

    // An iteration covers the larger domain in (shuffled) order; the other is drawn at random
    // (draw_unpaired_pass, all of an iteration's draws before its first image is loaded).
    const int64_t n = std::max(na, nb), batch = data.batch_size;
    const int64_t steps_per_it = (n + batch - 1) / batch, max_it = config.train.max_iterations;
    events.emit("run_start", {{"run_dir", fs::absolute(summary.run_dir).string()},
                              {"outputs_manifest", manifest->path().string()},
                              {"log", fs::absolute(summary.run_dir / "train.log").string()},
                              {"max_iterations", max_it},
                              {"device", device.str()},
                              {"train_samples", n},
                              {"train_samples_per_domain", {na, nb}},
                              {"test_samples", test_set ? test_set->domain_a().size() + test_set->domain_b().size() : 0},
                              {"data_storage", dataset.storage_mode()},
                              {"test_storage", test_set ? test_set->storage_mode() : std::string()},
                              {"image_size", data.image_size},
                              {"channel_count", data.channel_count},
                              {"model", "cycle_gan"}});
    UnpairedLoader loader(dataset);
    NanGuard nan_guard(config.train);
    // Iteration whose complete checkpoint is on disk in this run folder: the one this run wrote last,
    // or, continuing in place, the one it resumed from. A Ctrl-C inside the next iteration keeps it
    // untouched; without one, the partial weights get kInterruptedLabel (never a completed label).
    int64_t saved_iteration = run.continued ? start_it : -1;
    // Until this run completes an iteration it stands at the resumed one (outputs.json, run_end, the
    // done line), and its newest model is the checkpoint it resumed from when that stays in place.
    summary.iterations = start_it;
    if (run.continued && options.resume) summary.final_generator = options.resume->generator_weights;
    // A stop requested during setup (Ctrl-C before the first step) trains and saves nothing.
    stop_before_first_step(options, start_it, summary, progress);
    for (int64_t it = start_it; it < max_it && !summary.nothing_trained; ++it) {
      const double lr = scheduled_learning_rate(config.train, it);
      set_learning_rate(*model.generator_optimizer, lr);
      set_learning_rate(*model.discriminator_optimizer, lr);
      const std::vector<UnpairedBatch> pass = draw_unpaired_pass(na, nb, data, rng);
      loader.start(pass);
      CycleStepStats sum;  // batch means x batch sizes of the batches used
      const auto it_start = Clock::now();
      int64_t steps_done = 0, used = 0, skipped_steps = 0;
      for (int64_t step = 0; step < steps_per_it; ++step) {
        const int64_t begin = step * batch, end = std::min(n, begin + batch), count = end - begin;
        std::pair<torch::Tensor, torch::Tensor> loaded;
        try {
          loaded = loader.next();
        } catch (const DataError& e) {
          throw DataError(fmt::format("iteration {}, step {}: {}", it + 1, step + 1, e.what()));
        }
        // The A and B images of a batch position are unrelated: each has its own augmentation draw.
        const UnpairedBatch& drawn = pass[static_cast<size_t>(step)];
        torch::Tensor a = loaded.first.to(device), b = loaded.second.to(device);
        if (drawn.augment_a) a = apply_augmentation(a, *drawn.augment_a, data);
        if (drawn.augment_b) b = apply_augmentation(b, *drawn.augment_b, data);
        CycleStepStats s;
        const std::string skipped = nan_guard.run(
            {model.generators[0].get(), model.generators[1].get(), model.discriminators[0].get(),
             model.discriminators[1].get()},
            it + 1, step + 1, [&] { s = model.train_step(a, b); });
        if (!skipped.empty()) {  // train.nan_policy = skip: this batch changed nothing
          progress.line("warning: " + skipped);
          events.emit("warning", {{"iteration", it + 1}, {"step", step + 1}, {"message", skipped}});
          ++skipped_steps;
          summary.skipped_steps = nan_guard.skipped();
          steps_done = step + 1;
          continue;
        }
        add_weighted(sum, s, static_cast<double>(count));
        used += count;
        progress.status(fmt::format("iteration {}/{} step {}/{}  cycle {:.3f} {:.3f}", it + 1, max_it, step + 1,
                                    steps_per_it, s.cycle[0], s.cycle[1]));
        steps_done = step + 1;
        if (options.after_step) options.after_step(it + 1, step + 1);
        if (options.stop_requested != nullptr && options.stop_requested->load()) {
          summary.interrupted = true;
          break;
        }
      }
      const auto [partial, iteration] =
          end_iteration(summary.interrupted, it, steps_done, steps_per_it, summary.stop_reason, progress);
      if (!partial) {
        const double it_seconds = std::chrono::duration<double>(Clock::now() - it_start).count();
        // Means over the samples of the batches used (none skipped: all); NaN when all were skipped.
        CycleStepStats mean;
        add_weighted(mean, sum, used_samples_factor(used));
        if (used > 0) summary.last = summary_stats(mean);
        summary.iterations = iteration;
        if (used == 0)
          progress.line(fmt::format("iteration {}/{}  lr {:.3g}  losses skipped: all {} step(s) had non-finite losses "
                                    "(train.nan_policy = skip)  ({:.1f} s)",
                                    iteration, max_it, lr, steps_per_it, it_seconds));
        else
          progress.line(fmt::format("iteration {}/{}  lr {:.3g}  G_GAN {:.4f} {:.4f}  cycle {:.4f} {:.4f}  identity "
                                    "{:.4f} {:.4f}  D {:.4f} {:.4f}  ({:.1f} s){}",
                                    iteration, max_it, lr, mean.g_gan[0], mean.g_gan[1], mean.cycle[0], mean.cycle[1],
                                    mean.identity[0], mean.identity[1], mean.d_loss[0], mean.d_loss[1], it_seconds,
                                    skipped_steps > 0 ? fmt::format("  ({} of {} step(s) skipped)", skipped_steps,
                                                                    steps_per_it)
                                                      : ""));
        events.emit("iteration", {{"iteration", iteration},
                                  {"max_iterations", max_it},
                                  {"lr", lr},
                                  {"g_gan", {json_number(mean.g_gan[0]), json_number(mean.g_gan[1])}},
                                  {"cycle", {json_number(mean.cycle[0]), json_number(mean.cycle[1])}},
                                  {"identity", {json_number(mean.identity[0]), json_number(mean.identity[1])}},
                                  {"d_loss", {json_number(mean.d_loss[0]), json_number(mean.d_loss[1])}},
                                  {"score_real", {json_number(mean.score_real[0]), json_number(mean.score_real[1])}},
                                  {"score_fake", {json_number(mean.score_fake[0]), json_number(mean.score_fake[1])}},
                                  {"seconds", it_seconds},
                                  {"skipped_steps", skipped_steps}});
        if (used > 0) plot_cycle_iteration(plots, iteration, mean);  // no made-up points for a fully skipped one
      }

      bool last = iteration == max_it || summary.interrupted;
      if (test_set && !summary.interrupted && (iteration % config.test.frequency == 0 || last)) {
        const TestResult t = test_cycle(config, *test_set, model, iteration, run.values, device);
        summary.test_ssim = t.ssim;
        plots.add("ssim", "test_cycle", iteration, t.ssim);
        progress.line(fmt::format("test at iteration {}: cycle SSIM {:.4f} on {} image(s)", iteration, t.ssim,
                                  t.samples));
        events.emit("test", {{"iteration", iteration}, {"ssim", json_number(t.ssim)}, {"samples", t.samples},
                             {"seconds", t.seconds}, {"images", t.files.size()}});
        for (const TestImageFile& f : t.files) manifest->add("test_image", f.path, f.role, f.sample, iteration);
        if (config.test.target_ssim > 0 && t.ssim >= config.test.target_ssim && !last) {
          summary.stopped_early = true;
          summary.stop_reason = fmt::format("test cycle SSIM {:.4f} reached test.target_ssim {} at iteration {}",
                                            t.ssim, config.test.target_ssim, iteration);
          progress.line("early stop: " + summary.stop_reason);
          events.emit("early_stop", {{"iteration", iteration}, {"test_ssim", t.ssim},
                                     {"target_ssim", config.test.target_ssim}, {"reason", summary.stop_reason}});
          last = true;
        }
      }
      const int64_t rate = config.output.model_save_rate, onnx_rate = config.output.onnx_save_rate;
      const bool keep_saved = partial && iteration == saved_iteration;
      const bool save = !keep_saved && !config.output.model_path.empty() && (last || (rate > 0 && iteration % rate == 0));
      if (keep_saved)
        progress.line(fmt::format("the checkpoint of iteration {} is already on disk and is kept; the steps of the "
                                  "interrupted iteration are not saved (--resume repeats it)",
                                  iteration));
      else if (save) {
        // The plot points (CSV) before the checkpoint, whatever plot.rate says: a run killed (kill -9)
        // later still has every point up to its newest checkpoint for --resume.
        for (const PlotFile& f : plots.write_points()) manifest->add("plot", f.path, f.plot, 0, iteration);
        save_cycle_checkpoints(config, model, iteration, run, dataset, *manifest, summary,
                               partial ? kInterruptedLabel : "");
        if (!partial) saved_iteration = iteration;
        const auto& c = summary.checkpoints;  // G0, D0, G1, D1 of this save
        const std::array<fs::path, 4> saved{c.end()[-4], c.end()[-3], c.end()[-2], c.end()[-1]};
        const std::vector<fs::path> states = save_cycle_training_state(saved, model, iteration, rng, device);
        const std::pair<const char*, int64_t> owners[3] = {{"generator", 0}, {"discriminator", 0}, {"discriminator", 1}};
        for (size_t i = 0; i < states.size(); ++i)
          manifest->add("checkpoint_state", states[i], owners[i].first, owners[i].second, iteration);
        progress.line(fmt::format("checkpoint: {}", summary.final_generator.string()));
        if (partial) progress.line(interrupted_checkpoint_note(iteration));
      }
      if (!config.output.onnx_path.empty() && !summary.interrupted &&
          (last || (onnx_rate > 0 && iteration % onnx_rate == 0)))
        summary.final_onnx = save_cycle_onnx(config, model, iteration, run, *manifest);
      for (const PlotFile& f : plots.write_if_due(iteration, last, save))
        manifest->add("plot", f.path, f.plot, 0, iteration);
      if (last) break;
    }
    summary.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    finish_run(summary, *manifest, events, progress);
  } catch (const std::exception& e) {
    // The run's folder is ours once its manifest exists; its log's reporter is gone with the try block.
    if (manifest) append_log_line((summary.run_dir / "train.log").string(), std::string("error: ") + e.what());
    report_run_failure(events, manifest.get(), e.what(), summary.iterations, summary.skipped_steps);
    throw;
  }
  return summary;
}

}  // namespace img2img

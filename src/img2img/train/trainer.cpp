#include "img2img/train/trainer.h"

#include <fmt/format.h>  // fmt::format
#include <torch/utils.h> // torch::manual_seed

#include <chrono>   // std::chrono
#include <cmath>    // std::isfinite
#include <ctime>    // std::localtime
#include <numeric>  // std::iota
#include <optional> // std::optional
#include <random>   // std::mt19937_64

#include "img2img/config/config_keys.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/core/path_template.h"
#include "img2img/core/runtime.h"
#include "img2img/data/augment.h"
#include "img2img/data/paired_dataset.h"
#include "img2img/train/checkpoint.h"
#include "img2img/train/event_log.h"
#include "img2img/train/lr_schedule.h"
#include "img2img/train/model_tester.h"
#include "img2img/train/non_finite.h"
#include "img2img/export/onnx_export.h"
#include "img2img/train/outputs_manifest.h"
#include "img2img/train/run_outputs.h"
#include "img2img/train/plot_writer.h"
#include "img2img/train/progress.h"
#include "img2img/train/training_state.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {
int64_t parameter_count(torch::nn::Module& module) {
  int64_t n = 0;
  for (const auto& p : module.parameters()) n += p.numel();
  return n;
}

// JSON null for NaN / inf (a diverged loss or an SSIM on images below the window).
nlohmann::json number(double v) { return std::isfinite(v) ? nlohmann::json(v) : nlohmann::json(nullptr); }

// The mean stats of an iteration from `sum` (batch means x batch sizes) over the `used` samples of
// the batches not dropped by train.nan_policy = skip; all NaN when every batch was dropped.
StepStats iteration_mean(const StepStats& sum, int64_t used) {
  const double f = used_samples_factor(used);
  return {sum.g_gan * f, sum.g_l1 * f, sum.d_real * f, sum.d_fake * f, sum.score_real * f, sum.score_fake * f,
          sum.ssim * f};
}

// Feeds one iteration's mean stats to the loss, score and train-SSIM plots.
void plot_iteration(PlotWriter& plots, int64_t iteration, const StepStats& m) {
  plots.add("ssim", "train", iteration, m.ssim);
  plots.add("loss", "g_gan", iteration, m.g_gan);
  plots.add("loss", "g_l1", iteration, m.g_l1);
  plots.add("loss", "d_real", iteration, m.d_real);
  plots.add("loss", "d_fake", iteration, m.d_fake);
  plots.add("score", "real", iteration, m.score_real);
  plots.add("score", "generated", iteration, m.score_fake);
}

// The log line of a data set's storage mode: what was chosen and why (`budget_key` sets the budget).
std::string storage_description(const PairedDataset& d, const std::string& budget_key) {
  return describe_storage(d.storage_mode(), d.decoded_bytes(), d.budget_bytes(), d.worker_threads(), budget_key);
}

// Throws (before anything is saved) if a weight or buffer of `module` is NaN/inf, so a diverged
// model never overwrites or adds to the good checkpoints.
void check_finite_weights(const torch::nn::Module& module, const char* network, int64_t iteration) {
  torch::NoGradGuard no_grad;
  auto check = [&](const std::string& name, const torch::Tensor& t) {
    if (t.is_floating_point() && !torch::isfinite(t).all().item<bool>())
      throw Error(fmt::format("iteration {}: the {} weights became NaN/inf ('{}'); training diverged. Nothing was "
                              "saved for this iteration: the checkpoints already written are the last good ones. "
                              "Lower train.learning_rate or check float images for extreme values.",
                              iteration, network, name));
  };
  for (const auto& p : module.named_parameters(/*recurse=*/true)) check(p.key(), p.value());
  for (const auto& b : module.named_buffers(/*recurse=*/true)) check(b.key(), b.value());
}

// Saves generator and discriminator at output.model_path, listed in the manifest.
void save_checkpoints(const RunConfig& config, Pix2PixModel& model, int64_t iteration, const RunFolder& run,
                      const PairedDataset& dataset, OutputsManifest& manifest, TrainSummary& summary,
                      const std::string& label_suffix) {
  CheckpointMeta meta;
  meta.iteration = iteration;
  meta.config_toml = run.config_toml;
  meta.input_depth = dataset.input_depth();
  meta.reference_depth = dataset.reference_depth();
  meta.network = "generator";
  summary.final_generator = save_listed_checkpoint(config, *model.generator, meta, run.values, manifest, label_suffix);
  summary.checkpoints.push_back(summary.final_generator);
  meta.network = "discriminator";
  summary.checkpoints.push_back(
      save_listed_checkpoint(config, *model.discriminator, meta, run.values, manifest, label_suffix));
}
}  // namespace

fs::path make_run_dir_path(const RunConfig& config) {
  return fs::path(expand_template(config.output.run_dir, date_time_template_values()));
}

TrainSummary train_pix2pix(const RunConfig& config, const TrainOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const DataConfig& data = config.data;
  TrainSummary summary;
  EventLog events(options.events);
  std::unique_ptr<OutputsManifest> manifest;
  try {
    const torch::Device device = resolve_device(config.device.device);
    configure_runtime(config.device);

    const StartedRun started = start_run(config, options, events, manifest, summary);
    const RunFolder& run = started.run;
    ProgressReporter& progress = *started.progress;

    PairedDataset dataset(data, data.channel_count, data.image_size, data.limit_count);
    if (data.storage == Storage::kDevice) dataset.to(device);
    progress.line(fmt::format("data: {} pairs at {} px, {} channel(s); input {}, reference {}{}", dataset.size(),
                              data.image_size, data.channel_count, to_string(dataset.input_depth()),
                              to_string(dataset.reference_depth()),
                              dataset.ignored_files() ? fmt::format("; {} non-image/hidden files ignored",
                                                                    dataset.ignored_files())
                                                      : ""));
    progress.line("data storage: " + storage_description(dataset, "data.memory_budget_mb"));
    std::optional<ModelTester> tester;
    if (config.test.enabled) {
      tester.emplace(config, device);
      progress.line("test data storage: " + storage_description(tester->dataset(), "test.memory_budget_mb"));
      progress.line(fmt::format("test data: {} pairs; testing {} every {} iteration(s){}", tester->dataset().size(),
                                config.test.size > 0 ? fmt::format("{} random samples", config.test.size) : "all",
                                config.test.frequency,
                                config.test.target_ssim > 0
                                    ? fmt::format(", stopping once SSIM >= {}", config.test.target_ssim)
                                    : ""));
    }
    PlotWriter plots(summary.run_dir, config.plot);
    if (!run.resumed_from.empty()) {
      const int64_t points = plots.load_csv_history(run.resumed_from, run.resume_iteration);
      progress.line(fmt::format("{} run {} after iteration {}: kept its outputs.json entries and {} plot point(s) up "
                                "to there",
                                run.continued ? "continuing" : "resuming into a new folder from", run.resumed_from.string(),
                                run.resume_iteration, points));
    }

    torch::manual_seed(static_cast<uint64_t>(config.train.seed));
    std::mt19937_64 rng(static_cast<uint64_t>(config.train.seed));
    Pix2PixModel model(config, device);
    // --resume: weights, optimiser and RNG states of the checkpoint; the schedule follows the iteration.
    const int64_t start_it = options.resume ? restore_training_state(*options.resume, model, rng, device) : 0;
    if (options.resume)
      progress.line(fmt::format("resumed {} after iteration {}", options.resume->generator_weights.string(), start_it));
    model.generator->train();
    model.discriminator->train();
    progress.line(fmt::format("device: {}, {} CPU threads; generator {} parameters, discriminator {}", device.str(),
                              at::get_num_threads(), parameter_count(*model.generator),
                              parameter_count(*model.discriminator)));
    if (const std::string w = schedule_warning(config.train); !w.empty()) progress.line("warning: " + w);
    if (const std::string w = optimizer_warning(config.train); !w.empty()) progress.line("warning: " + w);
    if (const std::string w = cpu_threads_warning(config.device); !w.empty()) progress.line("warning: " + w);
    if (const std::string w = batch_size_warning(data.batch_size, dataset.size(), "training pairs"); !w.empty())
      progress.line("warning: " + w);

    const int64_t n = dataset.size(), batch = data.batch_size;
    const int64_t steps_per_it = (n + batch - 1) / batch;
    const int64_t max_it = config.train.max_iterations;
    events.emit("run_start", {{"run_dir", fs::absolute(summary.run_dir).string()},
                              {"outputs_manifest", manifest->path().string()},
                              {"log", fs::absolute(summary.run_dir / "train.log").string()},
                              {"max_iterations", max_it},
                              {"device", device.str()},
                              {"train_samples", n},
                              {"test_samples", tester ? tester->dataset().size() : 0},
                              {"data_storage", dataset.storage_mode()},
                              {"test_storage", tester ? tester->dataset().storage_mode() : std::string()},
                              {"image_size", data.image_size},
                              {"channel_count", data.channel_count}});
    std::vector<int64_t> order(static_cast<size_t>(n));
    std::iota(order.begin(), order.end(), 0);
    NanGuard nan_guard(config.train);
    PairedLoader loader(dataset);

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
      if (data.shuffle) {  // a fresh permutation of 0..n-1: the order depends only on the RNG (resume)
        std::iota(order.begin(), order.end(), 0);
        std::shuffle(order.begin(), order.end(), rng);
      }
      StepStats sum;  // batch means x batch sizes of the batches used
      const auto it_start = Clock::now();
      int64_t steps_done = 0, used = 0, skipped_steps = 0;
      loader.start(order, batch);
      for (int64_t step = 0; step < steps_per_it; ++step) {
        const int64_t begin = step * batch, end = std::min(n, begin + batch);
        std::pair<torch::Tensor, torch::Tensor> loaded;
        try {
          loaded = loader.next();
        } catch (const DataError& e) {
          throw DataError(fmt::format("iteration {}, step {}: {}", it + 1, step + 1, e.what()));
        }
        auto [a, b] = augment_pair(loaded.first.to(device), loaded.second.to(device), data, rng);
        StepStats s;
        const std::string skipped = nan_guard.run({model.generator.get(), model.discriminator.get()}, it + 1,
                                                  step + 1, [&] { s = model.train_step(a, b); });
        if (!skipped.empty()) {  // train.nan_policy = skip: this batch changed nothing
          progress.line("warning: " + skipped);
          events.emit("warning", {{"iteration", it + 1}, {"step", step + 1}, {"message", skipped}});
          ++skipped_steps;
          summary.skipped_steps = nan_guard.skipped();
          steps_done = step + 1;
          continue;
        }
        const double w = static_cast<double>(end - begin);
        used += end - begin;
        sum.g_gan += s.g_gan * w, sum.g_l1 += s.g_l1 * w, sum.d_real += s.d_real * w, sum.d_fake += s.d_fake * w;
        sum.score_real += s.score_real * w, sum.score_fake += s.score_fake * w, sum.ssim += s.ssim * w;
        const double el = std::chrono::duration<double>(Clock::now() - it_start).count();
        const double rate = static_cast<double>(end) / std::max(el, 1e-9);
        const double remaining = (static_cast<double>(max_it - it) * n - end) / std::max(rate, 1e-9);
        progress.status(fmt::format("iteration {}/{} step {}/{}  G_GAN {:.3f} G_L1 {:.3f} D_real {:.3f} D_fake {:.3f}  "
                                    "{:.1f} img/s  ETA {}",
                                    it + 1, max_it, step + 1, steps_per_it, s.g_gan, s.g_l1, s.d_real, s.d_fake, rate,
                                    format_duration(remaining)));
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
        const double images_per_s = static_cast<double>(n) / std::max(it_seconds, 1e-9);
        const StepStats mean = iteration_mean(sum, used);
        if (used > 0) summary.last = mean;
        summary.iterations = iteration;
        const double eta = it_seconds * static_cast<double>(max_it - iteration);
        const std::string skips =
            skipped_steps > 0 ? fmt::format("  ({} of {} step(s) skipped)", skipped_steps, steps_per_it) : "";
        if (used == 0)
          progress.line(fmt::format("iteration {}/{}  lr {:.3g}  losses skipped: all {} step(s) had non-finite losses "
                                    "(train.nan_policy = skip)  ETA {}",
                                    iteration, max_it, lr, steps_per_it, format_duration(eta)));
        else
          progress.line(fmt::format("iteration {}/{}  lr {:.3g}  G_GAN {:.4f}  G_L1 {:.4f}  D_real {:.4f}  D_fake {:.4f}  "
                                    "D(real) {:.3f}  D(fake) {:.3f}  SSIM {:.4f}  {:.1f} img/s  ETA {}{}",
                                    iteration, max_it, lr, mean.g_gan, mean.g_l1, mean.d_real, mean.d_fake,
                                    mean.score_real, mean.score_fake, mean.ssim, images_per_s, format_duration(eta),
                                    skips));
        events.emit("iteration", {{"iteration", iteration},     {"max_iterations", max_it},
                                  {"lr", lr},                   {"g_gan", number(mean.g_gan)},
                                  {"g_l1", number(mean.g_l1)},  {"d_real", number(mean.d_real)},
                                  {"d_fake", number(mean.d_fake)}, {"score_real", number(mean.score_real)},
                                  {"score_fake", number(mean.score_fake)}, {"train_ssim", number(mean.ssim)},
                                  {"images_per_s", images_per_s}, {"seconds", it_seconds},
                                  {"eta_s", eta}, {"skipped_steps", skipped_steps}});
        if (used > 0) plot_iteration(plots, iteration, mean);  // no made-up points for a fully skipped one
      }

      bool last = iteration == max_it || summary.interrupted;
      if (tester && !summary.interrupted && (iteration % config.test.frequency == 0 || last)) {
        const TestResult t = tester->run(model.generator, iteration, run.values);
        summary.test_ssim = t.ssim;
        plots.add("ssim", "test", iteration, t.ssim);
        progress.line(fmt::format("test at iteration {}: SSIM {:.4f} on {} sample(s) ({})", iteration, t.ssim,
                                  t.samples, format_duration(t.seconds)));
        events.emit("test", {{"iteration", iteration}, {"ssim", number(t.ssim)}, {"samples", t.samples},
                             {"seconds", t.seconds}, {"images", t.files.size()}});
        for (const TestImageFile& f : t.files) manifest->add("test_image", f.path, f.role, f.sample, iteration);
        if (config.test.target_ssim > 0 && t.ssim >= config.test.target_ssim && !last) {
          summary.stopped_early = true;
          summary.stop_reason = fmt::format("test SSIM {:.4f} reached test.target_ssim {} at iteration {} of {}",
                                            t.ssim, config.test.target_ssim, iteration, max_it);
          progress.line("early stop: " + summary.stop_reason + "; writing the final outputs");
          events.emit("early_stop", {{"iteration", iteration}, {"test_ssim", t.ssim},
                                     {"target_ssim", config.test.target_ssim}, {"reason", summary.stop_reason}});
          last = true;
        }
      }

      const int64_t rate = config.output.model_save_rate;
      const bool keep_saved = partial && iteration == saved_iteration;
      const bool save = !keep_saved && !config.output.model_path.empty() && (last || (rate > 0 && iteration % rate == 0));
      if (keep_saved)
        progress.line(fmt::format("the checkpoint of iteration {} is already on disk and is kept; the steps of the "
                                  "interrupted iteration are not saved (--resume repeats it)",
                                  iteration));
      else if (save) {
        check_finite_weights(*model.generator, "generator", iteration);
        check_finite_weights(*model.discriminator, "discriminator", iteration);
        // The plot points (CSV) before the checkpoint, whatever plot.rate says: a run killed (kill -9)
        // later still has every point up to its newest checkpoint for --resume.
        for (const PlotFile& f : plots.write_points()) manifest->add("plot", f.path, f.plot, 0, iteration);
        save_checkpoints(config, model, iteration, run, dataset, *manifest, summary, partial ? kInterruptedLabel : "");
        if (!partial) saved_iteration = iteration;
        save_training_state(summary.checkpoints.end()[-2], summary.checkpoints.back(), model, iteration, rng, device);
        for (const auto& [weights, network] : {std::pair{summary.checkpoints.end()[-2], "generator"},
                                               std::pair{summary.checkpoints.back(), "discriminator"}})
          manifest->add("checkpoint_state", training_state_path(weights), network, 0, iteration);
        progress.line(fmt::format("checkpoint: {}", summary.final_generator.string()));
        if (partial) progress.line(interrupted_checkpoint_note(iteration));
      }
      const int64_t onnx_rate = config.output.onnx_save_rate;
      if (!config.output.onnx_path.empty() && !summary.interrupted &&
          (last || (onnx_rate > 0 && iteration % onnx_rate == 0))) {
        check_finite_weights(*model.generator, "generator", iteration);
        summary.final_onnx = save_listed_onnx(config, *model.generator, 0, iteration, run.values, *manifest);
        progress.line(fmt::format("onnx: {}", summary.final_onnx.string()));
      }
      for (const PlotFile& f : plots.write_if_due(iteration, last, save))
        manifest->add("plot", f.path, f.plot, 0, iteration);
      if (last) break;
    }
    summary.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
    finish_run(summary, *manifest, events, progress, fmt::format("; final G_L1 {:.4f}", summary.last.g_l1));
  } catch (const std::exception& e) {
    // The run's folder is ours once its manifest exists; its log's reporter is gone with the try block.
    if (manifest) append_log_line((summary.run_dir / "train.log").string(), std::string("error: ") + e.what());
    report_run_failure(events, manifest.get(), e.what(), summary.iterations, summary.skipped_steps);
    throw;
  }
  return summary;
}

}  // namespace img2img

#include "img2img/train/trainer.h"

#include <fmt/format.h>  // fmt::format
#include <torch/utils.h> // torch::manual_seed

#include <chrono>   // std::chrono
#include <ctime>    // std::localtime
#include <numeric>  // std::iota
#include <random>   // std::mt19937_64

#include "img2img/config/config_keys.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/core/path_template.h"
#include "img2img/core/runtime.h"
#include "img2img/data/augment.h"
#include "img2img/data/paired_dataset.h"
#include "img2img/train/checkpoint.h"
#include "img2img/train/lr_schedule.h"
#include "img2img/train/progress.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {
std::map<std::string, std::string> date_time_values() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  localtime_r(&now, &tm);
  char date[16], time[16];
  std::strftime(date, sizeof date, "%Y-%m-%d", &tm);
  std::strftime(time, sizeof time, "%H%M%S", &tm);
  return {{"date", date}, {"time", time}};
}
}  // namespace

fs::path make_run_dir_path(const RunConfig& config) {
  return fs::path(expand_template(config.output.run_dir, date_time_values()));
}

TrainSummary train_pix2pix(const RunConfig& config, const TrainOptions& options) {
  using Clock = std::chrono::steady_clock;
  const auto t0 = Clock::now();
  const DataConfig& data = config.data;
  TrainSummary summary;

  const torch::Device device = resolve_device(config.device.device);
  configure_runtime(config.device);

  auto values = date_time_values();
  summary.run_dir = fs::path(expand_template(config.output.run_dir, values));
  const std::string config_toml = config_to_toml(config);
  write_file_atomic(summary.run_dir / "config.toml", config_toml);
  ProgressReporter progress((summary.run_dir / "train.log").string(), options.interactive);
  progress.line(fmt::format("run folder: {}", summary.run_dir.string()));

  PairedDataset dataset(data, data.channel_count, data.image_size, data.limit_count);
  if (data.storage == Storage::kDevice) dataset.to(device);
  progress.line(fmt::format("data: {} pairs at {} px, {} channel(s); input {}, reference {}{}", dataset.size(),
                            data.image_size, data.channel_count, to_string(dataset.input_depth()),
                            to_string(dataset.reference_depth()),
                            dataset.ignored_files() ? fmt::format("; {} non-image/hidden files ignored",
                                                                  dataset.ignored_files())
                                                    : ""));

  torch::manual_seed(static_cast<uint64_t>(config.train.seed));
  std::mt19937_64 rng(static_cast<uint64_t>(config.train.seed));
  Pix2PixModel model(config, device);
  model.generator->train();
  model.discriminator->train();
  progress.line(fmt::format("device: {}, {} CPU threads; generator {} parameters, discriminator {}",
                            device.str(), at::get_num_threads(),
                            [&] { int64_t n = 0; for (auto& p : model.generator->parameters()) n += p.numel(); return n; }(),
                            [&] { int64_t n = 0; for (auto& p : model.discriminator->parameters()) n += p.numel(); return n; }()));

  const int64_t n = dataset.size(), batch = data.batch_size;
  const int64_t steps_per_it = (n + batch - 1) / batch;
  const int64_t max_it = config.train.max_iterations;
  std::vector<int64_t> order(static_cast<size_t>(n));
  std::iota(order.begin(), order.end(), 0);
  double images_per_s = 0;

  for (int64_t it = 0; it < max_it; ++it) {
    const double lr = scheduled_learning_rate(config.train, it);
    set_learning_rate(*model.generator_optimizer, lr);
    set_learning_rate(*model.discriminator_optimizer, lr);
    if (data.shuffle) std::shuffle(order.begin(), order.end(), rng);
    StepStats mean;
    const auto it_start = Clock::now();
    for (int64_t step = 0; step < steps_per_it; ++step) {
      const int64_t begin = step * batch, end = std::min(n, begin + batch);
      const torch::Tensor idx = torch::from_blob(order.data() + begin, {end - begin}, torch::kInt64)
                                    .clone()
                                    .to(dataset.inputs().device());
      auto [a, b] = augment_pair(dataset.inputs().index_select(0, idx).to(device),
                                 dataset.references().index_select(0, idx).to(device), data, rng);
      StepStats s;
      try {
        s = model.train_step(a, b);
      } catch (const Error& e) {
        throw Error(fmt::format("iteration {}, step {}: {}", it + 1, step + 1, e.what()));
      }
      const double w = static_cast<double>(end - begin) / n;
      mean.g_gan += s.g_gan * w, mean.g_l1 += s.g_l1 * w, mean.d_real += s.d_real * w, mean.d_fake += s.d_fake * w;
      mean.score_real += s.score_real * w, mean.score_fake += s.score_fake * w;
      const double el = std::chrono::duration<double>(Clock::now() - it_start).count();
      const double rate = static_cast<double>(end) / std::max(el, 1e-9);
      const double remaining = (static_cast<double>(max_it - it) * n - end) / std::max(rate, 1e-9);
      progress.status(fmt::format("iteration {}/{} step {}/{}  G_GAN {:.3f} G_L1 {:.3f} D_real {:.3f} D_fake {:.3f}  "
                                  "{:.1f} img/s  ETA {}",
                                  it + 1, max_it, step + 1, steps_per_it, s.g_gan, s.g_l1, s.d_real, s.d_fake, rate,
                                  format_duration(remaining)));
    }
    const double it_seconds = std::chrono::duration<double>(Clock::now() - it_start).count();
    images_per_s = static_cast<double>(n) / std::max(it_seconds, 1e-9);
    summary.last = mean;
    summary.iterations = it + 1;
    const double eta = it_seconds * static_cast<double>(max_it - it - 1);
    progress.line(fmt::format("iteration {}/{}  lr {:.3g}  G_GAN {:.4f}  G_L1 {:.4f}  D_real {:.4f}  D_fake {:.4f}  "
                              "D(real) {:.3f}  D(fake) {:.3f}  {:.1f} img/s  ETA {}",
                              it + 1, max_it, lr, mean.g_gan, mean.g_l1, mean.d_real, mean.d_fake, mean.score_real,
                              mean.score_fake, images_per_s, format_duration(eta)));

    const bool last = it + 1 == max_it;
    const int64_t rate = config.output.model_save_rate;
    if (!config.output.model_path.empty() && (last || (rate > 0 && (it + 1) % rate == 0))) {
      auto v = values;
      v["run_dir"] = summary.run_dir.string();
      v["index"] = "0";
      v["iteration"] = format_iteration(it + 1);
      CheckpointMeta meta;
      meta.index = 0;
      meta.iteration = it + 1;
      meta.config_toml = config_toml;
      meta.input_depth = dataset.input_depth();
      meta.reference_depth = dataset.reference_depth();
      for (const char* network : {"generator", "discriminator"}) {
        v["network"] = network;
        const fs::path path = expand_template(config.output.model_path, v);
        meta.network = network;
        if (meta.network == "generator")
          save_checkpoint(path, *model.generator, meta), summary.final_generator = path;
        else
          save_checkpoint(path, *model.discriminator, meta);
        summary.checkpoints.push_back(path);
      }
      progress.line(fmt::format("checkpoint: {}", summary.final_generator.string()));
    }
  }
  summary.seconds = std::chrono::duration<double>(Clock::now() - t0).count();
  progress.line(fmt::format("done: {} iterations in {}; final G_L1 {:.4f}", summary.iterations,
                            format_duration(summary.seconds), summary.last.g_l1));
  return summary;
}

}  // namespace img2img

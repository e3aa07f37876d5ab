// Data-loading throughput for 256 px pairs stored as 16-bit PNGs (issue 4: "data loading must not
// be the bottleneck"). Writes `pairs` random 16-bit RGB pairs to a temporary folder, then reports
//   1. decode: PairedDataset (decode once, 16-bit PNG -> [N, 3, 256, 256] float) with 0 and
//      `threads` worker threads, pairs/s;
//   2. loader alone: batch assembly from the decoded set + crop/flip/rotation augmentation
//      (augment_pair), pairs/s, batch 1 and 16; then the same streamed from disk (data.storage =
//      automatic over a tiny memory budget: PairedLoader decoding ahead) with 0 and `threads` workers;
//   3. whole epoch: one train_pix2pix iteration with the default 256 px pix2pix networks, pairs/s.
// Not a test: run it by hand,  build/bench/loader_bench [pairs=64] [threads=hardware] [epoch_pairs=8]

#include <fmt/format.h>        // fmt::print
#include <opencv2/core.hpp>    // cv::Mat, cv::RNG
#include <torch/utils.h>       // torch::manual_seed

#include <chrono>      // std::chrono
#include <cstdlib>     // std::atoi
#include <filesystem>  // std::filesystem
#include <numeric>     // std::iota
#include <random>      // std::mt19937_64
#include <thread>      // std::thread::hardware_concurrency

#include "img2img/data/augment.h"
#include "img2img/data/image_io.h"
#include "img2img/data/paired_dataset.h"
#include "img2img/train/trainer.h"

namespace {
namespace fs = std::filesystem;
using Clock = std::chrono::steady_clock;
double seconds_since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }
}  // namespace

int main(int argc, char** argv) {
  using namespace img2img;
  const int pairs = argc > 1 ? std::atoi(argv[1]) : 64;
  const int threads = argc > 2 ? std::atoi(argv[2]) : static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  const int epoch_pairs = argc > 3 ? std::atoi(argv[3]) : 8;
  const fs::path dir = fs::temp_directory_path() / fmt::format("img2img_loader_bench_{}", ::getpid());
  DataConfig data;
  data.input_dir = (dir / "in").string(), data.reference_dir = (dir / "ref").string();
  cv::RNG rng(1);
  for (int i = 0; i < pairs; ++i) {
    cv::Mat x(256, 256, CV_32FC3);
    rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
    write_image(fs::path(data.input_dir) / fmt::format("{:04d}.png", i), x, PixelDepth::k16);
    write_image(fs::path(data.reference_dir) / fmt::format("{:04d}.png", i), cv::Scalar(1, 1, 1) - x, PixelDepth::k16);
  }
  fmt::print("{} pairs of 256x256 16-bit RGB PNGs in {}\n", pairs, dir.string());

  for (int workers : {0, threads}) {
    data.worker_threads = workers;
    const auto t = Clock::now();
    PairedDataset d(data, 3, 256, 0);
    const double s = seconds_since(t);
    fmt::print("decode, {} worker thread(s): {:.1f} pairs/s ({:.2f} s)\n", workers, pairs / s, s);
  }
  PairedDataset dataset(data, 3, 256, 0);
  data.crop = 0.8, data.flip_horizontal = 0.5, data.flip_vertical = 0.5, data.rotation = 0.5;
  for (int64_t batch : {1, 16}) {
    std::mt19937_64 gen(1);
    const auto t = Clock::now();
    int64_t done = 0;
    for (int64_t begin = 0; begin < pairs; begin += batch) {
      const int64_t end = std::min<int64_t>(pairs, begin + batch);
      const torch::Tensor idx = torch::arange(begin, end, torch::kInt64);
      auto [a, b] = augment_pair(dataset.inputs().index_select(0, idx), dataset.references().index_select(0, idx), data,
                                 gen);
      done += a.size(0);
    }
    const double s = seconds_since(t);
    fmt::print("loader alone (batch {}, index + crop/flip/rotate): {:.1f} pairs/s\n", batch, done / s);
  }

  for (int workers : {0, threads}) {
    DataConfig streamed_data = data;
    streamed_data.memory_budget_mb = 0.001, streamed_data.worker_threads = workers;
    const PairedDataset streamed(streamed_data, 3, 256, 0);
    PairedLoader loader(streamed);
    std::vector<int64_t> order(static_cast<size_t>(pairs));
    std::iota(order.begin(), order.end(), 0);
    for (int64_t batch : {1, 16}) {
      std::mt19937_64 gen(1);
      const auto t = Clock::now();
      int64_t done = 0;
      loader.start(order, batch);
      for (int64_t begin = 0; begin < pairs; begin += batch) {
        auto [x, y] = loader.next();
        auto [a, b] = augment_pair(x, y, data, gen);
        done += a.size(0);
      }
      const double s = seconds_since(t);
      fmt::print("loader alone, {} ({} worker thread(s), batch {}, decode + crop/flip/rotate): {:.1f} pairs/s\n",
                 streamed.storage_mode(), workers, batch, done / s);
    }
  }

  RunConfig config;
  static_cast<DataConfig&>(config.data) = data;
  config.data.worker_threads = threads;
  config.data.limit_count = epoch_pairs;
  config.train.max_iterations = 1;
  config.output.run_dir = (dir / "run").string();
  config.output.model_path = "";
  config.output.onnx_path = "";
  config.plot.type = PlotType::kDisabled;
  config.device.device = "auto";
  TrainOptions options;
  options.interactive = 0;
  const auto t = Clock::now();
  const TrainSummary s = train_pix2pix(config, options);
  const double total = seconds_since(t);
  fmt::print("whole epoch (decode + {} training steps, default pix2pix 256 px, batch 1): {:.2f} pairs/s "
             "({:.1f} s incl. setup)\n",
             epoch_pairs, epoch_pairs / total, total);
  (void)s;
  fs::remove_all(dir);
  return 0;
}

// The run report's pieces (issue 17): train.log and CSV parsing, test image names, the height preview
// against an independent computation (NumPy/SciPy/Matplotlib), the page of an old run folder made by
// hand, the atomic rewrite, and the refresh only while a live run holds the folder.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fmt/format.h>        // fmt::format
#include <nlohmann/json.hpp>  // nlohmann::json
#include <opencv2/imgcodecs.hpp>  // cv::imread

#include <sys/stat.h>  // stat
#include <unistd.h>    // access

#include <atomic>   // std::atomic
#include <chrono>   // std::chrono
#include <cstdlib>  // std::getenv, setenv
#include <fstream>  // std::ofstream, std::ifstream
#include <regex>    // std::regex
#include <set>      // std::set
#include <sstream>  // std::istringstream

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "img2img/run/gnuplot.h"
#include "img2img/run/outputs_manifest.h"
#include "img2img/run/plot_writer.h"
#include "img2img/run/progress.h"
#include "img2img/run/report.h"
#include "img2img/run/report_data.h"
#include "img2img/run/report_preview.h"
#include "img2img/run/run_lock.h"
#include "img2img/train/trainer.h"
#include "support/test_support.h"
#include "support/tiny_run.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

size_t count_of(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

class ReportFiles : public test::TempDirTest {};

// The texts of chart `name`'s SVG in `page` (tick labels, axis labels, legend, title), in order.
std::vector<std::string> chart_texts(const std::string& page, const std::string& name) {
  const size_t a = page.find(fmt::format("data-chart=\"{}\"", name));
  if (a == std::string::npos) return {};
  const std::string svg = page.substr(a, page.find("</svg>", a) - a);
  std::vector<std::string> texts;
  const std::regex text("<text>([^<]*)</text>");
  for (auto m = std::sregex_iterator(svg.begin(), svg.end(), text); m != std::sregex_iterator(); ++m)
    texts.push_back((*m)[1].str());
  return texts;
}

// ---- train.log, CSVs, file names ----

TEST(ReportData, ParsesTheLinesOfTrainLog) {
  const std::string text =
      "run folder: /r\n"
      "data: 4 pairs at 32 px, 3 channel(s); input 8-bit, reference 16-bit\n"
      "data storage: cached in host memory (0.1 MiB of the 100 MiB memory budget)\n"
      "test data: 6 pairs; testing 4 random samples (the same every test) every 1 iteration(s)\n"
      "device: cpu, 2 CPU threads; generator 114131 parameters, discriminator 11625 parameters\n"
      "warning: a warning\n"
      "iteration 1/3  lr 0.0002  G_GAN 0.6653  G_L1 39.2533  D_real 0.6495  D_fake 0.7456  D(real) 0.524  "
      "D(fake) 0.523  SSIM 0.1582  224.5 img/s  ETA 2s\n"
      "test at iteration 1: SSIM 0.3485 on 4 sample(s) (0s)\n"
      "iteration 2/3  lr 0.0001  G_GAN 0.7  G_L1 nan  D_real 0.6  D_fake 0.7  D(real) 0.5  D(fake) 0.5  SSIM 0.2  "
      "100.0 img/s  ETA 1s  (1 of 2 step(s) skipped)\n"
      "iteration 3/3  lr 5e-05  losses skipped: all 2 step(s) had non-finite losses (train.nan_policy = skip)  ETA 0s\n"
      "done: 3 iterations in 1m05s; final G_L1 38.6564\n";
  const RunLog log = parse_train_log(text);
  ASSERT_EQ(log.iterations.size(), 3u);
  EXPECT_EQ(log.iterations[0].iteration, 1);
  EXPECT_EQ(log.iterations[0].max_iterations, 3);
  EXPECT_DOUBLE_EQ(log.iterations[1].lr, 0.0001);
  EXPECT_DOUBLE_EQ(*log.iterations[0].images_per_s, 224.5);
  EXPECT_EQ(log.iterations[0].eta, "2s");
  ASSERT_EQ(log.iterations[0].values.size(), 7u);
  EXPECT_EQ(log.iterations[0].values[1].first, "G_L1");
  EXPECT_DOUBLE_EQ(log.iterations[0].values[1].second.at(0), 39.2533);
  EXPECT_FALSE(log.iterations[2].images_per_s);
  EXPECT_TRUE(log.iterations[2].values.empty());
  ASSERT_EQ(log.tests.size(), 1u);
  EXPECT_EQ(log.tests[0].name, "SSIM");
  EXPECT_DOUBLE_EQ(log.tests[0].ssim, 0.3485);
  EXPECT_EQ(log.tests[0].samples, 4);
  EXPECT_EQ(log.data_lines.size(), 2u);  // the storage line is not a size
  EXPECT_THAT(log.device_line, HasSubstr("2 CPU threads"));
  EXPECT_EQ(log.warnings, std::vector<std::string>{"a warning"});
  EXPECT_THAT(log.done_line, HasSubstr("in 1m05s"));

  const ChartSeries loss = log_series(log, "loss");
  EXPECT_EQ(loss.at("g_l1").size(), 1u);  // the NaN of iteration 2 is left out
  EXPECT_DOUBLE_EQ(loss.at("g_gan").at(2), 0.7);
  EXPECT_EQ(loss.count("ssim"), 0u);
  const ChartSeries score = log_series(log, "score");
  EXPECT_DOUBLE_EQ(score.at("real").at(1), 0.524);
  EXPECT_DOUBLE_EQ(score.at("generated").at(1), 0.523);
  const ChartSeries ssim = log_series(log, "ssim");
  EXPECT_DOUBLE_EQ(ssim.at("train").at(2), 0.2);
  EXPECT_DOUBLE_EQ(ssim.at("test").at(1), 0.3485);
  EXPECT_DOUBLE_EQ(log_series(log, "lr").at("lr").at(3), 5e-05);

  // CycleGAN: labels with two values (one per direction), the cycle test; a resume in place appends.
  const RunLog cycle = parse_train_log(
      "run folder: /r\niteration 1/2  lr 0.0002  G_GAN 0.9 0.8  cycle 1.5 1.25  identity 0.5 0.25  D 0.3 0.2  "
      "9.0 img/s  ETA 1s\ntest at iteration 1: cycle SSIM 0.5 on 3 sample(s) (0s)\nerror: boom\n"
      "run folder: /r\niteration 1/2  lr 0.0002  G_GAN 1.0 0.8  cycle 1.5 1.25  identity 0.5 0.25  D 0.3 0.2  "
      "9.0 img/s  ETA 1s\n");
  const ChartSeries cycle_loss = log_series(cycle, "loss");
  EXPECT_DOUBLE_EQ(cycle_loss.at("g_gan_0").at(1), 1.0);  // the later line of a repeated iteration
  EXPECT_DOUBLE_EQ(cycle_loss.at("cycle_1").at(1), 1.25);
  EXPECT_DOUBLE_EQ(cycle_loss.at("d_0").at(1), 0.3);
  EXPECT_DOUBLE_EQ(log_series(cycle, "ssim").at("test_cycle").at(1), 0.5);
  EXPECT_EQ(cycle.error, "");  // the resumed run has not failed

  // A resume in place: the iteration the last run continued after (a new run resets it).
  const std::string resumed = "run folder: /r\niteration 1/1  lr 0.0002  ETA 0s\ndone: 1 iterations in 2s\n"
                              "run folder: /r\nresumed /r/checkpoints/generator_0_1.pt after iteration 1\n"
                              "done: iterations 2-3 in 4s (resumed after iteration 1; 3 iterations in all)\n";
  EXPECT_EQ(parse_train_log(resumed).resumed_after, 1);
  EXPECT_EQ(parse_train_log(resumed + "run folder: /r\n").resumed_after, 0);
}

// The device row shows the thread count the run has now, not the one it started with, and "1 CPU thread".
TEST(ReportData, DeviceFactFollowsTheGovernedThreadCount) {
  const std::string start = "run folder: /r\ndevice: cpu, 2 CPU threads (follows the free cores: 1-2); generator 9 "
                            "parameters\n";
  EXPECT_EQ(device_fact(parse_train_log(start)), "cpu, 2 CPU threads (follows the free cores: 1-2); generator 9 parameters");
  const std::string changed = start +
                              "CPU threads 2 -> 1: other programs use 1.2 of the 2 cores (device.cpu_threads = 0 "
                              "follows the free cores; a fixed count repeats bit for bit)\n"
                              "iteration 1/3  lr 0.0002  G_GAN 0.7  G_L1 40  50.0 img/s  ETA 9s\n";
  const RunLog log = parse_train_log(changed);
  EXPECT_EQ(log.cpu_threads_now, 1);
  EXPECT_EQ(device_fact(log), "cpu, 1 CPU thread (2 at the start; the count follows the free cores, train.log says "
                              "when it changed); generator 9 parameters");
  // A resume in place appends a new run: its own start.
  EXPECT_EQ(device_fact(parse_train_log(changed + start)),
            "cpu, 2 CPU threads (follows the free cores: 1-2); generator 9 parameters");
  // Older logs said "1 CPU threads".
  EXPECT_EQ(device_fact(parse_train_log("device: cpu, 1 CPU threads; x\n")), "cpu, 1 CPU thread; x");
  EXPECT_EQ(device_fact(parse_train_log("device: cuda:0, 4 CPU threads; x\n")), "cuda:0, 4 CPU threads; x");
  EXPECT_EQ(device_fact(parse_train_log("iteration 1/3\n")), "");
}

TEST(ReportData, StepsPerIterationFromTheDataLinesAndBatchSize) {
  // Paired: the pairs; unpaired: the larger domain; data-parallel: this process's share.
  const RunLog paired = parse_train_log("run folder: /r\ndata: 5 pairs at 32 px, 3 channel(s); input 8-bit, "
                                        "reference 8-bit\ntest data: 6 pairs; testing 4 ...\n");
  EXPECT_EQ(paired.train_samples, 5);
  EXPECT_EQ(steps_per_iteration(paired, 2), 3);
  EXPECT_EQ(steps_per_iteration(paired, 5), 1);
  EXPECT_EQ(steps_per_iteration(paired, 0), 0);  // no batch size known: no steps shown
  const RunLog unpaired = parse_train_log(
      "data (unpaired): domain A 7 images (8-bit), domain B 12 images (16-bit) at 32 px, 3 channel(s)\n");
  EXPECT_EQ(unpaired.train_samples, 12);
  EXPECT_EQ(steps_per_iteration(unpaired, 4), 3);
  const RunLog parallel = parse_train_log(
      "data: 9 pairs at 32 px, 3 channel(s); input 8-bit, reference 8-bit\n"
      "data-parallel: 2 processes (c10d Gloo, 2 on this machine); data.batch_size 2 per process, effective batch 4; "
      "each iteration covers the data once, 5 sample(s) per process\n");
  EXPECT_EQ(parallel.samples_per_process, 5);
  ASSERT_EQ(parallel.data_lines.size(), 2u);  // the page's data fact names the processes and the effective batch
  EXPECT_NE(parallel.data_lines[1].find("effective batch 4"), std::string::npos);
  EXPECT_EQ(steps_per_iteration(parallel, 2), 3);
  EXPECT_EQ(steps_per_iteration(parse_train_log("iteration 1/2  lr 0.1  G_GAN 1  1.0 img/s  ETA 1s\n"), 2), 0);
  // A resume in place: the last run's data line counts.
  EXPECT_EQ(parse_train_log("data: 5 pairs at 8 px\nrun folder: /r\ndata: 8 pairs at 8 px\n").train_samples, 8);

  const std::optional<PartialIteration> partial = parse_partial_iteration("interrupted in iteration 3 after step 2 of 8");
  ASSERT_TRUE(partial);
  EXPECT_EQ(partial->iteration, 3);
  EXPECT_EQ(partial->steps_done, 2);
  EXPECT_EQ(partial->steps_per_iteration, 8);
  EXPECT_FALSE(parse_partial_iteration("interrupted after iteration 3"));
  EXPECT_FALSE(parse_partial_iteration(""));
}

TEST(ReportData, DurationsAsProgressPrintsThem) {
  EXPECT_EQ(parse_duration("4s"), 4.0);
  EXPECT_EQ(parse_duration("3m05s"), 185.0);
  EXPECT_EQ(parse_duration("1h02m"), 3720.0);
  EXPECT_EQ(parse_duration(format_duration(7384)), 7380.0);  // h and m only above an hour
  for (const char* bad : {"", "x", "3m05", "5 s", "-4s"}) EXPECT_FALSE(parse_duration(bad).has_value()) << bad;
}

TEST_F(ReportFiles, ReportCsvRowsAndAMalformedRow) {
  write_file_atomic(dir_ / "loss.csv", "iteration,series,value\n1,g_l1,38.5\n2,g_l1,nan\n2,g_gan,0.7\n1,g_l1,37\n");
  const ChartSeries s = read_plot_csv(dir_ / "loss.csv");
  EXPECT_DOUBLE_EQ(s.at("g_l1").at(1), 37);  // the later row of an iteration
  EXPECT_EQ(s.at("g_l1").size(), 1u);
  EXPECT_DOUBLE_EQ(s.at("g_gan").at(2), 0.7);
  write_file_atomic(dir_ / "bad.csv", "iteration,series,value\n1,g_l1,38.5\nx,g_l1,1\n");
  try {
    read_plot_csv(dir_ / "bad.csv");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("bad.csv' line 3 ('x,g_l1,1')"));
  }
}

TEST(ReportData, TestImageNames) {
  const auto paired = parse_test_image_name("000012_rock_01_generated.png");
  ASSERT_TRUE(paired);
  EXPECT_EQ(paired->iteration, 12);
  EXPECT_EQ(paired->sample, "rock_01");
  EXPECT_EQ(paired->role, "generated");
  const auto unpaired = parse_test_image_name("000003_B_cat_reconstructed.tif");
  ASSERT_TRUE(unpaired);
  EXPECT_EQ(unpaired->sample, "B_cat");
  EXPECT_EQ(unpaired->role, "reconstructed");
  EXPECT_FALSE(parse_test_image_name("rock_generated.png"));
  EXPECT_FALSE(parse_test_image_name("000003_rock_other.png"));
}

// ---- previews ----

// The preview of a height field computed independently: SciPy's Sobel (mode 'nearest'), Matplotlib's
// viridis, NumPy, from the formula in report_preview.h.
const char* const kPreviewScript = R"(
import sys, numpy as np
from scipy import ndimage
from matplotlib import cm
rows, cols = int(sys.argv[3]), int(sys.argv[4])
h = np.fromfile(sys.argv[1], dtype=np.float32).reshape(rows, cols).astype(np.float64)
h = (h - h.min()) / (h.max() - h.min())
idx = np.clip(np.round(h * 255), 0, 255).astype(int)
colour = np.round(np.array(cm.get_cmap('viridis').colors)[idx] * 255)  # RGB
z = h * 0.25 * max(rows, cols)
gx = ndimage.sobel(z, axis=1, mode='nearest') / 8
gy = ndimage.sobel(z, axis=0, mode='nearest') / 8
l = np.array([-0.5, -0.5, 1 / np.sqrt(2)])
shade = np.maximum(0, (-gx * l[0] - gy * l[1] + l[2]) / np.sqrt(gx * gx + gy * gy + 1))
out = np.clip(np.round(colour * (0.35 + 0.65 * shade)[..., None]), 0, 255).astype(np.uint8)
out[..., ::-1].tofile(sys.argv[2])  # BGR
)";

TEST_F(ReportFiles, HeightPreviewMatchesAnIndependentComputation) {
  if (test::run_command("/usr/bin/python3 -c 'import numpy, scipy, matplotlib'") != 0)
    GTEST_SKIP() << "needs Debian's python3-scipy and python3-matplotlib (with python3-skimage) at /usr/bin/python3";
  const int rows = 40, cols = 56;
  cv::Mat h(rows, cols, CV_32F);
  for (int y = 0; y < rows; ++y)
    for (int x = 0; x < cols; ++x)  // a hill, a ridge and a slope, in metres
      h.at<float>(y, x) = static_cast<float>(1200 * std::exp(-((x - 20) * (x - 20) + (y - 15) * (y - 15)) / 60.0) +
                                             300 * std::sin(x * 0.3 + y * 0.1) + 5 * y - 400);
  std::ofstream(dir_ / "h.f32", std::ios::binary).write(reinterpret_cast<const char*>(h.data), h.total() * 4);
  write_file_atomic(dir_ / "p.py", kPreviewScript);
  std::string out;
  ASSERT_EQ(test::run_command(fmt::format("/usr/bin/python3 {} {} {} {} {}", (dir_ / "p.py").string(),
                                          (dir_ / "h.f32").string(), (dir_ / "ref.u8").string(), rows, cols),
                              &out),
            0)
      << out;
  const std::string ref = read_file(dir_ / "ref.u8");
  ASSERT_EQ(ref.size(), static_cast<size_t>(rows * cols * 3));
  const cv::Mat mine = height_preview(h);
  ASSERT_EQ(mine.type(), CV_8UC3);
  int worst = 0;
  for (int i = 0; i < rows * cols * 3; ++i)
    worst = std::max(worst, std::abs(static_cast<int>(mine.data[i]) - static_cast<int>(static_cast<uchar>(ref[i]))));
  EXPECT_LE(worst, 2) << "OpenCV's and Matplotlib's viridis tables may differ by a step, no more";
  // Not a flat image: the shading and the colours vary.
  cv::Scalar mean, stddev;
  cv::meanStdDev(mine, mean, stddev);
  EXPECT_GT(stddev[0] + stddev[1] + stddev[2], 30);
  // The same height at another scale (16-bit units vs metres) gives the same preview.
  cv::Mat scaled = h * 21.0 + 7.0;
  EXPECT_EQ(cv::norm(height_preview(scaled), mine, cv::NORM_INF), 0);
  EXPECT_THROW(height_preview(cv::Mat(4, 4, CV_8U)), DataError);
}

TEST_F(ReportFiles, PreviewKindsFollowDepthAndChannels) {
  cv::Mat grey(8, 8, CV_32FC1), rgb(8, 8, CV_32FC3);
  cv::randu(grey, 0, 1), cv::randu(rgb, 0, 1);
  cv::Mat equal;
  cv::merge(std::vector<cv::Mat>{grey, grey, grey}, equal);
  const auto kind = [this](const cv::Mat& image, PixelDepth depth, const std::string& name) {
    write_image(dir_ / name, image, depth);
    return preview_kind(read_image(dir_ / name), dir_ / name);
  };
  EXPECT_EQ(kind(grey, PixelDepth::k16, "g16.png"), PreviewKind::kHeight);
  EXPECT_EQ(kind(equal, PixelDepth::k16, "e16.png"), PreviewKind::kHeight);  // a height repeated to RGB
  EXPECT_EQ(kind(grey, PixelDepth::kFloat, "g.tif"), PreviewKind::kHeight);
  EXPECT_EQ(kind(rgb, PixelDepth::k16, "c16.png"), PreviewKind::kNone);   // browsers show 16-bit colour
  EXPECT_EQ(kind(rgb, PixelDepth::kFloat, "c.tif"), PreviewKind::kConvert);  // browsers do not decode TIFF
  EXPECT_EQ(kind(grey, PixelDepth::k8, "g8.png"), PreviewKind::kNone);
  // A converted RGBA float image keeps its alpha.
  cv::Mat rgba(8, 8, CV_32FC4, cv::Scalar(0.2, 0.4, 0.6, 0.5));
  write_image(dir_ / "a.tif", rgba, PixelDepth::kFloat);
  const DecodedImage a = read_image(dir_ / "a.tif");
  write_preview(a, preview_kind(a, dir_ / "a.tif"), dir_ / "a.png");
  const DecodedImage p = read_image(dir_ / "a.png");
  EXPECT_EQ(p.depth, PixelDepth::k8);
  ASSERT_EQ(p.channels, 4);
  EXPECT_NEAR(p.pixels.at<cv::Vec4f>(3, 3)[3], 0.5, 1.0 / 255);
  EXPECT_NEAR(p.pixels.at<cv::Vec4f>(3, 3)[0], 0.2, 1.0 / 255);
}

// ---- the page ----

// A run folder as a version before the report wrote it: no report.html, 16-bit 1-channel heights.
class OldRunFolder : public test::TempDirTest {
 protected:
  fs::path run_;
  void make(const std::string& status) {
    run_ = dir_ / "old run";
    write_file_atomic(run_ / "config.toml",
                      "[data]\ninput_type = \"multiple_paired\"  # comment\nbatch_size = 2\n[train]\nmax_iterations = 4\n"
                      "[test]\ntarget_ssim = 0.9\noutput_dir = \"{run_dir}/test/{iteration}\"\n[plot]\nrate = 2\n");
    std::string log = "run folder: " + run_.string() + "\ndata: 5 pairs at 16 px, 1 channel(s)\ndevice: cpu, 1 CPU threads; x\n";
    for (int it = 1; it <= 4; ++it) {
      log += fmt::format("iteration {}/4  lr 0.0002  G_GAN 0.7  G_L1 {}  D_real 0.6  D_fake 0.7  D(real) 0.5  "
                         "D(fake) 0.5  SSIM 0.{}  50.0 img/s  ETA 1s\n",
                         it, 40 - it, it);
      if (it % 2 == 0) log += fmt::format("test at iteration {}: SSIM 0.{} on 2 sample(s) (0s)\n", it, it + 2);
    }
    if (status != "running") log += "done: 4 iterations in 12s; final G_L1 36\n";
    write_file_atomic(run_ / "train.log", log);
    nlohmann::json outputs = nlohmann::json::array();
    for (int it : {2, 4})
      for (const char* sample : {"a", "b"})
        for (const char* role : {"input", "generated", "reference"}) {
          cv::Mat h(16, 16, CV_32F);
          for (int y = 0; y < 16; ++y)
            for (int x = 0; x < 16; ++x)  // the generated one on a narrower range than the others
              h.at<float>(y, x) = static_cast<float>((x * y + it) % 17) / (std::string(role) == "generated" ? 34.0f : 17.0f);
          const fs::path p = run_ / "test" / std::to_string(it) / fmt::format("{:06}_{}_{}.png", it, sample, role);
          write_image(p, h, PixelDepth::k16);
          if (it == 4)
            outputs.push_back({{"kind", "test_image"}, {"path", p.string()}, {"network", role}, {"index", 0},
                               {"iteration", it}});
        }
    write_file_atomic(run_ / "outputs.json", nlohmann::json{{"version", 1}, {"run_dir", run_.string()},
                                                            {"status", status},
                                                            {"reason", status == "failed" ? "disk <full> & gone" : ""},
                                                            {"iterations", 4},
                                                            {"outputs", outputs}}
                                                 .dump(2));
  }
  // Lists a checkpoint of iteration 2 in outputs.json, with its training state (X.optim.pt) beside it
  // when `with_state`: what --resume needs.
  void add_checkpoint(bool with_state) {
    const fs::path weights = run_ / "checkpoints" / "generator_0_2.pt";
    write_file_atomic(weights, "weights");
    if (with_state) write_file_atomic(run_ / "checkpoints" / "generator_0_2.optim.pt", "state");
    nlohmann::json manifest = nlohmann::json::parse(read_file(run_ / "outputs.json"));
    manifest["outputs"].push_back({{"kind", "checkpoint"}, {"path", weights.string()}, {"network", "generator"},
                                   {"index", 0}, {"iteration", 2}});
    write_file_atomic(run_ / "outputs.json", manifest.dump(2));
  }
};

TEST_F(OldRunFolder, GetsAPageWithCurvesGalleryAndPreviews) {
  make("finished");
  const ReportResult r = write_run_report(run_);
  EXPECT_EQ(r.path, run_ / "report.html");
  EXPECT_TRUE(r.notes.empty()) << r.notes.front();
  const std::string page = read_file(r.path);
  EXPECT_THAT(page, HasSubstr("id=\"status\">finished<"));
  EXPECT_THAT(page, Not(HasSubstr("http-equiv=\"refresh\"")));
  // 5 pairs (the data line) in batches of 2 (config.toml): 3 steps per iteration.
  EXPECT_THAT(page, HasSubstr("<td id=\"iteration\">iteration 4 of 4 \u00b7 step 12 of 12</td>"));
  EXPECT_THAT(page, HasSubstr("<td id=\"elapsed\">12s</td>"));
  // Curves from train.log (no CSV), the test.target_ssim line in the SSIM chart; the titles and axis
  // labels of the PNG plots (plot_labels).
  for (const char* chart : {"loss", "score", "ssim", "lr"}) EXPECT_THAT(page, HasSubstr(fmt::format("data-chart=\"{}\"", chart)));
  EXPECT_THAT(page, HasSubstr("data-chart=\"ssim\" role=\"img\" aria-label=\"SSIM of generated vs reference\""));
  EXPECT_THAT(page, HasSubstr("data-chart=\"loss\" role=\"img\" aria-label=\"Losses\""));
  EXPECT_THAT(page, HasSubstr("data-chart=\"score\" role=\"img\" aria-label=\"Discriminator scores\""));
  EXPECT_THAT(page, HasSubstr(">loss (log scale)<"));  // all losses positive
  EXPECT_THAT(page, HasSubstr(">mean D probability of real<"));
  // Whole iterations on the x axis (gnuplot alone would mark 1.5, 2.5, ...); the constant learning
  // rate (0.0002 in every line) on a readable axis: every tick label differs.
  const std::vector<std::string> lr = chart_texts(page, "lr");
  for (const char* tick : {" 1", " 2", " 3", " 4"}) EXPECT_THAT(lr, ::testing::Contains(tick));
  EXPECT_THAT(lr, Not(::testing::Contains(" 1.5")));
  // One format for every tick label (gnuplot's own mixes 0.0001 and 5e-05).
  std::vector<std::string> y_ticks;
  for (const std::string& t : lr)
    if (std::regex_match(t, std::regex(R"(\d\.\de-0\d)"))) y_ticks.push_back(t);
  EXPECT_GE(y_ticks.size(), 3u);
  EXPECT_EQ(std::set<std::string>(y_ticks.begin(), y_ticks.end()).size(), y_ticks.size());
  EXPECT_THAT(y_ticks, ::testing::Contains("2.0e-04"));
  EXPECT_THAT(lr, Not(::testing::Contains(" 0.0002")));
  // Headroom: the test.target_ssim line (0.9, above every SSIM, on a tick) is not drawn on the frame:
  // the axis goes on to the next tick, 1.
  const std::vector<std::string> ssim = chart_texts(page, "ssim");
  EXPECT_THAT(ssim, ::testing::Contains(" 0.9"));
  EXPECT_THAT(ssim, ::testing::Contains(" 1"));
  // The data row says what each line is once ("training: 5 pairs", not "data: data: 5 pairs").
  EXPECT_THAT(page, HasSubstr("<td>data</td><td id=\"data\">training: 5 pairs at 16 px, 1 channel(s)</td>"));
  EXPECT_THAT(page, HasSubstr("test.target_ssim 0.9"));
  // Both tests offered, the latest first, 2 rows each; each image previewed (16-bit, 1 channel).
  EXPECT_THAT(page, HasSubstr("<option>4</option><option>2</option>"));
  EXPECT_EQ(count_of(page, "<tr class=\"sample\""), 4u);
  EXPECT_EQ(count_of(page, "report/previews/"), 12u);
  EXPECT_TRUE(fs::exists(run_ / "report" / "previews" / "2" / "000002_a_generated.png"));
  EXPECT_THAT(page, HasSubstr("href=\"test/4/000004_a_generated.png\""));  // the raw file stays linked
  // The per-sample SSIM is that of the files (generated is reference at half the height: below 1).
  EXPECT_THAT(page, HasSubstr("SSIM 0."));
  EXPECT_THAT(page, Not(HasSubstr("SSIM 1.0000")));
  // Each preview is the height preview of the file on the row's common scale (the union of the ranges).
  HeightRange range{1e9, -1e9};
  std::map<std::string, DecodedImage> raw;
  for (const char* role : {"input", "generated", "reference"}) {
    raw[role] = read_image(run_ / "test" / "4" / fmt::format("000004_b_{}.png", role));
    double lo = 0, hi = 0;
    cv::minMaxLoc(raw[role].pixels, &lo, &hi);
    range.lo = std::min(range.lo, lo), range.hi = std::max(range.hi, hi);
  }
  EXPECT_LT(range.lo, range.hi);
  // The caption gives that scale in the files' 16-bit values.
  EXPECT_THAT(page, HasSubstr(fmt::format("shown colour-mapped and hill-shaded on this row&#39;s scale: {:.0f} to {:.0f} "
                                          "of 65535",
                                          range.lo * 65535, range.hi * 65535)));
  for (const auto& [role, image] : raw) {
    const cv::Mat preview =
        cv::imread((run_ / "report" / "previews" / "4" / fmt::format("000004_b_{}.png", role)).string());
    EXPECT_EQ(cv::norm(preview, height_preview(image.pixels, range), cv::NORM_INF), 0) << role;
  }
  // The generated preview differs from a preview on its own range (which would hide the halved height).
  EXPECT_GT(cv::norm(cv::imread((run_ / "report" / "previews" / "4" / "000004_b_generated.png").string()),
                     height_preview(raw["generated"].pixels), cv::NORM_INF),
            20);
  // A folder moved elsewhere still links its own files (relative links).
  fs::rename(run_, dir_ / "moved");
  EXPECT_THAT(read_file(write_run_report(dir_ / "moved").path), HasSubstr("href=\"test/4/000004_a_input.png\""));
}

TEST_F(OldRunFolder, RefreshesOnlyWhileALiveRunHoldsTheFolder) {
  make("running");
  {
    const RunFolderLock lock(run_);  // a live run
    const std::string page = read_file(write_run_report(run_).path);
    EXPECT_THAT(page, HasSubstr("id=\"status\">running<"));
    // The script reloads (keeping #iteration=N); a meta refresh only without scripts.
    EXPECT_THAT(page, HasSubstr("<noscript><meta http-equiv=\"refresh\" content=\"5\"></noscript>"));
    EXPECT_THAT(page, HasSubstr("location.reload()"));
    // 4 iterations in about no time (config.toml was just written), the last one's ETA says nothing
    // (none left): reload every 5 s, stale after the minimum, 60 s.
    EXPECT_THAT(page, HasSubstr("data-refresh-s=\"5\" data-stale-after-s=\"60\""));
    EXPECT_THAT(page, HasSubstr("<p class=\"error\" id=\"stale\" hidden>this page has not been updated since "));
    EXPECT_THAT(page, HasSubstr("Run 'img2img report " + run_.string() + "' to see where it stands"));
    EXPECT_THAT(page, HasSubstr("<td id=\"eta\">1s</td>"));
    // When the page was written, for the reader (local time) and for the script (epoch ms).
    std::smatch m;
    ASSERT_TRUE(std::regex_search(page, m, std::regex(R"re(data-written-ms="(\d+)")re")));
    const auto now_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch()).count();
    EXPECT_NEAR(static_cast<double>(std::stoll(m[1].str())), static_cast<double>(now_ms), 60e3);
    EXPECT_TRUE(std::regex_search(
        page, std::regex(R"(<span class="note" id="written">page written \d\d:\d\d:\d\d \(\d{4}-\d\d-\d\d\)</span>)")));
    // Iteration 4 of 12 whose ETA is 16m00s: 2 minutes an iteration, plot.rate = 2: rewritten every 4
    // minutes, stale after 12 (a resumed run's elapsed time per iteration would be far too short).
    write_file_atomic(run_ / "train.log", std::regex_replace(read_file(run_ / "train.log"),
                                                             std::regex("iteration 4/4([^\n]*)ETA 1s"),
                                                             "iteration 4/12$1ETA 16m00s"));
    const std::string slow = read_file(write_run_report(run_).path);
    EXPECT_THAT(slow, HasSubstr("data-refresh-s=\"60\" data-stale-after-s=\"720\""));
    EXPECT_THAT(slow, HasSubstr("though the run rewrites it about every 4m00s"));
  }
  // Killed: outputs.json still says running, nobody holds the folder. It lists no checkpoint: nothing to
  // resume (--resume would fail), start again.
  std::string page = read_file(write_run_report(run_).path);
  EXPECT_THAT(page, HasSubstr("id=\"status\">not running<"));
  EXPECT_THAT(page, HasSubstr("(to train.log&#39;s last line)</td>"));  // elapsed: no done line, nothing runs
  EXPECT_THAT(page, HasSubstr("the run was killed or crashed; it wrote no checkpoint, so there is nothing to "
                              "resume: start the run again"));
  EXPECT_THAT(page, Not(HasSubstr("--resume")));
  EXPECT_THAT(page, Not(HasSubstr("http-equiv=\"refresh\"")));
  EXPECT_THAT(page, HasSubstr("data-refresh-s=\"0\" data-stale-after-s=\"0\""));
  EXPECT_THAT(page, Not(HasSubstr("id=\"stale\"")));
  EXPECT_THAT(page, HasSubstr("id=\"written\">page written "));  // on every page
  // A checkpoint without its training state cannot be resumed either.
  add_checkpoint(/*with_state=*/false);
  page = read_file(write_run_report(run_).path);
  EXPECT_THAT(page, HasSubstr("its checkpoints cannot be resumed"));
  EXPECT_THAT(page, Not(HasSubstr("--resume")));
  // With it: resume.
  add_checkpoint(/*with_state=*/true);
  EXPECT_THAT(read_file(write_run_report(run_).path),
              HasSubstr("the run was killed or crashed; continue it from its last checkpoint with: img2img train "
                        "--resume &#39;" + run_.string() + "&#39;."));  // "old run": quoted for the shell
}

TEST_F(OldRunFolder, SaysOnlyWhatItsFilesSupport) {
  // config.toml alone: no status, no elapsed time, nothing about train.log.
  make("running");
  fs::remove(run_ / "outputs.json");
  fs::remove(run_ / "train.log");
  std::string page = read_file(write_run_report(run_).path);
  EXPECT_THAT(page, HasSubstr("id=\"status\">unknown<"));
  EXPECT_THAT(page, HasSubstr("<p class=\"note\" id=\"reason\">no outputs.json: status unknown (a run writes "
                              "outputs.json when it starts)</p>"));
  EXPECT_THAT(page, Not(HasSubstr("says running")));
  EXPECT_THAT(page, Not(HasSubstr("id=\"elapsed\"")));
  EXPECT_THAT(page, Not(HasSubstr("train.log&#39;s last line")));
  // train.log without a done line, no outputs.json.
  make("running");
  fs::remove(run_ / "outputs.json");
  page = read_file(write_run_report(run_).path);
  EXPECT_THAT(page, HasSubstr("no outputs.json, and train.log ends with neither a &#39;done&#39; nor an &#39;error&#39; "
                              "line: status unknown"));
  // A finished run copied without train.log: no elapsed time to show.
  make("finished");
  fs::remove(run_ / "train.log");
  page = read_file(write_run_report(run_).path);
  EXPECT_THAT(page, HasSubstr("id=\"status\">finished<"));
  EXPECT_THAT(page, Not(HasSubstr("id=\"elapsed\"")));
}

TEST_F(OldRunFolder, TestingOffAndNoGnuplotAreSaidWhereTheyMatter) {
  make("finished");
  write_file_atomic(run_ / "config.toml", "[train]\nmax_iterations = 4\n[test]\nenabled = false\n");
  write_file_atomic(run_ / "train.log", std::regex_replace(read_file(run_ / "train.log"),
                                                           std::regex("test at iteration[^\n]*\n"), ""));
  fs::remove_all(run_ / "test");
  nlohmann::json manifest = nlohmann::json::parse(read_file(run_ / "outputs.json"));
  manifest["outputs"] = nlohmann::json::array();
  write_file_atomic(run_ / "outputs.json", manifest.dump());
  // No gnuplot on the PATH (this process only: each test runs in its own).
  const std::string path = std::getenv("PATH");
  ::setenv("PATH", dir_.c_str(), 1);
  const ReportResult r = write_run_report(run_);
  ::setenv("PATH", path.c_str(), 1);
  const std::string page = read_file(r.path);
  const std::string curves = page.substr(page.find("<section id=\"curves\">"));
  EXPECT_THAT(curves.substr(0, curves.find("</section>")),
              HasSubstr("<p class=\"error\" id=\"no-curves\">no curves: they are drawn by gnuplot, which could not "
                        "be started; install Debian&#39;s gnuplot-nox (apt-get install gnuplot-nox), then run "
                        "&#39;img2img report " + run_.string() + "&#39;</p>"));
  EXPECT_THAT(page, Not(HasSubstr("no iteration has ended")));
  EXPECT_EQ(count_of(page, "apt-get install gnuplot-nox"), 1u);  // not repeated at the bottom
  ASSERT_EQ(r.notes.size(), 1u);  // img2img report prints it
  EXPECT_THAT(r.notes[0], HasSubstr("gnuplot-nox"));
  EXPECT_THAT(page, HasSubstr("<p class=\"note\" id=\"no-tests\">testing is off for this run (test.enabled = "
                              "false): to see generated images here, train with --test.enabled=true and a held-out "
                              "test set"));
}

TEST_F(OldRunFolder, RefusesWhatIsNotARunFolderClearly) {
  make("finished");
  // report.html is a folder: say so, not "give a file path".
  fs::create_directories(run_ / "report.html");
  try {
    write_run_report(run_);
    FAIL() << "expected WriteError";
  } catch (const WriteError& e) {
    EXPECT_EQ(std::string(e.what()), "cannot write the run's page: '" + (run_ / "report.html").string() +
                                         "' is a folder; move or delete it, then run 'img2img report " +
                                         run_.string() + "'");
  }
  fs::remove(run_ / "report.html");
  std::string out;
  EXPECT_EQ(test::run_command(fmt::format("'{}' report '' 2>&1", test::img2img_binary()), &out), 1);
  EXPECT_THAT(out, HasSubstr("error: no run folder given (an empty path); give the folder a training run wrote"));
  EXPECT_THAT(out, Not(HasSubstr("filesystem error")));
  EXPECT_EQ(test::run_command(fmt::format("'{}' report '{}' 2>&1", test::img2img_binary(),
                                          (run_ / "train.log").string()),
                              &out),
            1);
  EXPECT_THAT(out, HasSubstr("error: '" + (run_ / "train.log").string() + "' is a file, not a run folder; give "
                             "the folder it lies in, '" + run_.string() + "', if that is the run's"));
  EXPECT_EQ(test::run_command(fmt::format("'{}' report '{}' 2>&1", test::img2img_binary(),
                                          (dir_ / "missing").string()),
                              &out),
            1);
  EXPECT_THAT(out, HasSubstr("error: run folder '" + (dir_ / "missing").string() + "' does not exist"));
}

TEST_F(OldRunFolder, FailedRunShowsItsError) {
  make("failed");
  const std::string page = read_file(write_run_report(run_).path);
  EXPECT_THAT(page, HasSubstr("id=\"status\">failed<"));
  EXPECT_THAT(page, HasSubstr("<p class=\"error\" id=\"reason\">disk &lt;full&gt; &amp; gone</p>"));  // escaped
  EXPECT_THAT(page, Not(HasSubstr("http-equiv=\"refresh\"")));
}

TEST_F(OldRunFolder, InterruptedInsideAnIterationCountsItsSteps) {
  make("finished");
  // The run stopped in iteration 4 after 2 of its 3 steps: 3 iterations done, 3 x 3 + 2 steps.
  std::string log = read_file(run_ / "train.log");
  log = std::regex_replace(log, std::regex("iteration 4/4[^\n]*\n|done: [^\n]*\n"), "");
  write_file_atomic(run_ / "train.log", log);
  nlohmann::json manifest = nlohmann::json::parse(read_file(run_ / "outputs.json"));
  manifest["status"] = "interrupted", manifest["reason"] = "interrupted in iteration 4 after step 2 of 3";
  manifest["iterations"] = 3;
  write_file_atomic(run_ / "outputs.json", manifest.dump());
  EXPECT_THAT(read_file(write_run_report(run_).path),  // no checkpoint listed: nothing to resume
              HasSubstr("after step 2 of 3; it wrote no checkpoint, so there is nothing to resume: start the run "
                        "again (the same img2img train command; the same output.run_dir reuses the folder)</p>"));
  add_checkpoint(/*with_state=*/true);
  manifest = nlohmann::json::parse(read_file(run_ / "outputs.json"));
  const std::string page = read_file(write_run_report(run_).path);
  EXPECT_THAT(page, HasSubstr("id=\"status\">interrupted<"));
  EXPECT_THAT(page, HasSubstr("<td id=\"iteration\">iteration 3 of 4 \u00b7 step 11 of 12</td>"));
  EXPECT_THAT(page, HasSubstr("after step 2 of 3; continue it from its last checkpoint with: img2img train --resume "
                              "&#39;" + run_.string() + "&#39;</p>"));
  // Without a batch size in config.toml, the reason's count of steps still gives the steps.
  write_file_atomic(run_ / "config.toml", "[train]\nmax_iterations = 4\n");
  EXPECT_THAT(read_file(write_run_report(run_).path),
              HasSubstr("<td id=\"iteration\">iteration 3 of 4 \u00b7 step 11 of 12</td>"));
  // Neither: the iterations only (no step count is made up).
  manifest["reason"] = "interrupted after iteration 3";
  write_file_atomic(run_ / "outputs.json", manifest.dump());
  EXPECT_THAT(read_file(write_run_report(run_).path), HasSubstr("<td id=\"iteration\">iteration 3 of 4</td>"));
}

TEST_F(ReportFiles, UnpairedRunTitlesItsSsimChartAsTheCycleReconstruction) {
  const fs::path run = dir_ / "cycle";
  write_file_atomic(run / "config.toml", "[data]\ninput_type = \"multiple_unpaired\"\nbatch_size = 4\n");
  write_file_atomic(run / "train.log",
                    "run folder: " + run.string() + "\n"
                    "data (unpaired): domain A 6 images (8-bit), domain B 9 images (8-bit) at 32 px, 3 channel(s)\n"
                    "iteration 1/2  lr 0.0002  G_GAN 0.9 0.8  cycle 1.5 1.25  identity 0.5 0.25  D 0.3 0.2  "
                    "9.0 img/s  ETA 1s\ntest at iteration 1: cycle SSIM 0.5 on 3 sample(s) (0s)\n"
                    "iteration 2/2  lr 0.0001  G_GAN 0.8 0.7  cycle 1.4 1.2  identity 0.4 0.2  D 0.3 0.2  "
                    "9.0 img/s  ETA 0s\ntest at iteration 2: cycle SSIM 0.6 on 3 sample(s) (0s)\n"
                    "done: 2 iterations in 3s\n");
  const std::string page = read_file(write_run_report(run).path);
  // The same title as the PNG plot of these series (plot_labels), not "generated vs reference".
  EXPECT_EQ(std::string(plot_labels("ssim", {"test_cycle"}).title),
            "Cycle SSIM: reconstruction vs original (A -> B -> A, B -> A -> B)");
  EXPECT_THAT(page, HasSubstr("data-chart=\"ssim\" role=\"img\" aria-label=\"Cycle SSIM: reconstruction vs original "
                              "(A -&gt; B -&gt; A, B -&gt; A -&gt; B)\""));
  EXPECT_THAT(page, Not(HasSubstr("generated vs reference")));
  // What _0 and _1 of the series are.
  EXPECT_THAT(page, HasSubstr("id=\"series-index\">Series ending in _0 belong to direction A &rarr; B"));
  // 9 images of the larger domain in batches of 4: 3 steps per iteration.
  EXPECT_THAT(page, HasSubstr("<td id=\"iteration\">iteration 2 of 2 \u00b7 step 6 of 6</td>"));
}

TEST_F(OldRunFolder, ListingPutsThePageInOutputsJsonOnceAndKeepsTheRest) {
  make("finished");
  nlohmann::json before = nlohmann::json::parse(read_file(run_ / "outputs.json"));
  before["listed_kinds"] = {{"plot", true}, {"test_image", true}};  // written before "report" existed
  write_file_atomic(run_ / "outputs.json", before.dump(2));
  const ReportResult r = write_run_report(run_);
  EXPECT_EQ(r.iteration, 4);
  EXPECT_EQ(read_file(run_ / "outputs.json"), before.dump(2));  // writing the page alone changes nothing
  EXPECT_EQ(list_report_in_outputs(run_, r.iteration), ReportListing::kListed);
  nlohmann::json expected = before;
  expected["listed_kinds"]["report"] = true;
  expected["outputs"].push_back({{"kind", "report"},
                                 {"path", (run_ / "report.html").string()},
                                 {"network", "report"},
                                 {"index", 0},
                                 {"iteration", 4}});
  EXPECT_EQ(nlohmann::json::parse(read_file(run_ / "outputs.json")), expected);
  // Listed again at the same iteration: the file is not rewritten.
  struct stat first {};
  ASSERT_EQ(::stat((run_ / "outputs.json").c_str(), &first), 0);
  EXPECT_EQ(list_report_in_outputs(run_, 4), ReportListing::kAlreadyListed);
  struct stat second {};
  ASSERT_EQ(::stat((run_ / "outputs.json").c_str(), &second), 0);
  EXPECT_EQ(first.st_ino, second.st_ino);
  // A later page updates its entry; still one.
  EXPECT_EQ(list_report_in_outputs(run_, 5), ReportListing::kListed);
  int reports = 0;
  for (const OutputEntry& e : read_manifest_entries(run_ / "outputs.json", 1000))
    if (e.kind == "report") {
      ++reports;
      EXPECT_EQ(e.iteration, 5);
      EXPECT_EQ(e.path, (run_ / "report.html").string());
    }
  EXPECT_EQ(reports, 1);
  EXPECT_EQ(run_folder_lock_holder(run_), "");  // the lock taken for the rewrite is released
}

// A second Ctrl-C (cli/cmd_train.cpp) exits at once, but first marks the live manifest interrupted.
TEST_F(ReportFiles, AbortMarksTheLiveManifestInterruptedOnceAndSealsIt) {
  EXPECT_FALSE(OutputsManifest::abort_live("no run"));  // no manifest in this process
  RunConfig config;
  const fs::path run = dir_ / "run";
  {
    OutputsManifest manifest(run, config);
    manifest.set_completed(3);
    ASSERT_TRUE(OutputsManifest::abort_live("a second stop signal (SIGINT) ended it at once"));
    const nlohmann::json doc = nlohmann::json::parse(read_file(run / "outputs.json"));
    EXPECT_EQ(doc.value("status", ""), "interrupted");
    EXPECT_EQ(doc.value("reason", ""), "a second stop signal (SIGINT) ended it at once");
    EXPECT_EQ(doc.value("iterations", 0), 3);
    // Nothing the run's thread does afterwards turns it back into "running" or changes it.
    const std::string sealed = read_file(run / "outputs.json");
    manifest.add("plot", run / "plots" / "loss.csv", "loss", 0, 4);
    EXPECT_EQ(read_file(run / "outputs.json"), sealed);
    EXPECT_FALSE(OutputsManifest::abort_live("again"));
  }
  // A finished run's manifest keeps its final state.
  OutputsManifest manifest(run, config);
  manifest.finish("finished", "", 2);
  EXPECT_FALSE(OutputsManifest::abort_live("too late"));
  EXPECT_EQ(nlohmann::json::parse(read_file(run / "outputs.json")).value("status", ""), "finished");
}

TEST_F(OldRunFolder, ListingAMovedFolderNamesThePageAsItsOtherFiles) {
  make("finished");
  const fs::path moved = dir_ / "moved";
  fs::rename(run_, moved);
  EXPECT_EQ(list_report_in_outputs(moved, 4), ReportListing::kListed);
  // Below the manifest's run_dir, like every other entry; read back, below the folder it lies in.
  const nlohmann::json doc = nlohmann::json::parse(read_file(moved / "outputs.json"));
  EXPECT_EQ(doc["outputs"].back()["path"], (run_ / "report.html").string());
  const std::vector<OutputEntry> entries = read_manifest_entries(moved / "outputs.json", 1000);
  EXPECT_EQ(entries.back().path, (moved / "report.html").string());
  EXPECT_EQ(list_report_in_outputs(moved, 4), ReportListing::kAlreadyListed);
}

TEST_F(OldRunFolder, ListingNeedsAnOutputsJsonItCanRead) {
  make("finished");
  fs::remove(run_ / "outputs.json");
  EXPECT_EQ(list_report_in_outputs(run_, 4), ReportListing::kNoManifest);
  EXPECT_FALSE(fs::exists(run_ / "outputs.json"));
  write_file_atomic(run_ / "outputs.json", "{\"outputs\": [");
  try {
    list_report_in_outputs(run_, 4);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr((run_ / "outputs.json").string()));
    EXPECT_THAT(e.what(), HasSubstr("left unchanged"));
  }
  EXPECT_EQ(read_file(run_ / "outputs.json"), "{\"outputs\": [");
  // The command writes the page all the same and says why it is not listed.
  std::string out;
  ASSERT_EQ(test::run_command(fmt::format("'{}' report '{}' 2>&1", test::img2img_binary(), run_.string()), &out), 0)
      << out;
  EXPECT_THAT(out, HasSubstr("note: report.html is not listed in outputs.json: the run's manifest"));
  EXPECT_THAT(out, HasSubstr((run_ / "report.html").string() + "\n"));
  EXPECT_EQ(read_file(run_ / "outputs.json"), "{\"outputs\": [");
}

TEST_F(OldRunFolder, ReportCommandLeavesALiveRunsOutputsJsonAlone) {
  make("running");
  const std::string before = read_file(run_ / "outputs.json");
  const RunFolderLock lock(run_);  // a live run (this process); the command runs in another one
  std::string out;
  ASSERT_EQ(test::run_command(fmt::format("'{}' report '{}' 2>&1", test::img2img_binary(), run_.string()), &out), 0)
      << out;
  EXPECT_THAT(out, HasSubstr("lists report.html in outputs.json itself"));
  EXPECT_THAT(read_file(run_ / "report.html"), HasSubstr("id=\"status\">running<"));
  EXPECT_EQ(read_file(run_ / "outputs.json"), before);
  EXPECT_EQ(list_report_in_outputs(run_, 4), ReportListing::kLiveRun);
  EXPECT_EQ(read_file(run_ / "outputs.json"), before);
}

// Iterations are whole numbers on every chart's x axis: a tick per iteration when they span at most 10
// (gnuplot alone marks 1.2, 1.4, ... on a 2-iteration run), gnuplot's own ticks beyond.
TEST(GnuplotIterationAxis, TicksEachIterationOfShortRuns) {
  EXPECT_EQ(gnuplot_iteration_axis({1, 2}), "set xtics 1\n");
  EXPECT_EQ(gnuplot_iteration_axis({2}), "set xrange [1:3]\nset xtics 1\n");  // one point: a range around it
  EXPECT_EQ(gnuplot_iteration_axis({3, 13}), "set xtics 1\n");
  EXPECT_EQ(gnuplot_iteration_axis({3, 14}), "");
  EXPECT_EQ(gnuplot_iteration_axis({}), "");
}

// A real 2-iteration run with plot.type = image: the gnuplot scripts of its PNG plots and of its
// report's charts (kept by a gnuplot on PATH that copies each script it is given) set a tick per
// iteration, and the report's learning-rate chart (y ticks like 2.0e-04) marks no fractional iteration.
TEST_F(ReportFiles, TwoIterationRunChartsTickWholeIterations) {
  std::string gnuplot;
  for (std::istringstream path(std::getenv("PATH")); std::getline(path, gnuplot, ':');)
    if (::access((fs::path(gnuplot) / "gnuplot").c_str(), X_OK) == 0) break;
  if (gnuplot.empty() || ::access((fs::path(gnuplot) / "gnuplot").c_str(), X_OK) != 0)
    GTEST_SKIP() << "gnuplot is not installed (apt-get install gnuplot-nox)";
  const fs::path bin = dir_ / "bin", scripts = dir_ / "scripts";
  fs::create_directories(scripts);
  write_file_atomic(bin / "gnuplot", fmt::format("#!/bin/sh\nfor a in \"$@\"; do case \"$a\" in *.gp) cp \"$a\" '{}/';; "
                                                 "esac; done\nexec '{}/gnuplot' \"$@\"\n",
                                                 scripts.string(), gnuplot));
  fs::permissions(bin / "gnuplot", fs::perms::owner_all);
  RunConfig c = test::tiny_paired_run(dir_);
  c.output.run_dir = (dir_ / "run").string();
  c.train.max_iterations = 2;
  c.plot.type = PlotType::kImage, c.plot.rate = 1;
  const std::string path = std::getenv("PATH");  // this process only: each test runs in its own
  ::setenv("PATH", (bin.string() + ":" + path).c_str(), 1);
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  ::setenv("PATH", path.c_str(), 1);
  for (const char* plot : {"loss", "score", "ssim"}) {
    SCOPED_TRACE(plot);
    EXPECT_TRUE(fs::exists(s.run_dir / "plots" / (std::string(plot) + ".png")));
    const std::string script = read_file(scripts / (std::string(plot) + ".png.gp"));  // iteration 2's
    EXPECT_THAT(script, HasSubstr("\nset xtics 1\n"));
    EXPECT_THAT(script, HasSubstr("\n1 "));
    EXPECT_THAT(script, HasSubstr("\n2 "));
  }
  const std::string charts = read_file(scripts / "charts.gp");  // the report's, at the end of the run
  EXPECT_EQ(count_of(charts, "\nset xtics 1\n"), count_of(charts, "\nplot "));
  EXPECT_EQ(count_of(charts, "\nplot "), 4u);
  const std::vector<std::string> lr = chart_texts(read_file(s.run_dir / "report.html"), "lr");
  EXPECT_THAT(lr, ::testing::Contains(" 1"));
  EXPECT_THAT(lr, ::testing::Contains(" 2"));
  for (const std::string& t : lr) EXPECT_FALSE(std::regex_match(t, std::regex(R"(\s*\d+\.\d+)"))) << t;
}

TEST_F(ReportFiles, RealRunInterruptedInsideAnIterationShowsItsSteps) {
  RunConfig c = test::tiny_paired_run(dir_);  // 4 pairs
  c.output.run_dir = (dir_ / "run").string();
  c.data.batch_size = 1, c.train.max_iterations = 3;
  std::atomic<bool> stop{false};
  int64_t steps = 0;
  TrainOptions options;
  options.interactive = 0, options.stop_requested = &stop;
  options.after_step = [&](int64_t iteration, int64_t step) {
    ++steps;
    if (iteration == 2 && step == 3) stop = true;
  };
  const TrainSummary s = train_pix2pix(c, options);
  ASSERT_TRUE(s.interrupted);
  EXPECT_EQ(steps, 7);
  // The page the run wrote at its end: 1 iteration done, 7 of 3 x 4 steps.
  EXPECT_THAT(read_file(s.run_dir / "report.html"),
              HasSubstr("<td id=\"iteration\">iteration 1 of 3 \u00b7 step 7 of 12</td>"));
}

TEST_F(OldRunFolder, PageIsReplacedAtomically) {
  make("finished");
  const fs::path page = write_run_report(run_).path;
  struct stat before {};
  ASSERT_EQ(::stat(page.c_str(), &before), 0);
  std::ifstream reader(page, std::ios::binary);  // a browser reading the old page
  const std::string old_text = read_file(page);
  fs::remove_all(run_ / "test" / "2");
  write_run_report(run_);
  struct stat after {};
  ASSERT_EQ(::stat(page.c_str(), &after), 0);
  EXPECT_NE(before.st_ino, after.st_ino) << "rewritten in place: a reader could see half a page";
  const std::string seen((std::istreambuf_iterator<char>(reader)), std::istreambuf_iterator<char>());
  EXPECT_EQ(seen, old_text);  // the open reader still reads the whole old page
  EXPECT_NE(read_file(page), old_text);
  for (const auto& e : fs::directory_iterator(run_))  // no temporary left beside it
    EXPECT_THAT(e.path().filename().string(), Not(HasSubstr("tmp")));
}

TEST_F(OldRunFolder, ReportCommandPrintsThePathOrSaysWhatIsWrong) {
  make("finished");
  std::string out;
  ASSERT_EQ(test::run_command(fmt::format("'{}' report '{}' 2>&1", test::img2img_binary(), run_.string()), &out), 0)
      << out;
  EXPECT_EQ(out, (run_ / "report.html").string() + "\n");
  EXPECT_TRUE(fs::exists(run_ / "report.html"));
  // A folder made before the report existed: outputs.json lists the page now.
  EXPECT_THAT(read_file(run_ / "outputs.json"), HasSubstr("\"kind\": \"report\""));
  const fs::path empty = dir_ / "empty";
  fs::create_directories(empty);
  EXPECT_EQ(test::run_command(fmt::format("'{}' report '{}' 2>&1", test::img2img_binary(), empty.string()), &out), 1);
  EXPECT_THAT(out, HasSubstr("is not a run folder"));
  EXPECT_THAT(out, HasSubstr(empty.string()));
}

TEST_F(ReportFiles, NotARunFolderIsAClearError) {
  try {
    write_run_report(dir_);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr(dir_.string()));
    EXPECT_THAT(e.what(), HasSubstr("config.toml, outputs.json and train.log"));
  }
  EXPECT_THROW(write_run_report(dir_ / "missing"), DataError);
  EXPECT_FALSE(fs::exists(dir_ / "report.html"));
}

}  // namespace
}  // namespace img2img

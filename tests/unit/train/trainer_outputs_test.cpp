// Testing during training, early stop, plots, outputs.json and --events on tiny runs.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fmt/format.h>        // fmt::format
#include <nlohmann/json.hpp>  // nlohmann::json

#include <fstream>  // std::ifstream
#include <map>      // std::map
#include <set>      // std::set

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/core/path_template.h"
#include "img2img/data/image_io.h"
#include "img2img/train/trainer.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

class TrainerOutputsTest : public test::TempDirTest {
 protected:
  // `count` real photo crops as 8-bit PNG pairs under dir_/name/{in,ref}; the reference is the
  // input itself, so a few iterations reach a high SSIM.
  DataSource write_pairs(const std::string& name, int count, unsigned seed) {
    DataSource s;
    s.input_dir = (dir_ / name / "in").string(), s.reference_dir = (dir_ / name / "ref").string();
    const auto crops = test::photo_crops(count, 32, seed);
    for (size_t i = 0; i < crops.size(); ++i) {
      const std::string file = fmt::format("{:03d}.png", i);
      write_image(fs::path(s.input_dir) / file, crops[i], PixelDepth::k8);
      write_image(fs::path(s.reference_dir) / file, crops[i], PixelDepth::k8);
    }
    return s;
  }

  RunConfig tiny_config() {
    RunConfig c;
    static_cast<DataSource&>(c.data) = write_pairs("train", 4, 1);
    c.data.image_size = 32;
    c.data.batch_size = 4;
    c.generator.layers = 5;
    c.generator.initial_layer_size = 8;
    c.discriminator.initial_layer_size = 8;
    c.discriminator.layers = 2;
    c.train.max_iterations = 6;
    c.train.learning_rate = 0.002;
    c.train.linear_decay = 0;
    c.test.enabled = true;
    static_cast<DataSource&>(c.test) = write_pairs("test", 4, 2);
    c.test.batch_size = 3;
    c.test.size = 3;
    c.output.run_dir = (dir_ / "run").string();
    c.output.model_save_rate = 4;
    c.device.device = "cpu";
    return c;
  }

  static nlohmann::json read_json(const fs::path& path) { return nlohmann::json::parse(read_file(path)); }

  static std::vector<nlohmann::json> read_events(const fs::path& path) {
    std::vector<nlohmann::json> events;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) events.push_back(nlohmann::json::parse(line));
    return events;
  }

  // Rows of a tidy plot CSV per series (checks the header).
  static std::map<std::string, int> csv_series_rows(const fs::path& path) {
    std::ifstream in(path);
    std::string line;
    std::getline(in, line);
    EXPECT_EQ(line, "iteration,series,value") << path;
    std::map<std::string, int> rows;
    while (std::getline(in, line)) {
      const auto a = line.find(','), b = line.rfind(',');
      ++rows[line.substr(a + 1, b - a - 1)];
    }
    return rows;
  }

  // Every regular file under `dir`, absolute.
  static std::set<std::string> files_under(const fs::path& dir) {
    std::set<std::string> files;
    for (const auto& e : fs::recursive_directory_iterator(dir))
      if (e.is_regular_file()) files.insert(fs::absolute(e.path()).lexically_normal().string());
    return files;
  }
};

TEST_F(TrainerOutputsTest, StopsEarlyAtTargetSsimAndWritesFinalOutputs) {
  RunConfig c = tiny_config();
  c.train.max_iterations = 40;
  c.test.frequency = 2;
  c.test.target_ssim = 0.3;  // untrained ~0.24; the identity mapping passes 0.3 within a few iterations
  TrainOptions options;
  options.interactive = 0;
  options.events = (dir_ / "events.jsonl").string();
  const TrainSummary s = train_pix2pix(c, options);

  ASSERT_TRUE(s.stopped_early) << "test SSIM " << s.test_ssim.value_or(-2);
  EXPECT_LT(s.iterations, 40);
  EXPECT_EQ(s.iterations % 2, 0);
  ASSERT_TRUE(s.test_ssim);
  EXPECT_GE(*s.test_ssim, 0.3);
  EXPECT_THAT(s.stop_reason, HasSubstr("target_ssim"));
  EXPECT_THAT(read_file(s.run_dir / "train.log"), HasSubstr("early stop: test SSIM"));
  // The final checkpoint is written at the stopping iteration, even off the save rate.
  EXPECT_TRUE(fs::exists(s.final_generator));
  EXPECT_EQ(s.final_generator.filename().string(), fmt::format("generator_0_{}.pt", s.iterations));  // plain

  const nlohmann::json manifest = read_json(s.run_dir / "outputs.json");
  EXPECT_EQ(manifest["status"], "stopped_early");
  EXPECT_EQ(manifest["reason"], s.stop_reason);
  EXPECT_EQ(manifest["iterations"], s.iterations);

  // Plots: train SSIM, losses and scores every iteration; test SSIM at every test.
  const auto ssim_rows = csv_series_rows(s.run_dir / "plots/ssim.csv");
  EXPECT_EQ(ssim_rows.at("train"), s.iterations);
  EXPECT_EQ(ssim_rows.at("test"), s.iterations / 2);
  EXPECT_EQ(csv_series_rows(s.run_dir / "plots/loss.csv"),
            (std::map<std::string, int>{{"d_fake", s.iterations}, {"d_real", s.iterations},
                                        {"g_gan", s.iterations}, {"g_l1", s.iterations}}));
  EXPECT_EQ(csv_series_rows(s.run_dir / "plots/score.csv"),
            (std::map<std::string, int>{{"generated", s.iterations}, {"real", s.iterations}}));

  // Test images: input, generated, reference and side by side per sample per test, named by iteration
  // (the folder's {iteration} plain, the file names' prefix zero-padded so they sort).
  const fs::path first_test = s.run_dir / "test" / "2";
  int images = 0;
  for (const auto& e : fs::directory_iterator(first_test)) {
    EXPECT_THAT(e.path().filename().string(), ::testing::StartsWith(format_iteration(2) + "_"));
    ++images;
  }
  EXPECT_EQ(images, 3 * 4);

  const auto events = read_events(dir_ / "events.jsonl");
  ASSERT_FALSE(events.empty());
  EXPECT_EQ(events.front()["event"], "run_start");
  EXPECT_EQ(events.back()["event"], "run_end");
  EXPECT_EQ(events.back()["status"], "stopped_early");
  std::map<std::string, int> counts;
  for (const auto& e : events) ++counts[e["event"].get<std::string>()];
  EXPECT_EQ(counts["iteration"], s.iterations);
  EXPECT_EQ(counts["test"], s.iterations / 2);
  EXPECT_EQ(counts["early_stop"], 1);
  EXPECT_GT(counts["file"], 0);
  for (const auto& e : events)
    if (e["event"] == "iteration") {
      for (const char* key : {"iteration", "lr", "g_gan", "g_l1", "d_real", "d_fake", "train_ssim", "images_per_s",
                              "eta_s"})
        EXPECT_TRUE(e.contains(key)) << key;
    }
}

TEST_F(TrainerOutputsTest, ManifestListsEveryFileWrittenWithPngPlots) {
  RunConfig c = tiny_config();
  c.train.max_iterations = 4;
  c.plot.type = PlotType::kImage;
  c.plot.rate = 2;
  c.test.frequency = 2;
  c.output.model_save_rate = 3;
  TrainOptions options;
  options.interactive = 0;
  const TrainSummary s = train_pix2pix(c, options);
  EXPECT_FALSE(s.stopped_early);
  EXPECT_EQ(s.iterations, 4);

  const nlohmann::json manifest = read_json(s.run_dir / "outputs.json");
  EXPECT_EQ(manifest["status"], "finished");
  std::set<std::string> listed;
  std::map<std::string, int> kinds;
  for (const auto& o : manifest["outputs"]) {
    const std::string path = o["path"];
    EXPECT_TRUE(fs::exists(path)) << path;
    EXPECT_TRUE(listed.insert(path).second) << "listed twice: " << path;
    ++kinds[o["kind"].get<std::string>()];
  }
  // checkpoints at 3 and 4 (G + D, weights + metadata + optimiser state), the ONNX generator at the last iteration,
  // the latest test's 3 samples x 4 images, 3 plots as PNG charts and the CSV of their points, report.html.
  EXPECT_EQ(kinds, (std::map<std::string, int>{
                       {"checkpoint", 4}, {"checkpoint_meta", 4}, {"checkpoint_state", 4}, {"onnx", 1}, {"plot", 6},
                       {"report", 1}, {"test_image", 12}}));
  EXPECT_EQ(s.final_onnx.filename(), "generator_0_4.onnx");
  std::set<std::string> written = files_under(s.run_dir);
  for (const char* own : {"config.toml", "train.log", "outputs.json", ".img2img-train.lock"})
    written.erase(fs::absolute(s.run_dir / own).lexically_normal().string());
  // The first test's images stay on disk but are no longer listed (outputs.json stays small).
  for (const std::string& f : files_under(s.run_dir / "test" / "2")) EXPECT_EQ(written.erase(f), 1u) << f;
  // The report's own files (its cache; previews of 16-bit images) are the page's, not the run's outputs.
  EXPECT_FALSE(files_under(s.run_dir / "report").empty());
  for (const std::string& f : files_under(s.run_dir / "report")) EXPECT_EQ(written.erase(f), 1u) << f;
  EXPECT_EQ(written, listed);
  for (const char* plot : {"ssim", "loss", "score"}) {
    const cv::Mat png = read_image(s.run_dir / "plots" / (std::string(plot) + ".png")).pixels;
    EXPECT_GT(png.cols, 400) << plot;
  }
}

TEST_F(TrainerOutputsTest, TogglesDecideWhichKindsAreListed) {
  RunConfig c = tiny_config();
  c.train.max_iterations = 2;
  c.output.add_model_outputs = false;
  c.output.add_onnx_outputs = false;
  c.test.add_outputs = false;
  TrainOptions options;
  options.interactive = 0;
  const TrainSummary s = train_pix2pix(c, options);
  const nlohmann::json manifest = read_json(s.run_dir / "outputs.json");
  ASSERT_EQ(manifest["outputs"].size(), 4u);  // the 3 plots and report.html
  for (const auto& o : manifest["outputs"]) EXPECT_TRUE(o["kind"] == "plot" || o["kind"] == "report") << o;
  EXPECT_FALSE(manifest["listed_kinds"]["checkpoint"].get<bool>());
  EXPECT_FALSE(manifest["listed_kinds"]["onnx"].get<bool>());
  EXPECT_TRUE(fs::exists(s.final_generator));  // still written, just not listed
  EXPECT_TRUE(fs::exists(s.final_onnx));
}

TEST_F(TrainerOutputsTest, AFailedRunEmitsErrorAndMarksTheManifest) {
  RunConfig c = tiny_config();
  // Validation passes (the folders exist); decoding then meets a corrupt image. The folder exists before
  // the run (a new run's own folder would be removed: run_folder_test.cpp), so the run's record stays.
  fs::create_directories(dir_ / "run");
  { std::ofstream(fs::path(c.data.input_dir) / "zz.png") << "not a png"; }
  { std::ofstream(fs::path(c.data.reference_dir) / "zz.png") << "not a png"; }
  TrainOptions options;
  options.interactive = 0;
  options.events = (dir_ / "events.jsonl").string();
  EXPECT_THROW(train_pix2pix(c, options), DataError);
  const auto events = read_events(dir_ / "events.jsonl");
  ASSERT_GE(events.size(), 2u);
  const nlohmann::json& error = events[events.size() - 2];
  EXPECT_EQ(error["event"], "error");
  EXPECT_THAT(error["message"].get<std::string>(), HasSubstr("zz.png"));
  EXPECT_EQ(events.back()["event"], "run_end");
  EXPECT_EQ(events.back()["status"], "failed");
  EXPECT_EQ(events.back()["run_dir_removed"], false);
  const nlohmann::json manifest = read_json(dir_ / "run" / "outputs.json");
  EXPECT_EQ(manifest["status"], "failed");
  EXPECT_THAT(manifest["reason"].get<std::string>(), HasSubstr("zz.png"));
  // train.log ends with the error too (it ended with "run folder: ..." and said nothing of the failure);
  // the message may span lines (one per bad file).
  const std::string log = read_file(dir_ / "run" / "train.log");
  const std::string expected_end = "error: " + error["message"].get<std::string>() + "\n";
  ASSERT_GE(log.size(), expected_end.size()) << log;
  EXPECT_EQ(log.substr(log.size() - expected_end.size()), expected_end) << log;
}

}  // namespace
}  // namespace img2img

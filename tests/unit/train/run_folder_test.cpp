// Run folders (issue 14): runs started in the same second with a {date}/{time} output.run_dir template
// each get a folder of their own (FOLDER, FOLDER-2, ...), claimed atomically; a fixed folder holding a
// run is still refused.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>      // fmt::format
#include <opencv2/core.hpp>  // cv::Mat, cv::RNG

#include <atomic>   // std::atomic
#include <set>      // std::set
#include <string>   // std::string
#include <thread>   // std::thread
#include <vector>   // std::vector

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/core/path_template.h"
#include "img2img/data/image_io.h"
#include "img2img/run/checkpoint.h"
#include "img2img/run/run_outputs.h"
#include "img2img/train/trainer.h"
#include "support/test_support.h"
#include "support/tiny_run.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;

const TemplateValues kNoon{{"date", "2024-05-01"}, {"time", "120000"}};

class RunFolderTest : public test::TempDirTest {
 protected:
  // 4 random 32 px RGB pairs in dir_/in and dir_/ref and a 1-iteration CPU run on them (tiny_run.h).
  RunConfig small_config() { return test::tiny_paired_run(dir_); }
};

TEST_F(RunFolderTest, SameSecondRunsGetTheirOwnFolders) {
  RunConfig c;
  c.output.run_dir = (dir_ / "runs" / "{date}-{time}").string();
  const fs::path x = dir_ / "runs" / "2024-05-01-120000";
  const RunFolder first = create_run_folder(c, nullptr, &kNoon);
  const RunFolder second = create_run_folder(c, nullptr, &kNoon);
  EXPECT_EQ(first.dir, x);
  EXPECT_EQ(second.dir, x.string() + "-2");
  EXPECT_EQ(second.values.at("run_dir"), x.string() + "-2");  // {run_dir} of model_path & co.
  EXPECT_TRUE(fs::exists(second.dir / "config.toml"));
  // The config records the template, not the folder: the next run makes its own folder again.
  EXPECT_THAT(second.config_toml, HasSubstr("run_dir = \"" + c.output.run_dir + "\""));
  c.output.run_dir += "/";  // a trailing '/' still numbers the folder's name
  EXPECT_EQ(create_run_folder(c, nullptr, &kNoon).dir, x.string() + "-3");
  // Freed folders are not reused: a template names a new folder per run.
  EXPECT_EQ(create_run_folder(c, nullptr, &kNoon).dir, x.string() + "-4");
  EXPECT_FALSE(fs::exists(first.dir / "outputs.json"));
}

// Eight runs created at once in one second: each creates its folder itself (mkdir), so none shares one.
TEST_F(RunFolderTest, ConcurrentSameSecondRunsGetTheirOwnFolders) {
  RunConfig c;
  c.output.run_dir = (dir_ / "runs" / "{date}-{time}").string();
  constexpr int kRuns = 8;
  std::vector<RunFolder> runs(kRuns);
  std::vector<std::string> errors(kRuns);
  std::atomic<int> waiting{kRuns};
  std::vector<std::thread> threads;
  for (int k = 0; k < kRuns; ++k)
    threads.emplace_back([&, k] {
      --waiting;
      while (waiting.load() > 0) std::this_thread::yield();  // start together
      try {
        runs[k] = create_run_folder(c, nullptr, &kNoon);
      } catch (const std::exception& e) {
        errors[k] = e.what();
      }
    });
  for (auto& t : threads) t.join();
  std::set<std::string> dirs, expected;
  for (int k = 0; k < kRuns; ++k) {
    EXPECT_EQ(errors[k], "") << "run " << k;
    dirs.insert(runs[k].dir.string());
    expected.insert((dir_ / "runs" / "2024-05-01-120000").string() + (k == 0 ? "" : fmt::format("-{}", k + 1)));
  }
  EXPECT_EQ(dirs, expected);
}

// Two `img2img train` processes started together with a {date} template (both in the same day, so
// both expand to the same folder) both train, in D and D-2; their files have plain iteration names.
TEST_F(RunFolderTest, TwoTrainProcessesStartedTogetherBothFinish) {
  small_config();  // writes the pairs into dir_/in and dir_/ref
  write_file_atomic(dir_ / "run.toml",
                    "[data]\ninput_dir = \"in\"\nreference_dir = \"ref\"\nimage_size = 32\nbatch_size = 2\n"
                    "[train]\nmax_iterations = 2\n"
                    "[generator]\nlayers = 5\ninitial_layer_size = 8\n"
                    "[discriminator]\nlayers = 2\ninitial_layer_size = 8\n"
                    "[output]\nrun_dir = \"runs/{date}\"\n"
                    "[plot]\ntype = \"disabled\"\n"
                    "[device]\ndevice = \"cpu\"\ncpu_threads = 1\n");
  const std::string date = date_time_template_values().at("date");
  std::string out;
  const int code = test::run_command(
      fmt::format("cd '{0}' && ({1} train --plain-progress --config run.toml > a.log 2>&1; echo $? > a.rc) & "
                  "(cd '{0}' && {1} train --plain-progress --config run.toml > b.log 2>&1; echo $? > b.rc) & wait",
                  dir_.string(), test::img2img_binary()),
      &out);
  ASSERT_EQ(code, 0) << out;
  if (date_time_template_values().at("date") != date) GTEST_SKIP() << "the day changed during the test";
  for (const char* run : {"a", "b"})
    EXPECT_EQ(read_file(dir_ / fmt::format("{}.rc", run)), "0\n") << read_file(dir_ / fmt::format("{}.log", run));
  std::set<std::string> folders;
  for (const auto& e : fs::directory_iterator(dir_ / "runs")) folders.insert(e.path().filename().string());
  EXPECT_EQ(folders, (std::set<std::string>{date, date + "-2"}));
  for (const std::string& folder : folders) {
    const fs::path run = dir_ / "runs" / folder;
    EXPECT_THAT(read_file(run / "outputs.json"), HasSubstr("\"status\": \"finished\"")) << folder;
    for (const char* file : {"checkpoints/generator_0_2.pt", "checkpoints/generator_0_2.json",
                             "checkpoints/generator_0_2.optim.pt", "checkpoints/discriminator_0_2.pt",
                             "onnx/generator_0_2.onnx"})
      EXPECT_TRUE(fs::exists(run / file)) << run / file;
    EXPECT_EQ(read_checkpoint_meta(run).iteration, 2);
  }
}

// A fixed output.run_dir that holds a run stays an error (no numbered folder); the same folder
// reached through a {date}-{time} template is passed by for FOLDER-2.
TEST_F(RunFolderTest, ALiteralFolderWithARunIsStillRefused) {
  RunConfig c = small_config();
  const fs::path x = dir_ / "runs" / "2024-05-01-120000";
  c.output.run_dir = x.string();
  train_pix2pix(c, TrainOptions{0});
  try {
    create_run_folder(c, nullptr, &kNoon);
    ADD_FAILURE() << "a new run into a fixed folder holding a run did not throw";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("output.run_dir = '" + x.string() + "' already holds a run with checkpoints"));
  }
  EXPECT_FALSE(fs::exists(x.string() + "-2"));
  c.output.run_dir = (dir_ / "runs" / "{date}-{time}").string();
  EXPECT_EQ(create_run_folder(c, nullptr, &kNoon).dir, x.string() + "-2");
}

}  // namespace
}  // namespace img2img

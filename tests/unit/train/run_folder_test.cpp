// Run folders (issue 14): runs started in the same second with a {date}/{time} output.run_dir template
// each get a folder of their own (FOLDER, FOLDER-2, ...), claimed atomically; a fixed folder holding a
// run is still refused. A new run that fails before its first iteration completes removes the folder
// it made; a --resume's folder and one that existed before are never removed.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>      // fmt::format
#include <opencv2/core.hpp>  // cv::Mat, cv::RNG

#include <nlohmann/json.hpp>  // nlohmann::json

#include <atomic>   // std::atomic
#include <fstream>  // std::ifstream, std::ofstream
#include <set>      // std::set
#include <string>   // std::string
#include <thread>   // std::thread
#include <vector>   // std::vector

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/core/path_template.h"
#include "img2img/data/image_io.h"
#include "img2img/run/checkpoint.h"
#include "img2img/run/resume_point.h"
#include "img2img/run/run_outputs.h"
#include "img2img/train/trainer.h"
#include "support/test_support.h"
#include "support/tiny_run.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

const TemplateValues kNoon{{"date", "2024-05-01"}, {"time", "120000"}};

class RunFolderTest : public test::TempDirTest {
 protected:
  // 4 random 32 px RGB pairs in dir_/in and dir_/ref and a 1-iteration CPU run on them (tiny_run.h).
  RunConfig small_config() { return test::tiny_paired_run(dir_); }

  // A pair zz.png that is no image in dir_/in and dir_/ref: validation passes (it looks at names), decoding fails.
  void add_corrupt_pair() {
    for (const char* side : {"in", "ref"}) std::ofstream(dir_ / side / "zz.png") << "not a png";
  }

  // Every event of the --events file `path`.
  static std::vector<nlohmann::json> read_events(const fs::path& path) {
    std::vector<nlohmann::json> events;
    std::ifstream in(path);
    for (std::string line; std::getline(in, line);) events.push_back(nlohmann::json::parse(line));
    return events;
  }

  // The message of the error train_pix2pix(c, options) throws ("" and a failure when none).
  static std::string train_error(const RunConfig& c, const TrainOptions& options) {
    try {
      train_pix2pix(c, options);
    } catch (const Error& e) {
      return e.what();
    }
    ADD_FAILURE() << "training did not fail";
    return "";
  }
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

// A corrupt file found while decoding, after the run folder was made: the folder this run made is
// removed (it held config.toml, outputs.json, train.log and report.html of a run that trained nothing), the
// error says so, and the events end with the error and a failed run_end that says the folder is gone.
TEST_F(RunFolderTest, AFailureBeforeTrainingRemovesTheFolderItMade) {
  RunConfig c = small_config();
  c.output.run_dir = (dir_ / "runs" / "{date}-{time}").string();
  add_corrupt_pair();
  TrainOptions options{0};
  options.events = (dir_ / "events.jsonl").string();
  const std::string what = train_error(c, options);
  EXPECT_THAT(what, HasSubstr("cannot decode image '" + (dir_ / "in" / "zz.png").string() + "'"));
  // The data set's headline says nothing was trained; the last line names the removed folder.
  EXPECT_THAT(what, HasSubstr("nothing was trained"));
  const std::string last_line = what.substr(what.rfind('\n') + 1);
  EXPECT_THAT(last_line, ::testing::MatchesRegex("The run folder '.*/runs/[0-9-]+' was removed\\."));
  EXPECT_TRUE(fs::is_empty(dir_ / "runs")) << "a run folder was left behind";
  const std::vector<nlohmann::json> events = read_events(dir_ / "events.jsonl");
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events[events.size() - 2]["event"], "error");
  EXPECT_EQ(events[events.size() - 2]["message"], what);
  EXPECT_EQ(events.back()["event"], "run_end");
  EXPECT_EQ(events.back()["status"], "failed");
  EXPECT_EQ(events.back()["run_dir_removed"], true);
}

// A data error inside the first iteration (streamed data whose files broke after the check at the start):
// the run_start event named the folder, which is then removed; an error after a completed iteration
// keeps the folder (its log and manifest record a run that trained), even without a checkpoint.
TEST_F(RunFolderTest, AFailureInTheFirstIterationRemovesTheFolderALaterOneKeepsIt) {
  RunConfig c = small_config();
  c.data.batch_size = 1, c.data.worker_threads = 0;  // 4 steps, each decoded when it is taken
  c.data.memory_budget_mb = 0.001;                   // streamed: decoded again per batch
  c.train.max_iterations = 3;
  c.output.model_save_rate = 0;  // a checkpoint at the last iteration only
  const std::string png = read_file(dir_ / "in" / "0.png");
  const auto break_inputs = [&] {
    for (int i = 0; i < 4; ++i) std::ofstream(dir_ / "in" / fmt::format("{}.png", i)) << "broken";
  };
  const auto mend_inputs = [&] {
    for (int i = 0; i < 4; ++i) write_file_atomic(dir_ / "in" / fmt::format("{}.png", i), png);
  };
  for (const int64_t broken_after : {1, 4}) {  // iteration 1, after its step 1 or its last step
    SCOPED_TRACE(broken_after);
    mend_inputs();
    const fs::path run = dir_ / fmt::format("run{}", broken_after);
    c.output.run_dir = run.string();
    TrainOptions options{0};
    options.events = (dir_ / fmt::format("events{}.jsonl", broken_after)).string();
    options.after_step = [&](int64_t iteration, int64_t step) {
      if (iteration == 1 && step == broken_after) break_inputs();
    };
    const std::string what = train_error(c, options);
    const std::vector<nlohmann::json> events = read_events(options.events);
    ASSERT_FALSE(events.empty());
    EXPECT_EQ(events.back()["status"], "failed");
    if (broken_after == 1) {
      EXPECT_THAT(what, HasSubstr("iteration 1, step 2: "));
      EXPECT_THAT(what, ::testing::EndsWith("\nNothing was trained; the run folder '" + run.string() + "' was removed."));
      EXPECT_FALSE(fs::exists(run));
      EXPECT_EQ(events.back()["run_dir_removed"], true);
      bool started = false;
      for (const auto& e : events) started = started || (e["event"] == "run_start" && e["run_dir"] == run.string());
      EXPECT_TRUE(started) << "run_start should have named the folder";
    } else {
      EXPECT_THAT(what, HasSubstr("iteration 2, step 1: "));
      EXPECT_THAT(what, Not(HasSubstr("was removed")));
      EXPECT_EQ(events.back()["run_dir_removed"], false);
      EXPECT_THAT(read_file(run / "train.log"), HasSubstr("iteration 1/3"));
      const nlohmann::json manifest = nlohmann::json::parse(read_file(run / "outputs.json"));
      EXPECT_EQ(manifest["status"], "failed");
      EXPECT_EQ(manifest["iterations"], 1);
    }
  }
}

// --resume, in the run's own folder or into a new one: a failure before training removes nothing.
TEST_F(RunFolderTest, AResumedRunsFolderIsNeverRemoved) {
  RunConfig c = small_config();
  const fs::path run = dir_ / "run";
  c.output.run_dir = run.string();
  train_pix2pix(c, TrainOptions{0});
  const ResumePoint point = find_resume_point(run);
  std::vector<fs::path> before;
  for (const auto& e : fs::recursive_directory_iterator(run)) before.push_back(e.path());
  add_corrupt_pair();
  c.train.max_iterations = 2;
  TrainOptions options{0};
  options.resume = point;
  for (const fs::path& folder : {run, dir_ / "branch"}) {
    SCOPED_TRACE(folder.string());
    c.output.run_dir = folder.string();
    const std::string what = train_error(c, options);
    EXPECT_THAT(what, HasSubstr("zz.png"));
    EXPECT_THAT(what, Not(HasSubstr("was removed")));
    EXPECT_EQ(nlohmann::json::parse(read_file(folder / "outputs.json"))["status"], "failed");
    EXPECT_THAT(read_file(folder / "train.log"), HasSubstr("error: "));
  }
  for (const fs::path& p : before) EXPECT_TRUE(fs::exists(p)) << p;
  EXPECT_EQ(find_resume_point(run).iteration, 1);
}

// A folder that existed before the run (named by the user, even empty) is kept with the failed-run record.
TEST_F(RunFolderTest, AFolderThatExistedBeforeIsKept) {
  RunConfig c = small_config();
  const fs::path mine = dir_ / "mine";
  fs::create_directories(mine);
  c.output.run_dir = mine.string();
  add_corrupt_pair();
  EXPECT_THAT(train_error(c, TrainOptions{0}), Not(HasSubstr("was removed")));
  ASSERT_TRUE(fs::is_directory(mine));
  const nlohmann::json manifest = nlohmann::json::parse(read_file(mine / "outputs.json"));
  EXPECT_EQ(manifest["status"], "failed");
  EXPECT_THAT(manifest["reason"].get<std::string>(), HasSubstr("No checkpoint is listed in this run folder"));
}

}  // namespace
}  // namespace img2img

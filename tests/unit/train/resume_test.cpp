// img2img train --resume: 3 iterations + resume 3 == 6 in one go (bit for bit, CPU), and flags that
// contradict the checkpoint's architecture are errors naming both values.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <fmt/format.h>       // fmt::format
#include <opencv2/core.hpp>   // cv::Mat, cv::randu

#include <nlohmann/json.hpp>  // nlohmann::json

#include <map>      // std::map
#include <regex>    // std::regex
#include <sstream>  // std::istringstream

#include "img2img/config/config_keys.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "img2img/models/factory.h"
#include "img2img/run/checkpoint.h"
#include "img2img/train/lr_schedule.h"
#include "img2img/run/outputs_manifest.h"
#include "img2img/train/model_tester.h"
#include "img2img/run/plot_writer.h"
#include "img2img/run/progress.h"
#include "img2img/run/run_writer.h"
#include "img2img/train/trainer.h"
#include "img2img/train/training_state.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class ResumeTest : public test::TempDirTest {
 protected:
  // 8 random 32 px RGB pairs (reference = a fixed function of the input), 8-bit PNG.
  RunConfig small_config() {
    RunConfig c;
    c.data.input_dir = (dir_ / "in").string(), c.data.reference_dir = (dir_ / "ref").string();
    cv::RNG rng(12345);
    for (int i = 0; i < 8; ++i) {
      cv::Mat x(32, 32, CV_32FC3);
      rng.fill(x, cv::RNG::UNIFORM, 0.0, 1.0);
      write_image(fs::path(c.data.input_dir) / fmt::format("{:02d}.png", i), x, PixelDepth::k8);
      write_image(fs::path(c.data.reference_dir) / fmt::format("{:02d}.png", i), cv::Scalar(1, 1, 1) - x,
                  PixelDepth::k8);
    }
    c.data.image_size = 32, c.data.batch_size = 3;  // 3 steps per iteration, the last one short
    c.data.flip_horizontal = 0.5, c.data.crop = 0.8, c.data.rotation = 0.3;  // mt19937_64 draws
    c.generator.layers = 5, c.generator.initial_layer_size = 8;  // dropout 0.5: torch RNG draws
    c.discriminator.layers = 2, c.discriminator.initial_layer_size = 8;
    c.train.scheduler = SchedulerKind::kStep, c.train.step_size = 2, c.train.gamma = 0.5;
    c.train.seed = 7;
    c.output.model_save_rate = 100;  // only the last iteration
    c.output.onnx_path = "";
    c.plot.type = PlotType::kDisabled;
    c.device.device = "cpu";
    c.device.cpu_threads = 1;  // fixed: auto threads follow the free cores, and the last bits with them
    return c;
  }

  // A run's outputs.json as "kind network index iteration file-name" lines, in order, and its status.
  static std::vector<std::string> manifest_lines(const fs::path& run_dir, std::string* status = nullptr) {
    const nlohmann::json doc = nlohmann::json::parse(read_file(run_dir / "outputs.json"));
    if (status != nullptr) *status = doc["status"].get<std::string>();
    std::vector<std::string> out;
    for (const auto& o : doc["outputs"])
      out.push_back(fmt::format("{} {} {} {} {}", o["kind"].get<std::string>(), o["network"].get<std::string>(),
                                o["index"].get<int64_t>(), o["iteration"].get<int64_t>(),
                                fs::path(o["path"].get<std::string>()).filename().string()));
    return out;
  }

  // small_config plus CSV plots every iteration and a test of 2 of the 8 samples every iteration.
  RunConfig plotted_config() {
    RunConfig c = small_config();
    c.plot.type = PlotType::kCsv, c.plot.rate = 1;
    c.test.enabled = true;
    c.test.input_dir = c.data.input_dir, c.test.reference_dir = c.data.reference_dir;
    c.test.size = 2;
    c.output.model_save_rate = 1;
    return c;
  }

  static void expect_same_weights(const RunConfig& c, const fs::path& a, const fs::path& b) {
    UnetGenerator ga(generator_options(c)), gb(generator_options(c));
    PatchDiscriminator da(discriminator_options(c)), db(discriminator_options(c));
    const bool gen = a.filename().string().rfind("generator", 0) == 0;
    torch::nn::Module& ma = gen ? static_cast<torch::nn::Module&>(*ga) : *da;
    torch::nn::Module& mb = gen ? static_cast<torch::nn::Module&>(*gb) : *db;
    load_weights(a, ma);
    load_weights(b, mb);
    const auto pa = ma.named_parameters(), pb = mb.named_parameters();
    for (size_t j = 0; j < pa.size(); ++j)
      EXPECT_TRUE(torch::equal(pa[j].value(), pb[j].value())) << a << " " << pa[j].key();
    const auto ba = ma.named_buffers(), bb = mb.named_buffers();
    for (size_t j = 0; j < ba.size(); ++j)
      EXPECT_TRUE(torch::equal(ba[j].value(), bb[j].value())) << a << " " << ba[j].key();
  }
};

TEST_F(ResumeTest, ThreePlusThreeEqualsSix) {
  RunConfig c = small_config();
  for (OptimizerKind kind : {OptimizerKind::kAdam, OptimizerKind::kAsgd}) {
    SCOPED_TRACE(static_cast<int>(kind));
    c.train.optimizer = kind;
    c.train.max_iterations = 6;
    c.output.run_dir = (dir_ / fmt::format("six{}", static_cast<int>(kind))).string();
    const TrainSummary six = train_pix2pix(c, TrainOptions{0});

    c.train.max_iterations = 3;
    c.output.run_dir = (dir_ / fmt::format("three{}", static_cast<int>(kind))).string();
    const TrainSummary three = train_pix2pix(c, TrainOptions{0});
    ASSERT_TRUE(fs::exists(training_state_path(three.final_generator)));

    TrainOptions options{0};
    options.resume = find_resume_point(three.run_dir);  // a run folder: its newest checkpoint
    EXPECT_EQ(options.resume->iteration, 3);
    c.train.max_iterations = 6;
    c.output.run_dir = (dir_ / fmt::format("resumed{}", static_cast<int>(kind))).string();
    check_resume_config(c, *options.resume);
    const TrainSummary resumed = train_pix2pix(c, options);
    EXPECT_EQ(resumed.iterations, 6);
    ASSERT_EQ(six.checkpoints.size(), 2u);
    ASSERT_EQ(resumed.checkpoints.size(), 2u);
    EXPECT_EQ(six.checkpoints[0].filename(), resumed.checkpoints[0].filename());  // iteration 6 in the name
    for (size_t i = 0; i < 2; ++i) expect_same_weights(c, six.checkpoints[i], resumed.checkpoints[i]);
  }
}

TEST_F(ResumeTest, ContradictingArchitectureNamesBothValues) {
  RunConfig c = small_config();
  c.train.max_iterations = 1;
  c.output.run_dir = (dir_ / "run").string();
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  const ResumePoint point = find_resume_point(s.final_generator);
  RunConfig changed = c;
  changed.train.max_iterations = 2;
  changed.generator.layers = 4;
  changed.train.optimizer = OptimizerKind::kSgd;
  try {
    check_resume_config(changed, point);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("generator.layers = 4 contradicts the checkpoint's generator.layers = 5"));
    EXPECT_THAT(e.what(), HasSubstr("train.optimizer = \"sgd\" contradicts the checkpoint's train.optimizer = \"adam\""));
  }
  changed = c;  // same architecture, but nothing left to do
  EXPECT_THROW(check_resume_config(changed, point), ConfigError);
  changed.train.max_iterations = 2;
  EXPECT_NO_THROW(check_resume_config(changed, point));
}

TEST_F(ResumeTest, CheckpointWithoutTrainingStateIsRejected) {
  RunConfig c = small_config();
  c.train.max_iterations = 1;
  c.output.run_dir = (dir_ / "run").string();
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  const fs::path state = training_state_path(s.final_generator);
  fs::rename(state, state.string() + ".keep");
  try {
    find_resume_point(s.final_generator);
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_THAT(e.what(), HasSubstr("was written without one"));
  }
  // A temporary left by an interrupted write (kill, second Ctrl-C) is named as the cause.
  fs::rename(state.string() + ".keep", state.string() + ".tmp4242");
  try {
    find_resume_point(s.final_generator);
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_THAT(e.what(), HasSubstr("its writing was interrupted"));
  }
}

// Gap (a)+(b)+(c): 3 + resume 2 in the same (fixed) run folder continues it: the plots, outputs.json,
// test-sample choice and checkpoints equal those of 5 in one go; earlier checkpoints and log lines stay.
TEST_F(ResumeTest, ResumeContinuesTheRunFolder) {
  RunConfig c = plotted_config();
  c.train.max_iterations = 5;
  c.output.run_dir = (dir_ / "whole").string();
  const TrainSummary whole = train_pix2pix(c, TrainOptions{0});

  c.train.max_iterations = 3;
  c.output.run_dir = (dir_ / "run").string();
  const TrainSummary first = train_pix2pix(c, TrainOptions{0});
  const std::string first_checkpoint = read_file(first.checkpoints.front());
  TrainOptions options{0};
  options.resume = find_resume_point(first.run_dir);
  EXPECT_TRUE(fs::equivalent(options.resume->run_dir, first.run_dir));
  c.train.max_iterations = 5;
  check_resume_config(c, *options.resume);
  const TrainSummary resumed = train_pix2pix(c, options);
  EXPECT_TRUE(fs::equivalent(resumed.run_dir, first.run_dir));

  for (const char* plot : {"loss.csv", "ssim.csv", "score.csv"})  // iterations 1..5, the same values
    EXPECT_EQ(read_file(resumed.run_dir / "plots" / plot), read_file(whole.run_dir / "plots" / plot)) << plot;
  std::string status;
  EXPECT_EQ(manifest_lines(resumed.run_dir, &status), manifest_lines(whole.run_dir));  // test images included
  EXPECT_EQ(status, "finished");
  EXPECT_EQ(read_file(first.checkpoints.front()), first_checkpoint);  // iteration 1's generator untouched
  const std::string log = read_file(resumed.run_dir / "train.log");
  EXPECT_THAT(log, HasSubstr("iteration 1/3"));
  EXPECT_THAT(log, HasSubstr("iteration 5/5"));
  EXPECT_THAT(log, HasSubstr("continuing run"));
  EXPECT_THAT(read_file(resumed.run_dir / "config.toml"), HasSubstr("max_iterations = 5"));
}

// The end of a resumed run says which iterations its time is of (this session's) and the run's total,
// in train.log's done line, the run_end event and report.html alike; outputs.json counts the total.
TEST_F(ResumeTest, ResumedRunSaysWhichIterationsItsTimeIsOf) {
  RunConfig c = small_config();
  c.train.max_iterations = 2;
  c.output.run_dir = (dir_ / "run").string();
  const TrainSummary first = train_pix2pix(c, TrainOptions{0});
  TrainOptions options{0};
  options.resume = find_resume_point(first.run_dir);
  options.events = (dir_ / "events.jsonl").string();
  c.train.max_iterations = 5;
  const TrainSummary resumed = train_pix2pix(c, options);
  ASSERT_EQ(resumed.iterations, 5);
  const std::string log = read_file(resumed.run_dir / "train.log");
  EXPECT_TRUE(std::regex_search(log, std::regex(R"(\ndone: 2 iterations in \d[\dhms]*[;\n])")));
  std::smatch m;
  ASSERT_TRUE(std::regex_search(
      log, m, std::regex(R"(\ndone: iterations 3-5 in (\d[\dhms]*) \(resumed after iteration 2; 5 iterations in all\)[;\n])")))
      << log;
  nlohmann::json end;
  std::istringstream events(read_file(dir_ / "events.jsonl"));
  for (std::string line; std::getline(events, line);)
    if (nlohmann::json e = nlohmann::json::parse(line); e["event"] == "run_end") end = e;
  EXPECT_EQ(end["iterations"], 5);
  EXPECT_EQ(end["start_iteration"], 2);
  EXPECT_EQ(format_duration(end["seconds"].get<double>()), m[1].str());
  EXPECT_EQ(nlohmann::json::parse(read_file(resumed.run_dir / "outputs.json"))["iterations"], 5);
  const std::string page = read_file(resumed.run_dir / "report.html");
  EXPECT_THAT(page, HasSubstr("<td id=\"iteration\">iteration 5 of 5"));
  EXPECT_THAT(page, HasSubstr("<td id=\"elapsed\">" + m[1].str() + " (since the resume after iteration 2)</td>"));
}

TEST(DoneLine, NamesThisSessionsIterationsAfterAResume) {
  RunEnd end;
  end.status = "finished", end.iterations = 12, end.seconds = 37;
  EXPECT_EQ(done_line(end), "done: 12 iterations in 37s");
  end.start_iteration = 9;
  EXPECT_EQ(done_line(end), "done: iterations 10-12 in 37s (resumed after iteration 9; 12 iterations in all)");
  end.start_iteration = 11, end.detail = "; final G_L1 8.6000";
  EXPECT_EQ(done_line(end),
            "done: iteration 12 in 37s (resumed after iteration 11; 12 iterations in all); final G_L1 8.6000");
  end.status = "interrupted", end.start_iteration = 12, end.detail = "", end.skipped_steps = 2;
  EXPECT_EQ(done_line(end), "done: no iteration in 37s (interrupted; resumed after iteration 12; 12 iterations in "
                            "all); 2 step(s) skipped for non-finite losses (train.nan_policy = skip)");
  end.status = "stopped_early", end.start_iteration = 0, end.skipped_steps = 0, end.iterations = 4;
  EXPECT_EQ(done_line(end), "done: 4 iterations in 37s (stopped early)");
}

// A run_dir template ({date}-{time}) left unchanged also continues in the earlier folder.
TEST_F(ResumeTest, TemplateRunDirContinuesInTheEarlierFolder) {
  RunConfig c = small_config();
  c.train.max_iterations = 1;
  c.output.run_dir = (dir_ / "runs" / "{date}-{time}").string();
  const TrainSummary first = train_pix2pix(c, TrainOptions{0});
  TrainOptions options{0};
  options.resume = find_resume_point(first.final_generator);
  c.train.max_iterations = 2;
  const TrainSummary resumed = train_pix2pix(c, options);
  EXPECT_TRUE(fs::equivalent(resumed.run_dir, first.run_dir));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_ / "runs"), fs::directory_iterator()), 1);
  // A template names a new folder per run: the continued run records it unexpanded, as the first did.
  EXPECT_EQ(apply_config(parse_config_text(read_file(resumed.run_dir / "config.toml"), "t")).output.run_dir,
            c.output.run_dir);
}

// After a run folder was moved, the resumed run records where it now is: config.toml and the new
// checkpoints' configs name the moved folder (they kept the old output.run_dir, so `train --config
// RUN/config.toml` would have written to the old place), and a second --resume continues there too.
TEST_F(ResumeTest, MovedRunFolderRecordsTheFolderUsed) {
  RunConfig c = small_config();
  c.train.max_iterations = 1;
  c.output.run_dir = (dir_ / "run").string();
  const TrainSummary first = train_pix2pix(c, TrainOptions{0});
  const fs::path moved = dir_ / "moved";
  fs::rename(first.run_dir, moved);
  TrainOptions options{0};
  options.resume = find_resume_point(moved);
  // As `train --resume`: the checkpoint's configuration with a larger max_iterations.
  RunConfig resumed_config = apply_config(parse_config_text(options.resume->config_toml, "checkpoint"));
  ASSERT_EQ(resumed_config.output.run_dir, c.output.run_dir);
  resumed_config.train.max_iterations = 2;
  const TrainSummary resumed = train_pix2pix(resumed_config, options);
  ASSERT_TRUE(fs::equivalent(resumed.run_dir, moved));
  const std::string used = fs::absolute(moved).lexically_normal().string();
  EXPECT_EQ(apply_config(parse_config_text(read_file(moved / "config.toml"), "t")).output.run_dir, used);
  const CheckpointMeta meta = read_checkpoint_meta(resumed.final_generator);
  EXPECT_EQ(meta.iteration, 2);
  EXPECT_EQ(checkpoint_config(meta).output.run_dir, used);
  EXPECT_FALSE(fs::exists(dir_ / "run"));

  options.resume = find_resume_point(moved);  // continues in place, recording the same folder
  resumed_config = apply_config(parse_config_text(options.resume->config_toml, "checkpoint"));
  resumed_config.train.max_iterations = 3;
  const TrainSummary again = train_pix2pix(resumed_config, options);
  EXPECT_TRUE(fs::equivalent(again.run_dir, moved));
  EXPECT_EQ(apply_config(parse_config_text(read_file(moved / "config.toml"), "t")).output.run_dir, used);
  EXPECT_FALSE(fs::exists(dir_ / "run"));
}

// plot.type = image keeps its points in a CSV beside each PNG (listed in outputs.json), so 2 + resume 2
// gives charts of iterations 1..4, drawn from the same points as 4 in one go.
TEST_F(ResumeTest, ImagePlotsContinueAcrossResume) {
  RunConfig c = plotted_config();
  c.plot.type = PlotType::kImage;
  c.train.max_iterations = 4;
  c.output.run_dir = (dir_ / "whole").string();
  const TrainSummary whole = train_pix2pix(c, TrainOptions{0});

  c.train.max_iterations = 2;
  c.output.run_dir = (dir_ / "run").string();
  const TrainSummary first = train_pix2pix(c, TrainOptions{0});
  TrainOptions options{0};
  options.resume = find_resume_point(first.run_dir);
  c.train.max_iterations = 4;
  const TrainSummary resumed = train_pix2pix(c, options);
  ASSERT_TRUE(fs::equivalent(resumed.run_dir, first.run_dir));
  EXPECT_THAT(read_file(resumed.run_dir / "train.log"), HasSubstr("after iteration 2: kept its outputs.json entries and "
                                                                   "16 plot point(s)"));  // 2 iterations x 8 series

  for (const char* plot : {"loss", "ssim", "score"}) {
    const fs::path csv = resumed.run_dir / "plots" / (std::string(plot) + ".csv");
    const std::string points = read_file(csv);
    // The chart's points: iterations 1..4, the values of the uninterrupted run.
    EXPECT_EQ(points, read_file(whole.run_dir / "plots" / (std::string(plot) + ".csv"))) << plot;
    for (int it = 1; it <= 4; ++it) EXPECT_THAT(points, HasSubstr(fmt::format("\n{},", it))) << plot << " " << it;
    // The chart drawn from those points is the uninterrupted run's chart (gnuplot output is deterministic).
    const std::string png = std::string(plot) + ".png";
    EXPECT_EQ(read_file(resumed.run_dir / "plots" / png), read_file(whole.run_dir / "plots" / png)) << png;
  }
  EXPECT_THAT(read_file(resumed.run_dir / "plots" / "loss.csv"), HasSubstr("\n1,g_l1,"));
  // outputs.json lists both files of each plot once, as of the last iteration.
  std::map<std::string, int64_t> plot_files;
  const nlohmann::json manifest = nlohmann::json::parse(read_file(resumed.run_dir / "outputs.json"));
  for (const auto& o : manifest["outputs"])
    if (o["kind"] == "plot")
      EXPECT_TRUE(plot_files.emplace(fs::path(o["path"].get<std::string>()).filename().string(),
                                     o["iteration"].get<int64_t>()).second);
  EXPECT_EQ(plot_files, (std::map<std::string, int64_t>{{"loss.csv", 4}, {"loss.png", 4}, {"score.csv", 4},
                                                        {"score.png", 4}, {"ssim.csv", 4}, {"ssim.png", 4}}));
}

// A changed output.run_dir branches into a new folder that carries the earlier plot rows and
// outputs.json entries (pointing at the earlier folder's files); the earlier folder is untouched.
TEST_F(ResumeTest, NewRunDirCarriesTheHistory) {
  RunConfig c = plotted_config();
  c.train.max_iterations = 2;
  c.output.run_dir = (dir_ / "first").string();
  const TrainSummary first = train_pix2pix(c, TrainOptions{0});
  const std::string first_manifest = read_file(first.run_dir / "outputs.json");
  const std::string first_loss = read_file(first.run_dir / "plots" / "loss.csv");
  TrainOptions options{0};
  options.resume = find_resume_point(first.run_dir);
  c.train.max_iterations = 3;
  c.output.run_dir = (dir_ / "second").string();
  const TrainSummary second = train_pix2pix(c, options);
  EXPECT_EQ(read_file(first.run_dir / "outputs.json"), first_manifest);
  const std::string loss = read_file(second.run_dir / "plots" / "loss.csv");
  EXPECT_EQ(loss.substr(0, first_loss.size()), first_loss);  // iterations 1..2, then 3
  EXPECT_THAT(loss, HasSubstr("\n3,g_l1,"));
  const nlohmann::json doc = nlohmann::json::parse(read_file(second.run_dir / "outputs.json"));
  int64_t earlier = 0, later = 0;
  for (const auto& o : doc["outputs"]) {
    const fs::path p = o["path"].get<std::string>();
    if (o["kind"] == "plot") continue;
    EXPECT_TRUE(fs::exists(p)) << p;
    (o["iteration"].get<int64_t>() <= 2 ? earlier : later) += 1;
    EXPECT_EQ(p.string().rfind(fs::absolute(o["iteration"].get<int64_t>() <= 2 ? first.run_dir : second.run_dir)
                                   .lexically_normal().string(), 0), 0u) << p;
  }
  // Per iteration 2 networks x 3 checkpoint files; test images of the latest test only (iteration 3:
  // 2 samples x 4 images, the side-by-side one included), which replace the earlier tests' entries; the
  // new folder's report.html (the earlier run's is not carried).
  EXPECT_EQ(earlier, 2 * (2 * 3));
  EXPECT_EQ(later, 2 * 3 + 2 * 4 + 1);
}

// Resuming an older checkpoint in place would overwrite later ones: an error naming a later
// checkpoint and the way out; nothing is written. A new run_dir works, and so does continuing in
// place once the later checkpoint is incomplete.
TEST_F(ResumeTest, OlderCheckpointInPlaceIsRefused) {
  RunConfig c = small_config();
  c.train.max_iterations = 4;
  c.output.model_save_rate = 2;
  c.output.run_dir = (dir_ / "run").string();
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  ASSERT_EQ(s.checkpoints.size(), 4u);  // generator + discriminator at 2 and 4
  const std::string manifest = read_file(s.run_dir / "outputs.json");
  TrainOptions options{0};
  options.resume = find_resume_point(s.checkpoints[0]);  // iteration 2
  ASSERT_EQ(options.resume->iteration, 2);
  c.train.max_iterations = 6;
  try {
    train_pix2pix(c, options);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("already holds later checkpoints"));
    EXPECT_THAT(e.what(), HasSubstr("generator_0_4.pt"));
    EXPECT_THAT(e.what(), HasSubstr("--output.run_dir=NEW_FOLDER"));
  }
  EXPECT_EQ(read_file(s.run_dir / "outputs.json"), manifest);
  c.output.run_dir = (dir_ / "branch").string();
  const TrainSummary branch = train_pix2pix(c, options);
  EXPECT_EQ(branch.iterations, 6);
  EXPECT_EQ(read_file(s.run_dir / "outputs.json"), manifest);

  // An incomplete later checkpoint (killed while writing it: no training state) is redone in place.
  fs::remove(training_state_path(s.checkpoints[2]));
  c.output.run_dir = (dir_ / "run").string();
  const TrainSummary in_place = train_pix2pix(c, options);
  EXPECT_TRUE(fs::equivalent(in_place.run_dir, s.run_dir));
  EXPECT_EQ(in_place.iterations, 6);
  EXPECT_TRUE(fs::exists(training_state_path(s.checkpoints[2])));
}

// The test subset depends on (seed, stream) only: sorted, of the asked size, the same at every test of a
// run (so the test SSIM curve compares like with like), another subset for another seed or stream.
TEST(TestSamples, DependOnSeedAndStreamOnly) {
  EXPECT_EQ(draw_test_samples(5, 0, 1), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  EXPECT_EQ(draw_test_samples(5, 9, 1), (std::vector<int64_t>{0, 1, 2, 3, 4}));
  const auto a = draw_test_samples(100, 10, 7);
  EXPECT_EQ(a.size(), 10u);
  EXPECT_TRUE(std::is_sorted(a.begin(), a.end()));
  EXPECT_EQ(draw_test_samples(100, 10, 7), a);
  EXPECT_EQ(draw_test_samples(100, 10, 7, 0), a);
  EXPECT_NE(draw_test_samples(100, 10, 7, 1), a);
  EXPECT_NE(draw_test_samples(100, 10, 8), a);
}

TEST_F(ResumeTest, MalformedPlotHistoryNamesTheFile) {
  fs::create_directories(dir_ / "old" / "plots");
  write_file_atomic(dir_ / "old" / "plots" / "loss.csv", "iteration,series,value\n1,g_l1,0.5\n2,g_l1\n");
  PlotConfig config;
  config.type = PlotType::kCsv;
  PlotWriter plots(dir_ / "new", config);
  try {
    plots.load_csv_history(dir_ / "old", 5);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("loss.csv' line 3"));
  }
  PlotWriter ok(dir_ / "new", config);
  write_file_atomic(dir_ / "old" / "plots" / "loss.csv", "iteration,series,value\n1,g_l1,0.5\n2,g_l1,nan\n3,g_l1,1\n");
  EXPECT_EQ(ok.load_csv_history(dir_ / "old", 2), 2);
  ok.write_if_due(2, true);
  EXPECT_EQ(read_file(dir_ / "new" / "plots" / "loss.csv"), "iteration,series,value\n1,g_l1,0.5\n2,g_l1,nan\n");
}

// A new run (no --resume) into a folder that holds another run's checkpoints is refused before
// anything is written; it would otherwise mix the two runs' checkpoints.
TEST_F(ResumeTest, NewRunIntoAFolderWithCheckpointsIsRefused) {
  RunConfig c = small_config();
  c.train.max_iterations = 1;
  c.output.run_dir = (dir_ / "run").string();
  const TrainSummary first = train_pix2pix(c, TrainOptions{0});
  const std::string weights = read_file(first.final_generator);
  const std::string manifest = read_file(first.run_dir / "outputs.json");
  try {
    train_pix2pix(c, TrainOptions{0});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("already holds a run with checkpoints"));
    EXPECT_THAT(e.what(), HasSubstr("--resume"));
    EXPECT_THAT(e.what(), HasSubstr("--output.run_dir=NEW_FOLDER"));
  }
  EXPECT_EQ(read_file(first.final_generator), weights);
  EXPECT_EQ(read_file(first.run_dir / "outputs.json"), manifest);

  // Killed while writing its first checkpoint (no training state beside it): the folder cannot be
  // resumed, so the new-run error must not send the user to --resume (the advice went in a circle).
  for (const fs::path& w : first.checkpoints) fs::remove(training_state_path(w));
  try {
    train_pix2pix(c, TrainOptions{0});
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("None of them can be resumed"));
    EXPECT_THAT(e.what(), Not(HasSubstr("--resume")));
    EXPECT_THAT(e.what(), HasSubstr("--output.run_dir=NEW_FOLDER"));
  }
  try {
    find_resume_point(first.run_dir);
    FAIL() << "expected CheckpointError";
  } catch (const CheckpointError& e) {
    EXPECT_THAT(e.what(), HasSubstr("the run was killed while writing this checkpoint"));
    EXPECT_THAT(e.what(), HasSubstr("--output.run_dir=NEW_FOLDER or delete the run folder first"));
  }
}

// Resuming a copy of a run folder continues in the copy and leaves the original untouched.
TEST_F(ResumeTest, CopiedRunFolderContinuesInTheCopy) {
  RunConfig c = small_config();
  c.train.max_iterations = 2;
  c.output.run_dir = (dir_ / "run").string();
  const TrainSummary first = train_pix2pix(c, TrainOptions{0});
  fs::copy(first.run_dir, dir_ / "copy", fs::copy_options::recursive);
  const std::string original_manifest = read_file(first.run_dir / "outputs.json");

  TrainOptions options{0};
  options.resume = find_resume_point(dir_ / "copy");
  EXPECT_TRUE(fs::equivalent(options.resume->run_dir, dir_ / "copy"));
  c.train.max_iterations = 3;
  const TrainSummary resumed = train_pix2pix(c, options);
  EXPECT_TRUE(fs::equivalent(resumed.run_dir, dir_ / "copy"));
  EXPECT_TRUE(fs::equivalent(resumed.final_generator.parent_path().parent_path(), dir_ / "copy"));
  EXPECT_EQ(read_file(first.run_dir / "outputs.json"), original_manifest);
  for (const auto& f : fs::recursive_directory_iterator(first.run_dir))
    EXPECT_EQ(f.path().filename().string().find("_3."), std::string::npos) << f.path();
}

// Manifest paths below the folder a manifest was written in follow the folder when it is moved or
// copied; other paths stay as they are.
TEST(RebasePath, FollowsTheRunFolderOnly) {
  EXPECT_EQ(rebase_path("/r/a/checkpoints/g.pt", "/r/a", "/r/b"), "/r/b/checkpoints/g.pt");
  EXPECT_EQ(rebase_path("/r/a/checkpoints/g.pt", "/r/a/", "/x/y/"), "/x/y/checkpoints/g.pt");
  EXPECT_EQ(rebase_path("/r/ab/g.pt", "/r/a", "/r/b"), "/r/ab/g.pt");          // a sibling, not below
  EXPECT_EQ(rebase_path("/models/g.pt", "/r/a", "/r/b"), "/models/g.pt");      // output.model_path elsewhere
  EXPECT_EQ(rebase_path("/r/a/g.pt", "", "/r/b"), "/r/a/g.pt");                // no recorded run_dir
  EXPECT_EQ(rebase_path("/r/a/g.pt", "/r/a", "/r/a/"), "/r/a/g.pt");           // not moved
}

// All outputs.json entries of `run_dir` (paths), with the count below `run_dir`.
static std::vector<std::string> manifest_paths(const fs::path& run_dir, int64_t* inside) {
  const nlohmann::json doc = nlohmann::json::parse(read_file(run_dir / "outputs.json"));
  const std::string prefix = fs::absolute(run_dir).lexically_normal().string() + "/";
  std::vector<std::string> out;
  *inside = 0;
  for (const auto& o : doc["outputs"]) {
    out.push_back(o["path"].get<std::string>());
    if (out.back().rfind(prefix, 0) == 0) ++*inside;
  }
  return out;
}

// Issue review: a moved (mv) or copied (cp -r) run folder, resumed, lists only its own files in
// outputs.json, and the earlier entries are rebased, not left pointing into the old folder.
TEST_F(ResumeTest, MovedOrCopiedRunFolderListsItsOwnFiles) {
  RunConfig c = small_config();
  c.train.max_iterations = 2;
  c.output.model_save_rate = 1;
  c.output.run_dir = (dir_ / "mv_a").string();
  train_pix2pix(c, TrainOptions{0});
  fs::copy(dir_ / "mv_a", dir_ / "copied", fs::copy_options::recursive);
  fs::rename(dir_ / "mv_a", dir_ / "mv_b");
  for (const char* folder : {"mv_b", "copied"}) {
    SCOPED_TRACE(folder);
    TrainOptions options{0};
    options.resume = find_resume_point(dir_ / folder);
    c.train.max_iterations = 3;
    const TrainSummary resumed = train_pix2pix(c, options);
    ASSERT_TRUE(fs::equivalent(resumed.run_dir, dir_ / folder));
    int64_t inside = 0;
    const std::vector<std::string> paths = manifest_paths(dir_ / folder, &inside);
    EXPECT_EQ(paths.size(), 3u * 6u + 1u);  // per iteration: 2 networks x (weights, .json, .optim.pt); report.html
    EXPECT_EQ(inside, static_cast<int64_t>(paths.size()));
    for (const std::string& p : paths) EXPECT_TRUE(fs::exists(p)) << p;
  }
}

// Issue review: a copy whose newest checkpoint is incomplete resumes from the one before, in the copy,
// as the original folder would; the later-checkpoint check looks at the copy's files, not the original's.
TEST_F(ResumeTest, CopyWithIncompleteNewestCheckpointResumesInTheCopy) {
  RunConfig c = small_config();
  c.train.max_iterations = 3;
  c.output.model_save_rate = 1;
  c.output.run_dir = (dir_ / "inc").string();
  const TrainSummary original = train_pix2pix(c, TrainOptions{0});
  const std::string original_manifest = read_file(original.run_dir / "outputs.json");
  fs::copy(original.run_dir, dir_ / "inc_copy", fs::copy_options::recursive);
  const fs::path newest = dir_ / "inc_copy" / "checkpoints" / "generator_0_3.optim.pt";
  ASSERT_TRUE(fs::remove(newest));
  TrainOptions options{0};
  options.resume = find_resume_point(dir_ / "inc_copy");
  EXPECT_EQ(options.resume->iteration, 2);
  c.train.max_iterations = 4;
  const TrainSummary resumed = train_pix2pix(c, options);  // threw "already holds later checkpoints" (original's)
  EXPECT_TRUE(fs::equivalent(resumed.run_dir, dir_ / "inc_copy"));
  EXPECT_EQ(resumed.iterations, 4);
  EXPECT_TRUE(fs::exists(newest));  // iteration 3 redone in the copy
  EXPECT_EQ(read_file(original.run_dir / "outputs.json"), original_manifest);
  int64_t inside = 0;
  const std::vector<std::string> paths = manifest_paths(dir_ / "inc_copy", &inside);
  EXPECT_EQ(inside, static_cast<int64_t>(paths.size()));
  EXPECT_EQ(paths.size(), 4u * 6u + 1u);  // and report.html
}

// Issue review: a damaged newest checkpoint is skipped with a warning naming the file and why (line in
// train.log and a `warning` event), then the run resumes from the newest complete one.
TEST_F(ResumeTest, SkippedNewestCheckpointIsReported) {
  RunConfig c = small_config();
  c.train.max_iterations = 3;
  c.output.model_save_rate = 1;
  c.output.run_dir = (dir_ / "inc3").string();
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  const fs::path state = s.run_dir / "checkpoints" / "generator_0_3.optim.pt";
  const std::string bytes = read_file(state);
  write_file_atomic(state, bytes.substr(0, bytes.size() / 2));
  TrainOptions options{0};
  options.resume = find_resume_point(s.run_dir);
  EXPECT_EQ(options.resume->iteration, 2);
  ASSERT_EQ(options.resume->skipped.size(), 1u);
  EXPECT_THAT(options.resume->skipped[0], HasSubstr("generator_0_3.pt' of iteration 3"));
  EXPECT_THAT(options.resume->skipped[0], HasSubstr("is truncated"));
  EXPECT_TRUE(find_resume_point(s.run_dir / "checkpoints" / "generator_0_2.pt").skipped.empty());
  options.events = (dir_ / "events.jsonl").string();
  c.train.max_iterations = 4;
  train_pix2pix(c, options);
  EXPECT_THAT(read_file(s.run_dir / "train.log"),
              HasSubstr("warning: --resume skips the newer checkpoint '" + (s.run_dir / "checkpoints").string() +
                        "/generator_0_3.pt' of iteration 3, which cannot be resumed: training state"));
  EXPECT_THAT(read_file(dir_ / "events.jsonl"), HasSubstr(R"("event":"warning")"));
}

// Issue review: a larger max_iterations reshapes cosine and linear schedules (a jump in the rate):
// a warning names the scheduler, both max_iterations and the two rates; step and an unchanged
// max_iterations continue seamlessly (no warning).
TEST(ResumeScheduleWarning, NamesTheJump) {
  TrainConfig before;
  before.scheduler = SchedulerKind::kLinear, before.learning_rate = 2e-4, before.linear_decay = 2;
  before.max_iterations = 4;
  TrainConfig now = before;
  now.max_iterations = 8;
  const std::string w = resume_schedule_warning(before, now, 4);
  EXPECT_THAT(w, HasSubstr("train.scheduler = linear follows train.max_iterations, which changed from 4 "
                           "(checkpoint) to 8"));
  EXPECT_THAT(w, HasSubstr("Iteration 4 (the last trained) ran at 6.67e-05, iteration 5 (the next) runs at 0.0002 (3x)"));
  EXPECT_THAT(w, HasSubstr("Only train.scheduler = step"));
  EXPECT_EQ(resume_schedule_warning(before, before, 3), "");
  before.scheduler = now.scheduler = SchedulerKind::kCosine;
  EXPECT_THAT(resume_schedule_warning(before, now, 4), HasSubstr("train.scheduler = cosine"));
  before.scheduler = now.scheduler = SchedulerKind::kStep;
  EXPECT_EQ(resume_schedule_warning(before, now, 4), "");
}

// The trainer prints it at resume (train.log line + warning event).
TEST_F(ResumeTest, LargerMaxIterationsWarnsAboutTheSchedule) {
  RunConfig c = small_config();
  c.train.scheduler = SchedulerKind::kLinear, c.train.linear_decay = 2;
  c.train.max_iterations = 2;
  c.output.run_dir = (dir_ / "run").string();
  train_pix2pix(c, TrainOptions{0});
  TrainOptions options{0};
  options.resume = find_resume_point(dir_ / "run");
  options.events = (dir_ / "events.jsonl").string();
  c.train.max_iterations = 4;
  train_pix2pix(c, options);
  EXPECT_THAT(read_file(dir_ / "run" / "train.log"),
              HasSubstr("warning: train.scheduler = linear follows train.max_iterations, which changed from 2"));
  EXPECT_THAT(read_file(dir_ / "events.jsonl"), HasSubstr("which changed from 2 (checkpoint) to 4"));
}

// Issue review: a contradiction names where the value came from (FILE:LINE of --config, the command
// line); the fix line fits the problem (none for max_iterations alone, which carries its own).
TEST_F(ResumeTest, ContradictionsNameTheirOrigin) {
  RunConfig c = small_config();
  c.train.max_iterations = 1;
  c.output.run_dir = (dir_ / "run").string();
  const TrainSummary s = train_pix2pix(c, TrainOptions{0});
  const ResumePoint point = find_resume_point(s.run_dir);
  RunConfig changed = c;
  changed.data.image_size = 64, changed.generator.layers = 4, changed.train.max_iterations = 3;
  const std::vector<ConfigAssignment> assignments = {{"data.image_size", "32", "checkpoint run"},
                                                     {"data.image_size", "64", "base.toml:3"},
                                                     {"generator.layers", "4", "command line"}};
  try {
    check_resume_config(changed, point, &assignments);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("data.image_size = 64 (from base.toml:3) contradicts the checkpoint's "
                                    "data.image_size = 32"));
    EXPECT_THAT(e.what(), HasSubstr("generator.layers = 4 (from the command line) contradicts"));
    EXPECT_THAT(e.what(), HasSubstr("remove the contradicting settings (base.toml:3, the command line)"));
  }
  changed = c;  // only max_iterations: its own fix, no "contradicting" line
  try {
    check_resume_config(changed, point, &assignments);
    FAIL() << "expected ConfigError";
  } catch (const ConfigError& e) {
    EXPECT_THAT(e.what(), HasSubstr("pass --train.max_iterations=N with N > 1"));
    EXPECT_THAT(e.what(), Not(HasSubstr("contradicting")));
  }
}

// Issue review: relative data folders of the checkpoint's saved config that do not exist from here are
// named with where they came from and the fixes; given ones (or existing ones) are not.
TEST_F(ResumeTest, RelativeCheckpointPathsGetANote) {
  const std::string origin = "checkpoint runs/x";
  std::vector<ConfigAssignment> a = {{"data.input_dir", "pairs/in", origin},
                                     {"data.reference_dir", "pairs/ref", origin},
                                     {"test.input_dir", "/abs/in", origin}};
  const std::string note = resume_relative_paths_note(a, origin);
  EXPECT_THAT(note, HasSubstr("data.input_dir = 'pairs/in', data.reference_dir = 'pairs/ref' are relative paths "
                              "from the checkpoint's saved configuration"));
  EXPECT_THAT(note, HasSubstr("Run img2img from that folder, or give the paths: --data.input_dir=PATH "
                              "--data.reference_dir=PATH"));
  a.push_back({"data.input_dir", "elsewhere/in", "command line"});
  a.push_back({"data.reference_dir", "elsewhere/ref", "base.toml:2"});
  EXPECT_EQ(resume_relative_paths_note(a, origin), "");
}

}  // namespace
}  // namespace img2img

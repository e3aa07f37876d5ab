// The first hour of a new user (issue 16): derived defaults, the channel hint, test images a person can
// follow (the same samples every test, side-by-side images), a stop inside a test, the unpaired summary and
// no empty run folders.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fmt/format.h>        // fmt::format
#include <nlohmann/json.hpp>  // nlohmann::json
#include <opencv2/imgproc.hpp>  // cv::cvtColor

#include <atomic>  // std::atomic
#include <fstream>  // std::ifstream
#include <set>      // std::set
#include <sstream>  // std::istringstream

#include "img2img/config/config_keys.h"
#include "img2img/config/unpaired_defaults.h"
#include "img2img/config/validate.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/core/runtime.h"          // cpu_cores, kOmpSpinCountMarker
#include "img2img/core/thread_governor.h"  // cpu_thread_count_text
#include "img2img/data/image_io.h"
#include "img2img/run/plot_writer.h"
#include "img2img/run/resume_point.h"
#include "img2img/train/trainer.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// ---- derived defaults ----

RunConfig applied(const std::vector<ConfigAssignment>& a) { return apply_config(a); }

TEST(DerivedDefaults, LayersFollowTheImageSize) {
  // The most layers whose 2^layers divides the size, at most 8 (counted by hand: 64 = 2^6, 96 = 2^5 * 3).
  EXPECT_EQ(applied({{"data.image_size", "64", "t"}}).generator.layers, 6);
  EXPECT_EQ(applied({{"data.image_size", "96", "t"}}).generator.layers, 5);
  EXPECT_EQ(applied({{"data.image_size", "32", "t"}}).generator.layers, 5);
  EXPECT_EQ(applied({{"data.image_size", "256", "t"}}).generator.layers, 8);
  EXPECT_EQ(applied({{"data.image_size", "1024", "t"}}).generator.layers, 8);
  EXPECT_EQ(applied({}).generator.layers, 8);
  // Every derived value validates at the sizes a user picks.
  for (const char* size : {"16", "48", "64", "96", "100", "128", "200", "512"}) {
    ValidateOptions v;
    v.check_paths = false;
    const RunConfig c = applied({{"data.image_size", size, "t"}});
    for (const ConfigProblem& p : config_problems(c, v))
      EXPECT_TRUE(p.key != "generator.layers" && p.key != "data.image_size") << size << ": " << format_config_problem(p);
  }
  // An explicit value is kept and checked as before.
  EXPECT_EQ(applied({{"data.image_size", "64", "t"}, {"generator.layers", "3", "t"}}).generator.layers, 3);
  ValidateOptions v;
  v.check_paths = false;
  const RunConfig too_many = applied({{"data.image_size", "64", "t"}, {"generator.layers", "8", "t"}});
  EXPECT_FALSE(config_problems(too_many, v).empty());
}

TEST(DerivedDefaults, LinearDecayIsHalfOfMaxIterations) {
  EXPECT_EQ(applied({}).train.linear_decay, 100);  // 200 iterations: the pix2pix 100 + 100
  EXPECT_EQ(applied({{"train.max_iterations", "10", "t"}}).train.linear_decay, 5);
  EXPECT_EQ(applied({{"train.max_iterations", "7", "t"}}).train.linear_decay, 3);
  EXPECT_EQ(applied({{"train.max_iterations", "10", "t"}, {"train.linear_decay", "9", "t"}}).train.linear_decay, 9);
}

TEST(DerivedDefaults, RecordedNumbersAreKeptOnResume) {
  // config.toml (and every checkpoint) records the resolved numbers ...
  const RunConfig first = applied({{"data.image_size", "64", "t"}, {"train.max_iterations", "10", "t"}});
  const std::string toml = config_to_toml(first);
  EXPECT_THAT(toml, HasSubstr("\nlayers = 6  #"));
  EXPECT_THAT(toml, HasSubstr("\nlinear_decay = 5  #"));
  EXPECT_THAT(toml, HasSubstr("(worked out unless given: the most layers whose 2^layers divides data.image_size = 64"));
  // ... so a resume with a larger max_iterations keeps them (the checkpoint config comes first).
  std::vector<ConfigAssignment> resumed = parse_config_text(toml, "checkpoint");
  resumed.push_back({"train.max_iterations", "40", "command line"});
  const RunConfig again = applied(resumed);
  EXPECT_EQ(again.train.max_iterations, 40);
  EXPECT_EQ(again.train.linear_decay, 5);
  EXPECT_EQ(again.generator.layers, 6);
}

// ---- training runs ----

class FirstHourTest : public test::TempDirTest {
 protected:
  // `count` real photo crops as 8-bit PNG pairs under dir_/name/{in,ref} (`grey`: 1-channel files).
  DataSource write_pairs(const std::string& name, int count, unsigned seed, bool grey = false) {
    DataSource s;
    s.input_dir = (dir_ / name / "in").string(), s.reference_dir = (dir_ / name / "ref").string();
    const auto crops = test::photo_crops(count, 32, seed);
    for (size_t i = 0; i < crops.size(); ++i) {
      cv::Mat image = crops[i];
      if (grey) cv::cvtColor(crops[i], image, cv::COLOR_RGB2GRAY);
      const std::string file = fmt::format("{:03d}.png", i);
      write_image(fs::path(s.input_dir) / file, image, PixelDepth::k8);
      write_image(fs::path(s.reference_dir) / file, image, PixelDepth::k8);
    }
    return s;
  }

  RunConfig tiny_config(bool grey = false) {
    RunConfig c;
    static_cast<DataSource&>(c.data) = write_pairs("train", 4, 1, grey);
    c.data.image_size = 32;
    c.data.batch_size = 4;
    c.generator.layers = 5;
    c.generator.initial_layer_size = 8;
    c.discriminator.initial_layer_size = 8;
    c.discriminator.layers = 2;
    c.train.max_iterations = 3;
    c.train.linear_decay = 0;
    c.output.run_dir = (dir_ / "run").string();
    c.output.model_save_rate = 10;
    c.output.onnx_path = "";
    c.plot.type = PlotType::kDisabled;
    c.device.device = "cpu";
    c.device.cpu_threads = 1;
    return c;
  }

  void enable_test(RunConfig& c, int samples) {
    c.test.enabled = true;
    static_cast<DataSource&>(c.test) = write_pairs("test", samples, 2);
    c.test.batch_size = 1;
  }

  // The file names of a test folder without their iteration prefix ("000002_" + rest).
  static std::set<std::string> names_in(const fs::path& folder) {
    std::set<std::string> names;
    for (const auto& e : fs::directory_iterator(folder)) names.insert(e.path().filename().string().substr(7));
    return names;
  }
};

// data.image_size far above the images' size: one warning line naming both sizes and the setting.
TEST_F(FirstHourTest, ImageSizeFarAboveTheImagesGetsOneWarningLine) {
  RunConfig c = tiny_config();  // 32 px images
  c.train.max_iterations = 1;
  c.data.image_size = 64, c.generator.layers = 5;
  TrainOptions options;
  options.interactive = 0;
  const std::string log = read_file(train_pix2pix(c, options).run_dir / "train.log");
  EXPECT_THAT(log, HasSubstr("\nwarning: data.image_size = 64 but the largest training image is 32 px: every image "
                             "is enlarged 2x or more, which adds no detail and makes each step slower. Set "
                             "--data.image_size=32 to train at the images' own size\n"));
  EXPECT_EQ(log.find("warning: data.image_size"), log.rfind("warning: data.image_size"));
  // At the images' size (or enlarged less than 2x): none.
  c.data.image_size = 48, c.generator.layers = 4;
  c.output.run_dir = (dir_ / "run48").string();
  EXPECT_THAT(read_file(train_pix2pix(c, options).run_dir / "train.log"), Not(HasSubstr("data.image_size =")));
}

// Images that are not square are squashed to data.image_size x data.image_size: one warning line with the
// count of such files among all (inputs and references), the first one's name and size, the largest
// stretch (long side / short side) and the fix. Square images: none.
TEST_F(FirstHourTest, NonSquareImagesGetOneWarningLine) {
  RunConfig c = tiny_config();  // 4 pairs of 32x32 photo crops
  c.train.max_iterations = 1;
  TrainOptions options;
  options.interactive = 0;
  EXPECT_THAT(read_file(train_pix2pix(c, options).run_dir / "train.log"), Not(HasSubstr("not square")));
  // Pairs 001 (48x32, 1.5x) and 003 (32x40, 1.25x): both sides of each pair, 4 of 8 files.
  const auto crops = test::photo_crops(2, 48, 5);
  const fs::path in(c.data.input_dir), ref(c.data.reference_dir);
  const cv::Mat wide = crops[0](cv::Rect(0, 8, 48, 32)).clone(), tall = crops[1](cv::Rect(8, 0, 32, 40)).clone();
  for (const fs::path& folder : {in, ref}) {
    write_image(folder / "001.png", wide, PixelDepth::k8);
    write_image(folder / "003.png", tall, PixelDepth::k8);
  }
  c.output.run_dir = (dir_ / "run2").string();
  const std::string log = read_file(train_pix2pix(c, options).run_dir / "train.log");
  EXPECT_THAT(log, HasSubstr("\nwarning: 4 of 8 training images are not square (the first: '" + (in / "001.png").string() +
                             "', 48x32 px): each is squashed to 32x32 px, stretching its content up to 1.5x in one "
                             "direction, and the model learns (and generates) the squashed shapes. Crop the images "
                             "square first to keep their proportions\n"));
  EXPECT_EQ(log.find("not square"), log.rfind("not square"));
}

// Float heights outside [0, 1] (metres, say): used as they are, but the generator cannot reach them.
// One warning naming the first file, the range found, what happens and the fix.
TEST_F(FirstHourTest, FloatSamplesOutsideZeroOneGetOneWarningLine) {
  RunConfig c = tiny_config();
  c.train.max_iterations = 1;
  c.data.channel_count = 1;
  const fs::path ref(c.data.reference_dir);
  for (const auto& e : fs::directory_iterator(ref)) fs::remove(e.path());
  for (int i = 0; i < 4; ++i) {
    cv::Mat metres(32, 32, CV_32FC1);
    for (int y = 0; y < 32; ++y)
      for (int x = 0; x < 32; ++x) metres.at<float>(y, x) = (i == 0 ? -12.5f : 0.0f) + 100.0f * i + x + y;
    write_image(ref / fmt::format("{:03d}.tif", i), metres, PixelDepth::kFloat);
  }
  TrainOptions options;
  options.interactive = 0;
  const std::string log = read_file(train_pix2pix(c, options).run_dir / "train.log");
  EXPECT_THAT(log, HasSubstr("\nwarning: float image '" + (ref / "000.tif").string() +
                             "' has samples from -12.5 to 362, outside [0, 1] (so do 3 other float files): they are "
                             "used as they are, but generated images stay within [0, 1], so the model cannot reproduce "
                             "them (the L1 loss stays large). Scale the values to [0, 1] before training, e.g. "
                             "(v - min) / (max - min)\n"));
  EXPECT_EQ(log.find("warning: float image"), log.rfind("warning: float image"));
  // Floats within [0, 1]: none.
  for (int i = 0; i < 4; ++i)
    write_image(ref / fmt::format("{:03d}.tif", i), cv::Mat(32, 32, CV_32FC1, cv::Scalar(0.25 * i)), PixelDepth::kFloat);
  c.output.run_dir = (dir_ / "run01").string();
  EXPECT_THAT(read_file(train_pix2pix(c, options).run_dir / "train.log"), Not(HasSubstr("float image")));
}

TEST_F(FirstHourTest, GreyDataWithThreeChannelsGetsOneWarningLine) {
  RunConfig c = tiny_config(/*grey=*/true);
  c.train.max_iterations = 1;
  TrainOptions options;
  options.interactive = 0;
  const TrainSummary s = train_pix2pix(c, options);
  const std::string log = read_file(s.run_dir / "train.log");
  EXPECT_THAT(log, HasSubstr("warning: every training file (input and reference) has at most 1 channel(s) but "
                             "data.channel_count = 3"));
  EXPECT_THAT(log, HasSubstr("--data.channel_count=1"));
  // The run follows the setting: 3-channel outputs.
  EXPECT_THAT(log, HasSubstr("3 channel(s)"));

  c.data.channel_count = 1;
  c.output.run_dir = (dir_ / "run1").string();
  EXPECT_THAT(read_file(train_pix2pix(c, options).run_dir / "train.log"), Not(HasSubstr("channel_count")));
  // Colour data at 3 channels: no warning.
  RunConfig colour = tiny_config();
  colour.train.max_iterations = 1;
  colour.output.run_dir = (dir_ / "run3").string();
  EXPECT_THAT(read_file(train_pix2pix(colour, options).run_dir / "train.log"), Not(HasSubstr("data.channel_count")));
  // Colour data at 1 channel: the dropped channels are said (an RGB file keeps only red: fresh-user pass).
  colour.data.channel_count = 1;
  colour.output.run_dir = (dir_ / "run4").string();
  const std::string dropped = read_file(train_pix2pix(colour, options).run_dir / "train.log");
  EXPECT_THAT(dropped, HasSubstr("warning: some training file (input or reference) has 3 channels but "
                                 "data.channel_count = 1: channels after the first 1 are dropped"));
  EXPECT_THAT(dropped, HasSubstr("keeps only its red channel"));
}

TEST_F(FirstHourTest, EveryTestWritesTheSameSamplesWithASideBySideImage) {
  RunConfig c = tiny_config();
  enable_test(c, 6);
  c.test.size = 4;         // the SSIM subset, drawn once per run
  c.test.image_count = 2;  // images of 2 of them
  TrainOptions options;
  options.interactive = 0;
  options.events = (dir_ / "events.jsonl").string();
  const TrainSummary s = train_pix2pix(c, options);
  ASSERT_EQ(s.iterations, 3);
  const std::set<std::string> first = names_in(s.run_dir / "test" / "1");
  EXPECT_EQ(first.size(), 2u * 4u);
  for (int it : {2, 3}) EXPECT_EQ(names_in(s.run_dir / "test" / std::to_string(it)), first) << it;
  int side_by_side = 0;
  for (const std::string& name : first)
    if (name.find("_side_by_side.png") != std::string::npos) {
      ++side_by_side;
      const cv::Mat image = read_image(s.run_dir / "test" / "1" / ("000001_" + name)).pixels;
      EXPECT_EQ(image.cols, 3 * 32);
      EXPECT_EQ(image.rows, 32);
      // The left third is the input image as written beside it.
      const std::string stem = name.substr(0, name.size() - std::string("_side_by_side.png").size());
      const cv::Mat input = read_image(s.run_dir / "test" / "1" / ("000001_" + stem + "_input.png")).pixels;
      EXPECT_EQ(cv::norm(image(cv::Rect(0, 0, 32, 32)), input, cv::NORM_INF), 0.0) << name;
    }
  EXPECT_EQ(side_by_side, 2);
  // Each test counts the SSIM of all 4 drawn samples; outputs.json lists the latest test's 8 images only.
  std::ifstream events(dir_ / "events.jsonl");
  int tests = 0;
  for (std::string line; std::getline(events, line);) {
    const auto e = nlohmann::json::parse(line);
    if (e["event"] != "test") continue;
    ++tests;
    EXPECT_EQ(e["samples"], 4);
    EXPECT_EQ(e["images"], 8);
  }
  EXPECT_EQ(tests, 3);
  int listed = 0;
  const nlohmann::json manifest = nlohmann::json::parse(read_file(s.outputs_manifest));
  for (const auto& o : manifest["outputs"])
    if (o["kind"] == "test_image") {
      ++listed;
      EXPECT_EQ(o["iteration"], 3);
    }
  EXPECT_EQ(listed, 8);

  // test.image_count = 0: SSIM only, no images.
  c.test.image_count = 0;
  c.output.run_dir = (dir_ / "run0").string();
  const TrainSummary none = train_pix2pix(c, options);
  EXPECT_FALSE(fs::exists(none.run_dir / "test" / "1") && !fs::is_empty(none.run_dir / "test" / "1"));
  ASSERT_TRUE(none.test_ssim);
}

TEST_F(FirstHourTest, AStopRequestEndsALongTestEarly) {
  RunConfig c = tiny_config();
  enable_test(c, 6);
  c.train.max_iterations = 4;
  std::atomic<bool> stop{false};
  TrainOptions options;
  options.interactive = 0;
  options.stop_requested = &stop;
  int64_t batches_seen = 0;
  options.after_test_batch = [&](int64_t iteration, int64_t batch) {
    batches_seen = batch;
    if (iteration == 2 && batch == 2) stop = true;  // Ctrl-C during the second test
  };
  const TrainSummary s = train_pix2pix(c, options);
  EXPECT_TRUE(s.interrupted);
  EXPECT_FALSE(s.nothing_trained);
  EXPECT_EQ(s.iterations, 2);
  EXPECT_EQ(batches_seen, 2);  // the test ended after its second of six batches
  EXPECT_THAT(s.stop_reason, HasSubstr("during the test of iteration 2 after 2 sample(s)"));
  // Interrupted as any stop: a checkpoint of the completed iteration, status "interrupted".
  EXPECT_EQ(s.final_generator.filename(), "generator_0_2.pt");
  EXPECT_TRUE(fs::exists(s.final_generator));
  EXPECT_EQ(nlohmann::json::parse(read_file(s.outputs_manifest))["status"], "interrupted");
  // The first test was complete (the first 6 samples' SSIM), the partial one is no curve point.
  ASSERT_TRUE(s.test_ssim);
  EXPECT_THAT(read_file(s.run_dir / "train.log"), HasSubstr("test at iteration 1: SSIM"));
  EXPECT_THAT(read_file(s.run_dir / "train.log"), Not(HasSubstr("test at iteration 2: SSIM")));
}

// Beside a busy machine (Houdini cooking), a fixed count above 1 keeps libgomp's poll, which made a run 7x slower.
// `img2img train`, re-executed with img2img's own GOMP_SPINCOUNT (no choice of the user's), writes one warning to
// train.log and the console and keeps its count. The busy programs, started once training starts: two spinning
// shells per core at this test's priority, each ended by `timeout` should the test die first. They end, and the run
// is stopped with SIGINT, a sample after the warning (or 20 s after they started, when none came).
TEST_F(FirstHourTest, AFixedThreadCountBesideBusyProgramsIsWarnedAboutOnce) {
  const int cores = cpu_cores();
  if (cores < 2) GTEST_SKIP() << "one core: no fixed count above 1 to watch";
  RunConfig c = tiny_config();
  c.train.max_iterations = 1000000;  // stopped by SIGINT
  c.device.cpu_threads = cores;
  const fs::path toml = dir_ / "fixed.toml", log = dir_ / "run" / "train.log", console = dir_ / "console.txt";
  std::ofstream(toml) << config_to_toml(c);
  const std::string script = fmt::format(
      "env -u OMP_WAIT_POLICY -u GOMP_SPINCOUNT -u {marker} -u OMP_NUM_THREADS -u WORLD_SIZE -u LOCAL_WORLD_SIZE "
      "'{exe}' train --config '{toml}' >'{console}' 2>&1 & train=$!; "
      "end=$(($(date +%s) + 60)); "
      "while [ $(date +%s) -lt $end ] && kill -0 $train && ! grep -q '^device: ' '{log}' 2>/dev/null; do sleep 0.2; "
      "done; "
      "spinners=''; i=0; while [ $i -lt {spinners} ]; do timeout 60 sh -c 'while :; do :; done' & "
      "spinners=\"$spinners $!\"; i=$((i+1)); done; "
      "end=$(($(date +%s) + 20)); "
      "while [ $(date +%s) -lt $end ] && kill -0 $train && ! grep -q 'fixed CPU threads' '{log}'; do sleep 0.2; done; "
      "sleep 1.6; kill $spinners; kill -INT $train; wait $train; echo rc=$?",
      fmt::arg("spinners", 2 * cores), fmt::arg("marker", kOmpSpinCountMarker), fmt::arg("exe", test::img2img_binary()),
      fmt::arg("toml", toml.string()), fmt::arg("console", console.string()), fmt::arg("log", log.string()));
  std::string output;
  test::run_command(script, &output);
  EXPECT_THAT(output, HasSubstr("rc=130"));  // stopped by the SIGINT, after a checkpoint
  const std::string text = read_file(log);
  const std::string warning = fmt::format("warning: {} fixed CPU threads (device.cpu_threads = {}) while other "
                                          "programs use ", cores, cores);
  EXPECT_THAT(text, HasSubstr(warning));
  EXPECT_EQ(text.find(warning), text.rfind(warning)) << "warned more than once";
  EXPECT_THAT(text, HasSubstr("Either set device.cpu_threads = 0 (follows the free cores), or start img2img with "
                              "OMP_WAIT_POLICY=PASSIVE"));
  EXPECT_THAT(text, HasSubstr(cpu_thread_count_text(cores)));
  EXPECT_THAT(text, Not(HasSubstr("CPU threads " + std::to_string(cores) + " -> ")));  // the count never changes
  EXPECT_THAT(read_file(console), HasSubstr(warning));
}

TEST_F(FirstHourTest, UnpairedSummaryListsBothGeneratorsAndOnnxFiles) {
  RunConfig c = unpaired_defaults();
  DataSource source;
  source.input_type = InputType::kMultipleUnpaired;
  const DataSource pairs = write_pairs("u", 3, 4);
  source.input_dir = pairs.input_dir, source.reference_dir = pairs.reference_dir;
  static_cast<DataSource&>(c.data) = source;
  c.data.image_size = 32, c.data.batch_size = 2;
  c.generator.layers = 4, c.generator.initial_layer_size = 8;
  c.discriminator.layers = 2, c.discriminator.initial_layer_size = 8;
  c.train.max_iterations = 1, c.train.linear_decay = 0;
  c.output.run_dir = (dir_ / "run").string();
  c.plot.type = PlotType::kCsv;  // the ssim plot's series name what it measures
  c.device.device = "cpu", c.device.cpu_threads = 1;
  c.test.enabled = true;
  static_cast<DataSource&>(c.test) = source;
  TrainOptions options;
  options.interactive = 0;
  const TrainSummary s = train_cycle_gan(c, options);
  ASSERT_EQ(s.final_generators.size(), 2u);
  EXPECT_EQ(s.final_generators[0].filename(), "generator_0_1.pt");
  EXPECT_EQ(s.final_generators[1].filename(), "generator_1_1.pt");
  ASSERT_EQ(s.final_onnx_files.size(), 2u);
  EXPECT_EQ(s.final_onnx_files[1].filename(), "generator_1_1.onnx");
  // The start of the log says what the unpaired test measures.
  EXPECT_THAT(read_file(s.run_dir / "train.log"), HasSubstr("cycle reconstruction"));
  // Side-by-side image: input | translated | reconstructed.
  EXPECT_TRUE(fs::exists(s.run_dir / "test" / "1" / "000001_A_000_side_by_side.png"));
  // So does the SSIM plot: its series (from plots/ssim.csv) give the cycle title, not "generated vs reference".
  std::vector<std::string> series;
  std::istringstream csv(read_file(s.run_dir / "plots" / "ssim.csv"));
  std::string row;
  std::getline(csv, row);  // header iteration,series,value
  while (std::getline(csv, row)) series.push_back(row.substr(row.find(',') + 1, row.rfind(',') - row.find(',') - 1));
  ASSERT_FALSE(series.empty());
  EXPECT_THAT(plot_labels("ssim", series).title, HasSubstr("reconstruction"));
  EXPECT_THAT(plot_labels("ssim", {"train", "test"}).title, HasSubstr("generated vs reference"));
}

TEST_F(FirstHourTest, ARunThatCannotStartLeavesNoEmptyFolder) {
  RunConfig c = tiny_config();
  c.train.max_iterations = 2;
  c.output.model_save_rate = 1;
  TrainOptions options;
  options.interactive = 0;
  const TrainSummary s = train_pix2pix(c, options);
  // A resume into a new folder whose earlier outputs.json is damaged fails before anything is trained:
  // the new folder is removed again, not left empty (or with only config.toml).
  write_file_atomic(s.run_dir / "outputs.json", "{ damaged");
  options.resume = find_resume_point(s.run_dir);
  c.output.run_dir = (dir_ / "branch").string();
  c.train.max_iterations = 3;
  try {
    train_pix2pix(c, options);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("outputs.json"));
  }
  EXPECT_FALSE(fs::exists(dir_ / "branch"));
  // A data problem found while decoding in a new run: the folder it made goes too (nothing was trained).
  RunConfig bad = tiny_config();
  bad.output.run_dir = (dir_ / "bad").string();
  { std::ofstream(fs::path(bad.data.input_dir) / "zz.png") << "not a png"; }
  { std::ofstream(fs::path(bad.data.reference_dir) / "zz.png") << "not a png"; }
  options.resume.reset();
  try {
    train_pix2pix(bad, options);
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr("The run folder '" + (dir_ / "bad").string() + "' was removed."));
  }
  EXPECT_FALSE(fs::exists(dir_ / "bad"));
}

}  // namespace
}  // namespace img2img

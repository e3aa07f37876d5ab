// report.html of real runs opened in a real browser (issue 17): Debian's chromium, headless, renders
// the page from file:// with its scripts; the test checks the rendered DOM (status, the curves' SVG with
// labelled axes and data points, one gallery row per test sample shown, every image loaded) and that a
// screenshot is not blank. A paired run, an unpaired run and a run with 16-bit heights. Skipped with a
// message where chromium is not installed (scripts/setup.sh installs it).

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fmt/format.h>  // fmt::format
#include <opencv2/imgcodecs.hpp>  // cv::imread
#include <opencv2/imgproc.hpp>    // cv::cvtColor

#include <chrono>  // std::chrono
#include <regex>   // std::regex
#include <set>    // std::set

#include "img2img/core/atomic_file.h"
#include "img2img/run/report.h"
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

// The text from `start` up to the first `end` after it ("" when `start` is absent).
std::string between(const std::string& text, const std::string& start, const std::string& end) {
  const size_t a = text.find(start);
  if (a == std::string::npos) return "";
  const size_t b = text.find(end, a + start.size());
  return text.substr(a, b == std::string::npos ? std::string::npos : b - a);
}

class ReportBrowserTest : public test::TempDirTest {
 protected:
  void SetUp() override {
    test::TempDirTest::SetUp();
    std::string path;
    if (test::run_command("command -v chromium", &path) != 0)
      GTEST_SKIP() << "chromium is not installed (Debian's chromium; scripts/setup.sh installs it): the report is "
                      "not checked in a browser";
  }

  // Chromium, headless (--no-sandbox: CI runs as root), with a profile of its own (tests run in parallel).
  std::string chromium(const std::string& args, const fs::path& page) {
    const fs::path profile = dir_ / fmt::format("profile{}", runs_++);
    std::string out;
    const int rc = test::run_command(
        fmt::format("(timeout 90 chromium --headless --no-sandbox --disable-gpu --hide-scrollbars "
                    "--user-data-dir='{}' {} 'file://{}' 2>/dev/null)",
                    profile.string(), args, page.string()),
        &out);
    EXPECT_EQ(rc, 0) << out;
    return out;
  }

  // The DOM after the page's scripts ran and its images loaded.
  std::string rendered_dom(const fs::path& page) { return chromium("--virtual-time-budget=5000 --dump-dom", page); }

  // A screenshot of the page's top: checks that it is not blank (many colours, not one flat tone).
  void expect_screenshot_not_blank(const fs::path& page) {
    const fs::path shot = dir_ / "shot.png";
    chromium(fmt::format("--virtual-time-budget=5000 --window-size=1280,1600 --screenshot='{}'", shot.string()), page);
    const cv::Mat image = cv::imread(shot.string(), cv::IMREAD_COLOR);
    ASSERT_FALSE(image.empty()) << "no screenshot at " << shot;
    std::set<int> colours;
    for (int y = 0; y < image.rows; y += 2)
      for (int x = 0; x < image.cols; x += 2) {
        const cv::Vec3b p = image.at<cv::Vec3b>(y, x);
        colours.insert(p[0] << 16 | p[1] << 8 | p[2]);
      }
    cv::Mat grey;
    cv::cvtColor(image, grey, cv::COLOR_BGR2GRAY);
    cv::Scalar mean, stddev;
    cv::meanStdDev(grey, mean, stddev);
    EXPECT_GT(colours.size(), 200u);
    EXPECT_GT(stddev[0], 10.0);
  }

  // Checks every chart: its SVG is in the DOM, titled, with axis labels and a legend entry and a point
  // per iteration for each series named.
  void expect_charts(const std::string& dom, const std::map<std::string, std::vector<std::string>>& series,
                     size_t points_per_series) {
    for (const auto& [chart, names] : series) {
      const std::string svg = between(dom, fmt::format("data-chart=\"{}\"", chart), "</svg>");
      ASSERT_FALSE(svg.empty()) << "no chart " << chart;
      EXPECT_THAT(svg, HasSubstr(">iteration<")) << chart;  // x axis label
      for (const std::string& name : names) {
        // gnuplot's svg terminal: one group per series, starting with its legend text, then a <use> per
        // point (and one for the legend's sample).
        const std::string group = between(svg, fmt::format("<text>{}</text>", name), "_gnuplot_plot_");
        ASSERT_FALSE(group.empty()) << chart << ": no legend entry for " << name;
        EXPECT_GE(count_of(group, "<use "), points_per_series) << chart << " " << name;
      }
    }
  }

  static void add_test(RunConfig& c, int images) {
    c.test.enabled = true;
    static_cast<DataSource&>(c.test) = static_cast<const DataSource&>(c.data);
    c.test.batch_size = 1, c.test.frequency = 1, c.test.image_count = images;
  }

  int runs_ = 0;
};

TEST_F(ReportBrowserTest, PairedRunShowsStatusCurvesAndGallery) {
  RunConfig c = test::tiny_paired_run(dir_);
  c.output.run_dir = (dir_ / "run").string();
  c.train.max_iterations = 3, c.train.linear_decay = 2;
  c.plot.type = PlotType::kCsv;
  c.test.target_ssim = 0.99;
  add_test(c, 2);
  TrainOptions options;
  options.interactive = 0;
  int64_t steps = 0;  // the steps the loop made, as the header counts them
  options.after_step = [&steps](int64_t, int64_t) { ++steps; };
  const TrainSummary s = train_pix2pix(c, options);
  const fs::path page = s.run_dir / "report.html";
  EXPECT_THAT(read_file(s.run_dir / "outputs.json"), HasSubstr("report.html"));
  const std::string dom = rendered_dom(page);
  EXPECT_THAT(dom, HasSubstr("id=\"status\">finished</span>"));
  EXPECT_EQ(steps, 6);  // 4 pairs in batches of 2, 3 iterations
  EXPECT_THAT(dom, HasSubstr(fmt::format("<td id=\"iteration\">iteration 3 of 3 \u00b7 step {0} of {0}</td>", steps)));
  // The charts carry the PNG plots' titles (plot_labels).
  EXPECT_THAT(dom, HasSubstr("data-chart=\"ssim\" role=\"img\" aria-label=\"SSIM of generated vs reference\""));
  expect_charts(dom,
                {{"loss", {"g_gan", "g_l1", "d_real", "d_fake"}},
                 {"score", {"real", "generated"}},
                 {"ssim", {"train", "test"}},
                 {"lr", {"lr"}}},
                3);
  EXPECT_THAT(between(dom, "data-chart=\"ssim\"", "</svg>"), HasSubstr("test.target_ssim 0.99"));
  EXPECT_THAT(between(dom, "data-chart=\"lr\"", "</svg>"), HasSubstr(">learning rate<"));  // y axis label
  // The gallery: the latest test shown (2 samples), 3 tests offered, every image loaded.
  const std::string latest = between(dom, "<div class=\"test\" data-iteration=\"3\"", "<div class=\"test\"");
  ASSERT_FALSE(latest.empty());
  EXPECT_EQ(count_of(latest, "<tr class=\"sample\""), 2u);
  EXPECT_THAT(latest, HasSubstr("SSIM 0."));
  EXPECT_EQ(count_of(dom, "<div class=\"test\""), 3u);
  EXPECT_THAT(dom, HasSubstr("data-images-loaded=\"18/18\""));  // 3 tests x 2 samples x 3 images
  EXPECT_THAT(dom, HasSubstr("train.log"));
  // The plots' files, in name order, each said what it is.
  const std::string outputs = between(dom, "<section id=\"outputs\">", "</section>");
  const size_t loss = outputs.find(">loss.csv</a> plot points (CSV)"), score = outputs.find(">score.csv</a>"),
               ssim = outputs.find(">ssim.csv</a>");
  ASSERT_NE(loss, std::string::npos) << outputs;
  EXPECT_LT(loss, score);
  EXPECT_LT(score, ssim);
  EXPECT_NE(ssim, std::string::npos);
  expect_screenshot_not_blank(page);
}

TEST_F(ReportBrowserTest, UnpairedRunShowsBothDirections) {
  RunConfig c = test::tiny_unpaired_run(dir_);
  c.output.run_dir = (dir_ / "run").string();
  add_test(c, 2);
  TrainOptions options;
  options.interactive = 0;
  int64_t steps = 0;
  options.after_step = [&steps](int64_t, int64_t) { ++steps; };
  const TrainSummary s = train_cycle_gan(c, options);
  const std::string dom = rendered_dom(s.run_dir / "report.html");
  EXPECT_THAT(dom, HasSubstr("id=\"status\">finished</span>"));
  EXPECT_EQ(steps, 2);  // 4 images per domain in batches of 2, 1 iteration
  EXPECT_THAT(dom, HasSubstr(fmt::format("<td id=\"iteration\">iteration 1 of 1 \u00b7 step {0} of {0}</td>", steps)));
  // The SSIM chart is the cycle reconstruction's, titled as its PNG plot is (plot_labels).
  EXPECT_THAT(dom, HasSubstr("data-chart=\"ssim\" role=\"img\" aria-label=\"Cycle SSIM: reconstruction vs original"));
  EXPECT_THAT(dom, Not(HasSubstr("generated vs reference")));
  // plot.type = disabled: the curves come from train.log.
  expect_charts(dom, {{"loss", {"g_gan_0", "cycle_1", "d_0"}}, {"ssim", {"test_cycle"}}, {"lr", {"lr"}}}, 1);
  for (const char* direction : {"A", "B"}) {
    const std::string table = between(dom, fmt::format("data-direction=\"{}\"", direction), "</table>");
    ASSERT_FALSE(table.empty()) << direction;
    EXPECT_EQ(count_of(table, "<tr class=\"sample\""), 2u) << direction;
    EXPECT_THAT(table, HasSubstr("data-role=\"translated\"")) << direction;
    EXPECT_THAT(table, HasSubstr("data-role=\"reconstructed\"")) << direction;
  }
  EXPECT_THAT(dom, HasSubstr("A → B → A"));
  EXPECT_THAT(dom, HasSubstr("B → A → B"));
  EXPECT_THAT(dom, HasSubstr("data-images-loaded=\"12/12\""));  // 2 directions x 2 samples x 3 images
  expect_screenshot_not_blank(s.run_dir / "report.html");
}

TEST_F(ReportBrowserTest, SixteenBitHeightsAreShownAsShadedPreviews) {
  RunConfig c = test::tiny_height_run(dir_);
  c.output.run_dir = (dir_ / "run").string();
  c.train.max_iterations = 2;
  add_test(c, 2);
  TrainOptions options;
  options.interactive = 0;
  const TrainSummary s = train_pix2pix(c, options);
  const std::string dom = rendered_dom(s.run_dir / "report.html");
  EXPECT_THAT(dom, HasSubstr("id=\"status\">finished</span>"));
  expect_charts(dom, {{"loss", {"g_l1"}}, {"ssim", {"train", "test"}}}, 2);
  const std::string latest = between(dom, "<div class=\"test\" data-iteration=\"2\"", "<div class=\"test\"");
  EXPECT_EQ(count_of(latest, "<tr class=\"sample\""), 2u);
  // Generated and reference heights (16-bit) show their previews and link the raw files; the 8-bit
  // input shows itself.
  EXPECT_EQ(count_of(latest, "<img src=\"report/previews/2/"), 4u);
  EXPECT_EQ(count_of(latest, "16-bit, 1 channel; shown colour-mapped and hill-shaded"), 4u);
  EXPECT_THAT(latest, HasSubstr("_reference.png\"><img src=\"report/previews/2/"));
  EXPECT_THAT(dom, HasSubstr("data-images-loaded=\"12/12\""));
  // The preview is colour (a grey 16-bit file would have R = G = B everywhere).
  const fs::path preview = s.run_dir / "report" / "previews" / "2";
  ASSERT_TRUE(fs::exists(preview));
  for (const auto& e : fs::directory_iterator(preview)) {
    const cv::Mat p = cv::imread(e.path().string(), cv::IMREAD_UNCHANGED);
    ASSERT_EQ(p.type(), CV_8UC3) << e.path();
    std::vector<cv::Mat> ch;
    cv::split(p, ch);
    EXPECT_GT(cv::norm(ch[0], ch[2], cv::NORM_INF), 50) << e.path();
  }
  expect_screenshot_not_blank(s.run_dir / "report.html");
}

// A live run's page that is no longer rewritten (the run was killed: SIGKILL, a second Ctrl-C) stops
// reloading and says so. The page's time stamp is set back instead of waiting.
TEST_F(ReportBrowserTest, StalePageOfAKilledRunSaysSoAndStopsReloading) {
  const fs::path run = dir_ / "killed";
  write_file_atomic(run / "config.toml", "[train]\nmax_iterations = 10\n[plot]\nrate = 1\n");
  write_file_atomic(run / "train.log",
                    "data: 4 pairs at 16 px, 3 channel(s)\n"
                    "iteration 1/10  lr 0.0002  G_GAN 0.7  G_L1 40  SSIM 0.2  50.0 img/s  ETA 9s\n");
  write_file_atomic(run / "outputs.json", R"({"version": 1, "status": "running", "iterations": 1, "outputs": []})");
  {
    const RunFolderLock lock(run);  // written while the run held the folder, as RunWriter does
    write_run_report(run);
  }
  const fs::path page = run / "report.html";
  const std::string text = read_file(page);
  ASSERT_THAT(text, HasSubstr("data-refresh-s=\"5\" data-stale-after-s=\"60\""));
  // Fresh: it goes on reloading, no notice (a budget shorter than the 5 s to the reload).
  std::string dom = chromium("--virtual-time-budget=1000 --dump-dom", page);
  EXPECT_THAT(dom, HasSubstr("id=\"status\">running</span>"));
  EXPECT_THAT(dom, HasSubstr("<p class=\"error\" id=\"stale\" hidden=\"\">"));
  EXPECT_THAT(dom, Not(HasSubstr("data-stale=")));
  EXPECT_THAT(dom, HasSubstr("<tr><td>ETA</td><td id=\"eta\">9s</td></tr>"));
  // Written 2 hours ago: the notice, with the command that tells the run's state; no more reloads.
  const auto two_hours_ago = std::chrono::duration_cast<std::chrono::milliseconds>(
                                 std::chrono::system_clock::now().time_since_epoch() - std::chrono::hours(2))
                                 .count();
  write_file_atomic(page, std::regex_replace(text, std::regex("data-written-ms=\"\\d+\""),
                                             fmt::format("data-written-ms=\"{}\"", two_hours_ago)));
  dom = chromium("--virtual-time-budget=8000 --dump-dom", page);
  EXPECT_THAT(dom, HasSubstr("data-stale=\"true\""));
  const std::string notice = between(dom, "<p class=\"error\" id=\"stale\">", "</p>");
  ASSERT_FALSE(notice.empty()) << "the notice is hidden";
  EXPECT_THAT(notice, HasSubstr("this page has not been updated since "));
  EXPECT_THAT(notice, HasSubstr("<span id=\"stale-age\">2 h 0 min</span> ago"));
  EXPECT_THAT(notice, HasSubstr("the run may have stopped. Run 'img2img report " + run.string() + "'"));
  EXPECT_THAT(dom, HasSubstr("id=\"refresh-note\" hidden=\"\""));
  EXPECT_THAT(dom, HasSubstr("<tr hidden=\"\"><td>ETA</td><td id=\"eta\">9s</td></tr>"));  // no ETA for a stopped run
  // No blue "running" badge, nor "running" in the title, on a page that is no longer updated.
  EXPECT_THAT(dom, HasSubstr("<span class=\"status status-not_running\" id=\"status\">not updated</span>"));
  EXPECT_THAT(dom, HasSubstr("<title>killed - not updated - img2img run report</title>"));
  EXPECT_THAT(dom, Not(HasSubstr("running<")));
}

}  // namespace
}  // namespace img2img

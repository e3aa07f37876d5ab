// Training checks every file of its data set and names every unreadable one at once (as infer does),
// not only the first.

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <fmt/format.h>
#include <opencv2/imgcodecs.hpp>

#include <fstream>

#include "img2img/core/error.h"
#include "img2img/data/paired_dataset.h"
#include "img2img/data/unpaired_dataset.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

class UnreadableFilesTest : public test::TempDirTest {
 protected:
  static void png(const fs::path& p) {
    fs::create_directories(p.parent_path());
    ASSERT_TRUE(cv::imwrite(p.string(), cv::Mat(8, 8, CV_8UC3, cv::Scalar(10, 80, 160))));
  }
  static void junk(const fs::path& p) {
    fs::create_directories(p.parent_path());
    std::ofstream(p, std::ios::binary) << "not a png at all";
  }
  // The message of the DataError `fn` throws ("" and a test failure if it throws none).
  template <class F>
  static std::string data_error(F fn) {
    try {
      fn();
    } catch (const DataError& e) {
      return e.what();
    }
    ADD_FAILURE() << "no DataError";
    return "";
  }
  DataSource paired() const {
    DataSource s;
    s.input_dir = (dir_ / "in").string(), s.reference_dir = (dir_ / "ref").string();
    return s;
  }
};

TEST_F(UnreadableFilesTest, PairedNamesEveryUnreadableFileOnBothSides) {
  for (const char* name : {"a.png", "b.png", "c.png"}) png(dir_ / "in" / name), png(dir_ / "ref" / name);
  for (const char* name : {"zy.png", "zz.png"}) junk(dir_ / "in" / name), junk(dir_ / "ref" / name);
  for (int64_t threads : {0, 3}) {
    SCOPED_TRACE(threads);
    DataSource s = paired();
    s.worker_threads = threads;
    const std::string msg = data_error([&] { PairedDataset(s, 3, 8, 0); });
    EXPECT_THAT(msg, HasSubstr("4 file problem(s) in the data set (5 pair(s) checked); nothing was trained. Fix or "
                               "remove these files:\n  cannot decode image '" + (dir_ / "in/zy.png").string()));
    // In name order, input before reference, whatever the thread count.
    const size_t p1 = msg.find((dir_ / "in/zy.png").string()), p2 = msg.find((dir_ / "ref/zy.png").string()),
                 p3 = msg.find((dir_ / "in/zz.png").string()), p4 = msg.find((dir_ / "ref/zz.png").string());
    ASSERT_NE(p4, std::string::npos) << msg;
    EXPECT_TRUE(p1 < p2 && p2 < p3 && p3 < p4) << msg;
    EXPECT_THAT(msg, Not(HasSubstr("a.png"))) << msg;
  }
}

TEST_F(UnreadableFilesTest, ListsTheFirstTwentyAndCountsTheRest) {
  png(dir_ / "in/a.png"), png(dir_ / "ref/a.png");
  for (int i = 0; i < 23; ++i) junk(dir_ / "in" / fmt::format("z{:02d}.png", i)), png(dir_ / "ref" / fmt::format("z{:02d}.png", i));
  const std::string msg = data_error([&] { PairedDataset(paired(), 3, 8, 0); });
  EXPECT_THAT(msg, HasSubstr("23 file problem(s) in the data set (24 pair(s) checked)"));
  EXPECT_THAT(msg, HasSubstr((dir_ / "in/z19.png").string()));
  EXPECT_THAT(msg, Not(HasSubstr((dir_ / "in/z20.png").string())));
  EXPECT_THAT(msg, ::testing::EndsWith("\n  ... and 3 more"));
  EXPECT_EQ(std::count(msg.begin(), msg.end(), '\n'), 21) << msg;
}

TEST_F(UnreadableFilesTest, UnpairedNamesTheUnreadableFilesOfBothDomains) {
  DataSource s = paired();
  s.input_type = InputType::kMultipleUnpaired;
  png(dir_ / "in/a.png"), junk(dir_ / "in/zy.png"), junk(dir_ / "in/zz.png");
  png(dir_ / "ref/b.png"), junk(dir_ / "ref/zx.png");
  const std::string msg = data_error([&] { UnpairedDataset(s, 3, 8, 0); });
  EXPECT_THAT(msg, HasSubstr("3 file problem(s) in the data set (3 + 2 image(s) checked)"));
  for (const char* f : {"in/zy.png", "in/zz.png", "ref/zx.png"}) EXPECT_THAT(msg, HasSubstr((dir_ / f).string()));
}

TEST_F(UnreadableFilesTest, TrainCommandNamesEveryUnreadableFile) {
  for (const char* name : {"a.png", "b.png"}) png(dir_ / "in" / name), png(dir_ / "ref" / name);
  for (const char* name : {"zy.png", "zz.png"}) junk(dir_ / "in" / name), junk(dir_ / "ref" / name);
  std::string out;
  const int code = test::run_command(
      test::img2img_binary() + " train --plain-progress --data.input_dir " + (dir_ / "in").string() +
          " --data.reference_dir " + (dir_ / "ref").string() +
          " --data.image_size 32 --generator.layers 5 --discriminator.layers 2 --train.max_iterations 1"
          " --output.run_dir " + (dir_ / "run").string() + " --output.onnx_path '' --device.device cpu",
      &out);
  EXPECT_EQ(code, 1) << out;
  EXPECT_THAT(out, HasSubstr("error: 4 file problem(s) in the data set (4 pair(s) checked)")) << out;
  for (const char* f : {"in/zy.png", "ref/zy.png", "in/zz.png", "ref/zz.png"})
    EXPECT_THAT(out, HasSubstr("cannot decode image '" + (dir_ / f).string() + "'")) << out;
  EXPECT_THAT(out, HasSubstr("The run folder '" + (dir_ / "run").string() + "' was removed.")) << out;
  EXPECT_FALSE(fs::exists(dir_ / "run"));
}

}  // namespace
}  // namespace img2img

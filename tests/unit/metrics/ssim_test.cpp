#include "img2img/metrics/ssim.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opencv2/core.hpp>  // cv::merge
#include <opencv2/imgcodecs.hpp>  // cv::imwrite

#include <filesystem>  // std::filesystem
#include <fstream>     // std::ifstream
#include <sstream>     // std::stringstream

#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "img2img/infer/ssim_files.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;

const fs::path kGoldenDir = fs::path(IMG2IMG_SOURCE_DIR) / "tests/golden/ssim";

class SsimTest : public ::testing::Test {
 protected:
  void SetUp() override { torch::manual_seed(0); }
};

// expected.csv is written by make_ssim_golden.py from scikit-image 0.19 on real photographs.
TEST_F(SsimTest, MatchesScikitImageOnDistortedPhotographs) {
  std::ifstream csv(kGoldenDir / "expected.csv");
  ASSERT_TRUE(csv) << "missing " << (kGoldenDir / "expected.csv");
  std::string line;
  std::getline(csv, line);  // header
  int cases = 0;
  while (std::getline(csv, line)) {
    std::stringstream row(line);
    std::string reference, distorted, value;
    std::getline(row, reference, ',');
    std::getline(row, distorted, ',');
    std::getline(row, value, ',');
    const double got = ssim_image_files(kGoldenDir / reference, kGoldenDir / distorted);
    EXPECT_NEAR(got, std::stod(value), 1e-4) << reference << " vs " << distorted;
    ++cases;
  }
  EXPECT_EQ(cases, 36);  // 3 photos x {rgb, grey} x {8, 16 bit} x {jpeg, blur, noise}
}

TEST_F(SsimTest, IdenticalImagesGiveOne) {
  const torch::Tensor a = torch::rand({3, 2, 24, 30});
  const torch::Tensor s = ssim(a, a);
  ASSERT_EQ(s.sizes().vec(), (std::vector<int64_t>{3}));
  EXPECT_TRUE(torch::allclose(s, torch::ones({3}, torch::kFloat64), 0, 1e-12));
}

TEST_F(SsimTest, IsSymmetric) {
  const torch::Tensor a = torch::rand({2, 3, 32, 32});
  const torch::Tensor b = (a + 0.1 * torch::randn({2, 3, 32, 32})).clamp(0, 1);
  EXPECT_TRUE(torch::allclose(ssim(a, b), ssim(b, a), 0, 1e-12));
}

TEST_F(SsimTest, BatchedEqualsOneByOne) {
  const torch::Tensor a = torch::rand({4, 1, 20, 20}), b = torch::rand({4, 1, 20, 20});
  const torch::Tensor batched = ssim(a, b);
  for (int64_t i = 0; i < 4; ++i)
    EXPECT_NEAR(batched[i].item<double>(), ssim(a.slice(0, i, i + 1), b.slice(0, i, i + 1)).item<double>(), 1e-12);
  EXPECT_NEAR(ssim_mean(a, b), batched.mean().item<double>(), 1e-12);
}

TEST_F(SsimTest, RejectsDifferentShapesAndTinyImages) {
  EXPECT_THROW(ssim(torch::rand({1, 3, 16, 16}), torch::rand({1, 3, 16, 17})), DataError);
  try {
    ssim(torch::rand({1, 1, 10, 16}), torch::rand({1, 1, 10, 16}));
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), ::testing::HasSubstr("at least 11x11"));
  }
}

TEST_F(SsimTest, ComparesFoldersByName) {
  const fs::path dir = fs::temp_directory_path() / "img2img_ssim_folders";
  fs::remove_all(dir);
  fs::create_directories(dir / "a"), fs::create_directories(dir / "b");
  fs::copy_file(kGoldenDir / "garden_rgb8_ref.png", dir / "a/x.png");
  fs::copy_file(kGoldenDir / "garden_rgb8_blur.png", dir / "b/x.png");
  fs::copy_file(kGoldenDir / "garden_rgb8_ref.png", dir / "a/y.png");
  fs::copy_file(kGoldenDir / "garden_rgb8_ref.png", dir / "b/y.png");
  const auto scores = ssim_image_folders(dir / "a", dir / "b");
  ASSERT_EQ(scores.size(), 2u);
  EXPECT_EQ(scores[0].name, "x");
  EXPECT_LT(scores[0].ssim, 0.9999);
  EXPECT_NEAR(scores[1].ssim, 1.0, 1e-12);
  fs::copy_file(kGoldenDir / "garden_rgb8_ref.png", dir / "a/z.png");
  EXPECT_THROW(ssim_image_folders(dir / "a", dir / "b"), DataError);
  fs::remove_all(dir);
}

// Every pair of a folder comparison that cannot be compared is named, not only the first (a channel
// problem used to hide a size problem in the next pair).
TEST_F(SsimTest, FolderComparisonNamesEveryBadPair) {
  const fs::path dir = fs::temp_directory_path() / "img2img_ssim_bad_pairs";
  fs::remove_all(dir);
  fs::create_directories(dir / "a"), fs::create_directories(dir / "b");
  const cv::Mat rgb(32, 32, CV_8UC3, cv::Scalar(10, 20, 30)), rgba(32, 32, CV_8UC4, cv::Scalar(10, 20, 30, 255)),
      small(24, 24, CV_8UC3, cv::Scalar(10, 20, 30));
  ASSERT_TRUE(cv::imwrite((dir / "a/p.png").string(), rgb) && cv::imwrite((dir / "b/p.png").string(), rgba));
  ASSERT_TRUE(cv::imwrite((dir / "a/q.png").string(), rgb) && cv::imwrite((dir / "b/q.png").string(), small));
  ASSERT_TRUE(cv::imwrite((dir / "a/r.png").string(), rgb) && cv::imwrite((dir / "b/r.png").string(), rgb));
  try {
    ssim_image_folders(dir / "a", dir / "b");
    FAIL() << "expected DataError";
  } catch (const DataError& e) {
    const std::string what = e.what();
    EXPECT_THAT(what, ::testing::HasSubstr("2 of 3 pairs"));
    EXPECT_THAT(what, ::testing::HasSubstr("p.png"));
    EXPECT_THAT(what, ::testing::HasSubstr("q.png"));
    EXPECT_THAT(what, ::testing::Not(::testing::HasSubstr("r.png")));
  }
  fs::remove_all(dir);
}

// Grey against RGB: the grey file as RGB (3 equal channels), with a note saying so. The reference is
// the same comparison through a real 3-channel file (the same-channel path checked against
// scikit-image above).
TEST_F(SsimTest, GreyAgainstRgbIsComparedAsRgbWithANote) {
  const fs::path dir = fs::temp_directory_path() / "img2img_ssim_channels";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const DecodedImage grey = read_image(kGoldenDir / "garden_grey8_ref.png");
  ASSERT_EQ(grey.channels, 1);
  cv::Mat as_rgb;
  cv::merge(std::vector<cv::Mat>{grey.pixels, grey.pixels, grey.pixels}, as_rgb);
  write_image(dir / "grey_as_rgb.png", as_rgb, PixelDepth::k8);
  const fs::path rgb = kGoldenDir / "garden_rgb8_blur.png";
  std::string note;
  const double mixed = ssim_image_files(kGoldenDir / "garden_grey8_ref.png", rgb, &note);
  EXPECT_NEAR(mixed, ssim_image_files(dir / "grey_as_rgb.png", rgb), 1e-12);
  EXPECT_THAT(note, ::testing::HasSubstr("repeated to 3 channels"));
  std::string same;
  ssim_image_files(rgb, rgb, &same);
  EXPECT_EQ(same, "");
  fs::remove_all(dir);
}

// An alpha channel on one side only is refused with the fix (it would compare alpha with a copied channel).
TEST_F(SsimTest, RefusesAnAlphaChannelOnOneSideOnly) {
  const fs::path dir = fs::temp_directory_path() / "img2img_ssim_alpha";
  fs::remove_all(dir);
  fs::create_directories(dir);
  const DecodedImage rgb = read_image(kGoldenDir / "garden_rgb8_ref.png");
  cv::Mat rgba;
  cv::merge(std::vector<cv::Mat>{rgb.pixels, cv::Mat(rgb.pixels.size(), CV_32FC1, cv::Scalar(1.0))}, rgba);
  write_image(dir / "rgba.png", rgba, PixelDepth::k8);
  ASSERT_EQ(read_image(dir / "rgba.png").channels, 4);
  for (const fs::path& other : {kGoldenDir / "garden_rgb8_ref.png", kGoldenDir / "garden_grey8_ref.png"}) {
    try {
      ssim_image_files(dir / "rgba.png", other);
      FAIL() << "expected DataError for " << other;
    } catch (const DataError& e) {
      EXPECT_THAT(e.what(), ::testing::HasSubstr("4 channels (RGBA)"));
      EXPECT_THAT(e.what(), ::testing::HasSubstr("alpha"));
      EXPECT_THAT(e.what(), ::testing::HasSubstr("Save both with the same channels"));
    }
  }
  EXPECT_NEAR(ssim_image_files(dir / "rgba.png", dir / "rgba.png"), 1.0, 1e-12);
  fs::remove_all(dir);
}

TEST_F(SsimTest, CommandPrintsSsimOfTwoFiles) {
  std::string out;
  const std::string ref = (kGoldenDir / "garden_grey16_ref.png").string();
  ASSERT_EQ(test::run_command(test::img2img_binary() + " ssim " + ref + " " + ref, &out), 0) << out;
  EXPECT_THAT(out, ::testing::HasSubstr("1.000000"));
  EXPECT_NE(test::run_command(test::img2img_binary() + " ssim " + ref + " " + kGoldenDir.string(), &out), 0);
  EXPECT_THAT(out, ::testing::HasSubstr("two image files or two folders"));
}

// The per-step train-SSIM curve computes in float32; it must stay within 1e-5 of the float64 value
// (which matches scikit-image) on real photographs.
TEST_F(SsimTest, Float32AgreesWithFloat64OnPhotographs) {
  SsimOptions fast;
  fast.dtype = torch::kFloat32;
  const auto load = [](const fs::path& p) { return signed_to_unit(image_to_tensor(read_image(p).pixels)).unsqueeze(0); };
  const auto ref = load(kGoldenDir / "elephants_rgb16_ref.png");
  for (const char* distorted : {"elephants_rgb16_jpeg.png", "elephants_rgb16_blur.png", "elephants_rgb16_noise.png"}) {
    const auto other = load(kGoldenDir / distorted);
    const double exact = ssim_mean(ref, other), approx = ssim_mean(ref, other, fast);
    EXPECT_NEAR(approx, exact, 1e-5) << distorted;
    EXPECT_LT(exact, 0.999) << distorted;  // a real distortion, not a trivial 1
  }
}

}  // namespace
}  // namespace img2img

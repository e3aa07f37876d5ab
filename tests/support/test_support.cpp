#include "support/test_support.h"

#include <opencv2/imgcodecs.hpp>  // cv::imread
#include <opencv2/imgproc.hpp>    // cv::resize
#include <torch/utils.h>          // torch::manual_seed

#include <algorithm>  // std::min
#include <array>    // std::array
#include <cstdio>   // popen
#include <random>   // std::mt19937

#include "img2img/data/image_io.h"
#include "img2img/data/paired_dataset.h"

namespace img2img::test {
namespace fs = std::filesystem;

void TempDirTest::SetUp() {
  torch::manual_seed(0);
  const auto* info = ::testing::UnitTest::GetInstance()->current_test_info();
  dir_ = fs::temp_directory_path() / (std::string("img2img_") + info->test_suite_name() + "_" + info->name() + "_" +
                                      std::to_string(::getpid()));
  fs::remove_all(dir_);
  fs::create_directories(dir_);
}

void TempDirTest::TearDown() {
  std::error_code ec;
  if (!HasFailure()) fs::remove_all(dir_, ec);  // keep the evidence of a failure
}

fs::path photos_dir() {
  const fs::path dir = fs::path(IMG2IMG_SOURCE_DIR) / "data" / "photos";
  if (!fs::is_directory(dir)) {
    ADD_FAILURE() << "real photographs missing at " << dir << ": run scripts/fetch_data.sh";
    return {};
  }
  return dir;
}

std::vector<cv::Mat> photo_crops(int count, int size, unsigned seed) {
  std::vector<cv::Mat> crops;
  const fs::path dir = photos_dir();
  if (dir.empty()) return crops;
  const auto files = list_image_files(dir);
  std::mt19937 rng(seed);
  std::vector<cv::Mat> photos;
  for (const auto& f : files) {
    cv::Mat p = read_image(f).pixels;
    cv::Mat small;  // ~480 px wide keeps crops textured but cheap
    cv::resize(p, small, cv::Size(480, 480 * p.rows / p.cols), 0, 0, cv::INTER_AREA);
    photos.push_back(small);
  }
  for (int i = 0; i < count; ++i) {
    const cv::Mat& p = photos[static_cast<size_t>(i) % photos.size()];
    const int side = std::uniform_int_distribution<int>(size, std::min(p.rows, p.cols) / 2)(rng);
    const int x = std::uniform_int_distribution<int>(0, p.cols - side)(rng);
    const int y = std::uniform_int_distribution<int>(0, p.rows - side)(rng);
    cv::Mat crop;
    cv::resize(p(cv::Rect(x, y, side, side)), crop, cv::Size(size, size), 0, 0, cv::INTER_AREA);
    crops.push_back(crop);
  }
  return crops;
}

int run_command(const std::string& command, std::string* output) {
  FILE* pipe = ::popen((command + " 2>&1").c_str(), "r");
  if (pipe == nullptr) return -1;
  std::array<char, 4096> buf{};
  std::string out;
  size_t n;
  while ((n = fread(buf.data(), 1, buf.size(), pipe)) > 0) out.append(buf.data(), n);
  const int status = ::pclose(pipe);
  if (output != nullptr) *output = out;
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

std::string img2img_binary() { return IMG2IMG_BINARY; }

namespace {

uint32_t crc32(const std::string& bytes) {
  uint32_t c = 0xFFFFFFFFu;
  for (unsigned char b : bytes) {
    c ^= b;
    for (int k = 0; k < 8; ++k) c = (c >> 1) ^ (0xEDB88320u & (0u - (c & 1u)));
  }
  return ~c;
}

std::string be32(uint32_t v) {
  return {static_cast<char>(v >> 24), static_cast<char>(v >> 16), static_cast<char>(v >> 8), static_cast<char>(v)};
}

}  // namespace

std::string gray_alpha_png(int w, int h) {
  std::string raw;
  for (int y = 0; y < h; ++y) {
    raw += '\0';  // filter: none
    for (int x = 0; x < w; ++x) raw += {static_cast<char>(x * 8 + y), static_cast<char>(200)};
  }
  std::string z = "\x78\x01";
  uint32_t a = 1, b = 0;
  for (unsigned char ch : raw) a = (a + ch) % 65521, b = (b + a) % 65521;
  for (size_t pos = 0; pos < raw.size() || pos == 0; pos += 65535) {
    const size_t n = std::min<size_t>(65535, raw.size() - pos);
    z += static_cast<char>(pos + n >= raw.size() ? 1 : 0);
    z += {static_cast<char>(n & 0xFF), static_cast<char>(n >> 8), static_cast<char>(~n & 0xFF),
          static_cast<char>((~n >> 8) & 0xFF)};
    z += raw.substr(pos, n);
  }
  z += be32((b << 16) | a);
  auto chunk = [](const std::string& type, const std::string& data) {
    return be32(static_cast<uint32_t>(data.size())) + type + data + be32(crc32(type + data));
  };
  const std::string ihdr = be32(static_cast<uint32_t>(w)) + be32(static_cast<uint32_t>(h)) + std::string("\x08\x04\0\0\0", 5);
  return std::string("\x89PNG\r\n\x1a\n", 8) + chunk("IHDR", ihdr) + chunk("IDAT", z) + chunk("IEND", "");
}

}  // namespace img2img::test

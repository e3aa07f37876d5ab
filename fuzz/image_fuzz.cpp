// libFuzzer target: image decoding (read_image, the OpenCV path) and the channel rule. The first
// byte picks the file extension; the rest is the file. Undecodable bytes must end in
// img2img::DataError; anything else (another exception, a crash, a sanitizer report) is a bug.

#include <unistd.h>  // getpid

#include <cstddef>     // size_t
#include <cstdint>     // uint8_t
#include <filesystem>  // std::filesystem
#include <fstream>     // std::ofstream
#include <string>      // std::string

#include "img2img/core/error.h"
#include "img2img/data/image_io.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  static const char* const kExtensions[] = {".png", ".jpg", ".tif", ".exr", ".bmp", ".webp", ".pnm", ".hdr"};
  if (size < 1) return 0;
  const std::filesystem::path path = std::filesystem::temp_directory_path() /
                                     ("img2img_image_fuzz_" + std::to_string(::getpid()) + kExtensions[data[0] % 8]);
  {
    std::ofstream out(path, std::ios::binary | std::ios::trunc);
    out.write(reinterpret_cast<const char*>(data + 1), static_cast<std::streamsize>(size - 1));
  }
  try {
    const img2img::DecodedImage image = img2img::read_image(path);
    for (int channels = 1; channels <= 4; ++channels) {
      const cv::Mat ruled = img2img::apply_channel_rule(image.pixels, channels);
      if (ruled.channels() != channels) __builtin_trap();
      (void)img2img::resize_square(ruled, 8);
    }
  } catch (const img2img::DataError&) {
  }
  std::error_code ec;
  std::filesystem::remove(path, ec);
  return 0;
}

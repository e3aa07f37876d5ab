// Image content edge cases at the decoder: EXIF orientation of JPEGs, bad bytes named, the channel
// rule on 1-4 channels, grey + alpha PNGs, truncated JPEGs (our message, no library noise).

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <opencv2/core.hpp>       // cv::Mat, cv::mean
#include <opencv2/imgcodecs.hpp>  // cv::imencode

#include <tiffio.h>  // TIFFOpen (a 16-bit float TIFF, which OpenCV cannot write)
#include <zlib.h>    // crc32 (a damaged PNG with valid chunk CRCs)

#include <algorithm>  // std::count

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/data/image_io.h"
#include "support/test_support.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

// An APP1 segment holding a big-endian EXIF block with one tag: Orientation = `orientation`.
std::string exif_orientation_segment(uint8_t orientation) {
  const unsigned char bytes[] = {
      0xFF, 0xE1, 0x00, 0x22,                          // APP1, length 34 (incl. these 2 bytes)
      'E',  'x',  'i',  'f',  0x00, 0x00,              // EXIF identifier
      'M',  'M',  0x00, 0x2A, 0x00, 0x00, 0x00, 0x08,  // TIFF header, big endian, IFD0 at 8
      0x00, 0x01,                                      // one entry
      0x01, 0x12, 0x00, 0x03, 0x00, 0x00, 0x00, 0x01,  // tag 0x0112 Orientation, SHORT, count 1
      0x00, orientation, 0x00, 0x00,                   // value
      0x00, 0x00, 0x00, 0x00};                         // no next IFD
  return std::string(reinterpret_cast<const char*>(bytes), sizeof bytes);
}

class ImageContentTest : public test::TempDirTest {};

TEST_F(ImageContentTest, JpegExifOrientationIsApplied) {
  // 16 x 8 px: left half black, right half white.
  cv::Mat img(8, 16, CV_8UC3, cv::Scalar(0, 0, 0));
  img(cv::Rect(8, 0, 8, 8)).setTo(cv::Scalar(255, 255, 255));
  std::vector<uchar> jpeg;
  ASSERT_TRUE(cv::imencode(".jpg", img, jpeg));
  std::string bytes(jpeg.begin(), jpeg.end());
  ASSERT_EQ(static_cast<unsigned char>(bytes[0]), 0xFF);
  ASSERT_EQ(static_cast<unsigned char>(bytes[1]), 0xD8);
  bytes.insert(2, exif_orientation_segment(6));  // 6 = rotate 90 degrees clockwise to display
  write_file_atomic(dir_ / "rotated.jpg", bytes);

  const DecodedImage d = read_image(dir_ / "rotated.jpg");
  ASSERT_EQ(d.pixels.cols, 8);
  ASSERT_EQ(d.pixels.rows, 16);
  // Clockwise: the black left edge is now the top.
  EXPECT_LT(cv::mean(d.pixels(cv::Rect(0, 0, 8, 6)))[0], 0.1);
  EXPECT_GT(cv::mean(d.pixels(cv::Rect(0, 10, 8, 6)))[0], 0.9);

  // Without the tag the image keeps its stored orientation.
  write_file_atomic(dir_ / "plain.jpg", std::string(jpeg.begin(), jpeg.end()));
  EXPECT_EQ(read_image(dir_ / "plain.jpg").pixels.cols, 16);
}

TEST_F(ImageContentTest, BadBytesAreDataErrorsNamingTheFile) {
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"empty.png", ""},
      {"junk.jpg", std::string(100, 'j')},
      {"half.jpg", std::string("\xFF\xD8\xFF\xE0\x00\x10JFIF", 10)},
      {"junk.tif", "II*\0garbage"},
      {"junk.exr", std::string("\x76\x2f\x31\x01", 4) + std::string(40, '\0')},
  };
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    write_file_atomic(dir_ / name, bytes);
    try {
      read_image(dir_ / name);
      ADD_FAILURE() << "decoded junk";
    } catch (const DataError& e) {
      EXPECT_THAT(e.what(), HasSubstr((dir_ / name).string()));
    }
  }
}

// OpenCV picks its decoder by content: a file with "DICM" at byte 128 went to GDCM, which aborted the
// process on this one (the fuzz target's crash input, a .hdr file). Only our formats reach OpenCV now.
TEST_F(ImageContentTest, ForeignFormatsNeverReachOpenCvDecoders) {
  const std::string dicom_tail = std::string(124, '\xff') + std::string("DICM\0", 5);
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"fuzz_crash.hdr", "II*\xff" + dicom_tail},                // starts like nothing we read
      {"dicom_in_tiff.tif", std::string("II*\0", 4) + dicom_tail},  // TIFF magic, DICOM at 128
      {"jpeg2000.png", std::string("\0\0\0\x0cjP  \r\n\x87\n", 12) + std::string(40, '\0')},
      {"short_riff.webp", "RIFF\xff\xd8"},  // shorter than a WebP signature (threw out_of_range once)
  };
  for (const auto& [name, bytes] : cases) {
    SCOPED_TRACE(name);
    write_file_atomic(dir_ / name, bytes);
    try {
      read_image(dir_ / name);
      ADD_FAILURE() << "decoded a foreign format";
    } catch (const DataError& e) {
      EXPECT_THAT(e.what(), HasSubstr((dir_ / name).string()));
      EXPECT_THAT(e.what(), HasSubstr("is not PNG, JPEG, TIFF, OpenEXR, BMP, WebP, PNM or Radiance HDR"));
    }
  }
}

TEST_F(ImageContentTest, ChannelRuleCoversOneToFourChannels) {
  for (int in = 1; in <= 4; ++in)
    for (int out = 1; out <= 4; ++out) {
      cv::Mat img(3, 5, CV_32FC(in), cv::Scalar(0.1, 0.2, 0.3, 0.4));
      const cv::Mat r = apply_channel_rule(img, out);
      EXPECT_EQ(r.channels(), out);
      EXPECT_EQ(r.size(), img.size());
      // Channel out-1 is the input's channel min(out, in) - 1 (the last one repeated).
      EXPECT_FLOAT_EQ(r.ptr<float>(0)[out - 1], 0.1f * static_cast<float>(std::min(out, in)));
    }
}

TEST_F(ImageContentTest, GreyAlphaPngHasTwoChannelsAndFollowsTheChannelRule) {
  write_file_atomic(dir_ / "ga.png", test::gray_alpha_png(6, 4));
  const DecodedImage d = read_image(dir_ / "ga.png");
  ASSERT_EQ(d.channels, 2);
  ASSERT_EQ(d.pixels.type(), CV_32FC2);
  ASSERT_EQ(d.pixels.size(), cv::Size(6, 4));
  // Column 3, row 1: grey 3 * 8 + 1 = 25, alpha 200.
  const cv::Vec2f p = d.pixels.at<cv::Vec2f>(1, 3);
  EXPECT_FLOAT_EQ(p[0], 25.0f / 255.0f);
  EXPECT_FLOAT_EQ(p[1], 200.0f / 255.0f);
  // The channel rule (docs/configuration.md): fewer channels -> the last one repeated, more -> dropped.
  const cv::Mat one = apply_channel_rule(d.pixels, 1);
  EXPECT_FLOAT_EQ(one.at<float>(1, 3), 25.0f / 255.0f);
  const cv::Vec3f three = apply_channel_rule(d.pixels, 3).at<cv::Vec3f>(1, 3);
  EXPECT_FLOAT_EQ(three[0], 25.0f / 255.0f);
  EXPECT_FLOAT_EQ(three[1], 200.0f / 255.0f);
  EXPECT_FLOAT_EQ(three[2], 200.0f / 255.0f);
  // As stored by read_image_raw: 8-bit, 2 channels.
  EXPECT_EQ(read_image_raw(dir_ / "ga.png").type(), CV_8UC2);
}

// A 64 x 64 noise JPEG cut in the middle of its scan data.
std::string truncated_jpeg() {
  cv::Mat img(64, 64, CV_8UC3);
  cv::RNG(7).fill(img, cv::RNG::UNIFORM, 0, 256);
  std::vector<uchar> jpeg;
  EXPECT_TRUE(cv::imencode(".jpg", img, jpeg));
  return std::string(jpeg.begin(), jpeg.begin() + static_cast<std::ptrdiff_t>(jpeg.size() * 6 / 10));
}

TEST_F(ImageContentTest, TruncatedJpegIsADataErrorNamingTheFile) {
  write_file_atomic(dir_ / "cut.jpg", truncated_jpeg());
  try {
    read_image(dir_ / "cut.jpg");
    FAIL() << "decoded a truncated JPEG";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr((dir_ / "cut.jpg").string()));
    EXPECT_THAT(e.what(), HasSubstr("Premature end of JPEG file"));
    EXPECT_THAT(e.what(), HasSubstr("truncated or corrupt"));
  }
}

TEST_F(ImageContentTest, TruncatedJpegOnTheCommandLineGivesOurMessageOnly) {
  write_file_atomic(dir_ / "cut.jpg", truncated_jpeg());
  cv::Mat img(64, 64, CV_8UC3, cv::Scalar(10, 20, 30));
  std::vector<uchar> jpeg;
  ASSERT_TRUE(cv::imencode(".jpg", img, jpeg));
  write_file_atomic(dir_ / "ok.jpg", std::string(jpeg.begin(), jpeg.end()));
  std::string out;  // stdout + stderr
  const int code = test::run_command(
      "env -u OPENCV_LOG_LEVEL " + test::img2img_binary() + " ssim " + (dir_ / "cut.jpg").string() + " " +
          (dir_ / "ok.jpg").string(),
      &out);
  EXPECT_EQ(code, 1) << out;
  EXPECT_THAT(out, HasSubstr("error: cannot decode JPEG '" + (dir_ / "cut.jpg").string() +
                             "': Premature end of JPEG file (libjpeg)"));
  // Exactly one line: ours. No raw libjpeg line, no OpenCV [ WARN ] line.
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_THAT(out, Not(HasSubstr("WARN"))) << out;

  // The same for a truncated PNG: our message, no "libpng error" line.
  cv::Mat noise(64, 64, CV_8UC3);
  cv::RNG(3).fill(noise, cv::RNG::UNIFORM, 0, 256);
  std::vector<uchar> png;  // IHDR, one IDAT of ~12 KB, IEND: the cut falls inside IDAT
  ASSERT_TRUE(cv::imencode(".png", noise, png));
  write_file_atomic(dir_ / "cut.png", std::string(png.begin(), png.begin() + static_cast<std::ptrdiff_t>(png.size() / 2)));
  EXPECT_EQ(test::run_command("env -u OPENCV_LOG_LEVEL " + test::img2img_binary() + " ssim " +
                                  (dir_ / "cut.png").string() + " " + (dir_ / "ok.jpg").string(),
                              &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr("error: cannot decode PNG '" + (dir_ / "cut.png").string() + "': chunk 'IDAT'"));
  EXPECT_THAT(out, HasSubstr("the file is truncated"));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
  EXPECT_THAT(out, Not(HasSubstr("libpng"))) << out;
}

TEST_F(ImageContentTest, DamagedPngTiffAndBmpGiveOurMessageOnly) {
  cv::Mat noise(64, 64, CV_8UC3);
  cv::RNG(5).fill(noise, cv::RNG::UNIFORM, 0, 256);
  cv::Mat grey(64, 64, CV_8UC3, cv::Scalar(90, 90, 90));
  std::vector<uchar> ok;
  ASSERT_TRUE(cv::imencode(".png", grey, ok));
  write_file_atomic(dir_ / "ok.png", std::string(ok.begin(), ok.end()));
  const auto encoded = [&](const std::string& ext) {
    std::vector<uchar> bytes;
    EXPECT_TRUE(cv::imencode(ext, noise, bytes));
    return std::string(bytes.begin(), bytes.end());
  };
  // One bit flipped inside IDAT's data: libpng alone prints "libpng error: IDAT: CRC error" or
  // "incorrect data check" on stderr; our chunk walk names the damaged chunk instead.
  std::string flipped = encoded(".png");
  flipped[flipped.size() / 2] = static_cast<char>(flipped[flipped.size() / 2] ^ 0x10);
  write_file_atomic(dir_ / "flipped.png", flipped);
  std::string bad_ihdr = encoded(".png");
  bad_ihdr[17] = static_cast<char>(bad_ihdr[17] ^ 0x01);  // width byte inside IHDR
  write_file_atomic(dir_ / "ihdr.png", bad_ihdr);
  // Truncated TIFF and BMP: OpenCV's decoders print "imread_('...'): can't read data: ..." to std::cerr.
  const std::string tiff = encoded(".tif"), bmp = encoded(".bmp");
  write_file_atomic(dir_ / "cut.tif", tiff.substr(0, tiff.size() / 2));
  write_file_atomic(dir_ / "cut.bmp", bmp.substr(0, bmp.size() / 2));
  for (const std::string name : {"flipped.png", "ihdr.png", "cut.tif", "cut.bmp"}) {
    std::string out;
    EXPECT_EQ(test::run_command("env -u OPENCV_LOG_LEVEL " + test::img2img_binary() + " ssim " +
                                    (dir_ / name).string() + " " + (dir_ / "ok.png").string(),
                                &out),
              1)
        << out;
    EXPECT_THAT(out, HasSubstr("error: ")) << name;
    EXPECT_THAT(out, HasSubstr((dir_ / name).string())) << name;
    EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << name << ": " << out;
    EXPECT_THAT(out, Not(HasSubstr("libpng"))) << out;
    EXPECT_THAT(out, Not(HasSubstr("imread_"))) << out;
    EXPECT_THAT(out, Not(HasSubstr("OpenCV("))) << out;
  }
  // Damage with valid chunk CRCs (a byte of the deflate stream changed, its CRC recomputed): libpng's
  // own handler prints "libpng error: ..." with fprintf; our silent decode names it instead.
  std::string rewritten = encoded(".png");
  ASSERT_EQ(rewritten.compare(37, 4, "IDAT"), 0);  // 8 signature + 25 IHDR chunk, then IDAT's length
  const size_t idat_len = (static_cast<unsigned char>(rewritten[33]) << 24) |
                          (static_cast<unsigned char>(rewritten[34]) << 16) |
                          (static_cast<unsigned char>(rewritten[35]) << 8) | static_cast<unsigned char>(rewritten[36]);
  rewritten[41 + idat_len / 2] = static_cast<char>(rewritten[41 + idat_len / 2] ^ 0x5A);
  const uLong crc = ::crc32(::crc32(0L, Z_NULL, 0), reinterpret_cast<const Bytef*>(rewritten.data() + 37),
                            static_cast<uInt>(idat_len + 4));
  for (int k = 0; k < 4; ++k) rewritten[41 + idat_len + k] = static_cast<char>((crc >> (24 - 8 * k)) & 0xFF);
  write_file_atomic(dir_ / "crc_ok.png", rewritten);
  std::string crc_out;
  EXPECT_EQ(test::run_command("env -u OPENCV_LOG_LEVEL " + test::img2img_binary() + " ssim " +
                                  (dir_ / "crc_ok.png").string() + " " + (dir_ / "ok.png").string(),
                              &crc_out),
            1)
      << crc_out;
  EXPECT_THAT(crc_out, HasSubstr("error: cannot decode PNG '" + (dir_ / "crc_ok.png").string() + "'"));
  EXPECT_THAT(crc_out, HasSubstr("(libpng)"));
  EXPECT_EQ(std::count(crc_out.begin(), crc_out.end(), '\n'), 1) << crc_out;
  EXPECT_THAT(crc_out, Not(HasSubstr("libpng error"))) << crc_out;

  std::string out;
  test::run_command("env -u OPENCV_LOG_LEVEL " + test::img2img_binary() + " ssim " + (dir_ / "flipped.png").string() +
                        " " + (dir_ / "ok.png").string(),
                    &out);
  EXPECT_THAT(out, HasSubstr("fails its CRC check: the file is damaged"));
}

// Writes `image` (CV_16FC1 or CV_32FC1) as an uncompressed TIFF with SampleFormat = IEEEFP.
void write_float_tiff(const fs::path& path, const cv::Mat& image) {
  TIFF* tiff = TIFFOpen(path.c_str(), "w");
  ASSERT_NE(tiff, nullptr) << path;
  TIFFSetField(tiff, TIFFTAG_IMAGEWIDTH, static_cast<uint32_t>(image.cols));
  TIFFSetField(tiff, TIFFTAG_IMAGELENGTH, static_cast<uint32_t>(image.rows));
  TIFFSetField(tiff, TIFFTAG_SAMPLESPERPIXEL, static_cast<uint16_t>(1));
  TIFFSetField(tiff, TIFFTAG_BITSPERSAMPLE, static_cast<uint16_t>(image.elemSize1() * 8));
  TIFFSetField(tiff, TIFFTAG_SAMPLEFORMAT, static_cast<uint16_t>(SAMPLEFORMAT_IEEEFP));
  TIFFSetField(tiff, TIFFTAG_PHOTOMETRIC, static_cast<uint16_t>(PHOTOMETRIC_MINISBLACK));
  TIFFSetField(tiff, TIFFTAG_PLANARCONFIG, static_cast<uint16_t>(PLANARCONFIG_CONTIG));
  TIFFSetField(tiff, TIFFTAG_COMPRESSION, static_cast<uint16_t>(COMPRESSION_NONE));
  TIFFSetField(tiff, TIFFTAG_ROWSPERSTRIP, static_cast<uint32_t>(image.rows));
  for (int y = 0; y < image.rows; ++y) EXPECT_EQ(TIFFWriteScanline(tiff, const_cast<uchar*>(image.ptr(y)), y, 0), 1);
  TIFFClose(tiff);
}

// A valid half-float TIFF (OpenCV 4.6 decodes none) is named as such with the fix, not as "truncated,
// corrupt, or not a format OpenCV reads"; the same image as 32-bit float TIFF reads.
TEST_F(ImageContentTest, HalfFloatTiffIsNamedAsUnsupported) {
  cv::Mat ramp(8, 16, CV_32FC1);
  for (int y = 0; y < ramp.rows; ++y)
    for (int x = 0; x < ramp.cols; ++x) ramp.at<float>(y, x) = 0.0625f * static_cast<float>(x) - 0.25f * y;
  cv::Mat half;
  ramp.convertTo(half, CV_16F);
  write_float_tiff(dir_ / "half.tif", half);
  write_float_tiff(dir_ / "single.tif", ramp);
  const std::string expected = "cannot read TIFF '" + (dir_ / "half.tif").string() +
                               "': its samples are 16-bit floats (half), which are not supported (OpenCV cannot "
                               "decode them). Convert it to 32-bit float TIFF or to EXR";
  try {
    read_image(dir_ / "half.tif");
    ADD_FAILURE() << "a half-float TIFF was read";
  } catch (const DataError& e) {
    EXPECT_THAT(e.what(), HasSubstr(expected));
    EXPECT_THAT(e.what(), Not(HasSubstr("truncated")));
  }
  const DecodedImage single = read_image(dir_ / "single.tif");
  EXPECT_EQ(single.depth, PixelDepth::kFloat);
  EXPECT_EQ(single.channels, 1);
  EXPECT_FLOAT_EQ(single.pixels.at<float>(3, 5), 0.0625f * 5 - 0.25f * 3);
  // Through the command line: our line only, no libtiff or OpenCV noise.
  std::string out;
  EXPECT_EQ(test::run_command("env -u OPENCV_LOG_LEVEL " + test::img2img_binary() + " ssim " +
                                  (dir_ / "half.tif").string() + " " + (dir_ / "single.tif").string(),
                              &out),
            1)
      << out;
  EXPECT_THAT(out, HasSubstr("error: " + expected));
  EXPECT_EQ(std::count(out.begin(), out.end(), '\n'), 1) << out;
}

}  // namespace
}  // namespace img2img

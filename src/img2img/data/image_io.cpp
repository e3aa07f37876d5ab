#include "img2img/data/image_io.h"

#include <fmt/format.h>               // fmt::format
#include <opencv2/core.hpp>           // cv::split, cv::merge
#include <opencv2/imgcodecs.hpp>      // cv::imread, cv::imwrite
#include <opencv2/imgproc.hpp>        // cv::cvtColor, cv::resize

#include <jpeglib.h>                // libjpeg: jpeg_decompress_struct, jpeg_std_error
#include <png.h>                    // libpng: silent full decode of PNGs (png_decode_problem)
#include <tiffio.h>                 // libtiff: the sample format of a TIFF OpenCV cannot decode
#include <zlib.h>                   // crc32 (PNG chunk check)

#include <algorithm>  // std::transform
#include <cctype>     // std::tolower
#include <cmath>      // std::isfinite
#include <csetjmp>    // std::jmp_buf, setjmp, longjmp
#include <cstdint>    // int64_t
#include <cstdio>     // FILE, std::fopen
#include <cstdarg>    // va_list
#include <cstring>    // std::memcpy
#include <fstream>    // std::ifstream
#include <iterator>   // std::istreambuf_iterator
#include <set>        // std::set
#include <vector>     // std::vector

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {
std::string lower_ext(const fs::path& path) {
  std::string e = path.extension().string();
  std::transform(e.begin(), e.end(), e.begin(), [](unsigned char c) { return std::tolower(c); });
  return e;
}

// The first `n` bytes of `path` (fewer if the file is shorter or unreadable).
std::string file_head(const fs::path& path, size_t n) {
  std::string head(n, '\0');
  std::FILE* file = std::fopen(path.c_str(), "rb");
  if (file == nullptr) return "";
  head.resize(std::fread(head.data(), 1, n, file));
  std::fclose(file);
  return head;
}

// libjpeg error manager that records the first error or warning instead of printing it to stderr
// (libjpeg's default prints e.g. "Premature end of JPEG file" and decodes the rest as grey).
struct JpegProblem {
  jpeg_error_mgr mgr;
  std::jmp_buf jump;
  char message[JMSG_LENGTH_MAX];
};

void jpeg_fail(j_common_ptr cinfo) {
  auto* p = reinterpret_cast<JpegProblem*>(cinfo->err);
  (*cinfo->err->format_message)(cinfo, p->message);
  std::longjmp(p->jump, 1);
}

void jpeg_note(j_common_ptr cinfo, int level) {
  if (level < 0) jpeg_fail(cinfo);  // a warning (corrupt or missing data): treated as an error; traces ignored
}

// Entropy-decodes the whole JPEG at 1/8 scale (fast; still reads every coefficient, so truncated or
// corrupt data is found) with the error manager above. Returns "" if clean, else libjpeg's message.
// Plain C objects only between setjmp and longjmp.
std::string jpeg_problem(const char* path) {
  std::FILE* file = std::fopen(path, "rb");
  if (file == nullptr) return "cannot open the file";
  jpeg_decompress_struct cinfo{};  // mem == nullptr: jpeg_destroy_decompress is safe at any point
  JpegProblem problem;
  problem.message[0] = '\0';
  cinfo.err = jpeg_std_error(&problem.mgr);
  problem.mgr.error_exit = jpeg_fail;
  problem.mgr.emit_message = jpeg_note;
  if (setjmp(problem.jump) == 0) {
    jpeg_create_decompress(&cinfo);
    jpeg_stdio_src(&cinfo, file);
    jpeg_read_header(&cinfo, TRUE);
    cinfo.scale_num = 1;
    cinfo.scale_denom = 8;
    cinfo.dct_method = JDCT_IFAST;
    cinfo.do_fancy_upsampling = FALSE;
    jpeg_start_decompress(&cinfo);
    JSAMPARRAY rows = (*cinfo.mem->alloc_sarray)(reinterpret_cast<j_common_ptr>(&cinfo), JPOOL_IMAGE,
                                                 cinfo.output_width * cinfo.output_components, 1);
    while (cinfo.output_scanline < cinfo.output_height) jpeg_read_scanlines(&cinfo, rows, 1);
    jpeg_finish_decompress(&cinfo);
  }
  jpeg_destroy_decompress(&cinfo);
  std::fclose(file);
  return problem.message;
}

// libpng's error callback for png_decode_problem: keeps the message and jumps back (libpng's default
// handler prints "libpng error: ..." to stderr with fprintf, which no C++ stream redirection catches).
struct PngProblem {
  std::jmp_buf jump;
  std::string message;
};
[[noreturn]] void png_keep_error(png_structp png, png_const_charp message) {
  auto* problem = static_cast<PngProblem*>(png_get_error_ptr(png));
  problem->message = message;
  std::longjmp(problem->jump, 1);
}
void png_ignore_warning(png_structp, png_const_charp) {}
struct PngBytes {
  const std::string* bytes;
  size_t pos;
};
void png_read_bytes(png_structp png, png_bytep out, png_size_t n) {
  auto* in = static_cast<PngBytes*>(png_get_io_ptr(png));
  if (in->pos + n > in->bytes->size()) png_error(png, "unexpected end of file");
  std::memcpy(out, in->bytes->data() + in->pos, n);
  in->pos += n;
}

// Decodes the PNG in `bytes` row by row with libpng, printing nothing: "" if it decodes, else
// libpng's message (bad filter byte, broken deflate stream, invalid IHDR values), so OpenCV, which
// uses libpng with its printing default handlers, only ever sees PNGs that decode.
std::string png_decode_problem(const std::string& bytes) {
  PngProblem problem;
  PngBytes in{&bytes, 0};
  std::vector<png_byte> row;  // before setjmp: longjmp must not skip a constructor
  png_structp png = png_create_read_struct(PNG_LIBPNG_VER_STRING, &problem, png_keep_error, png_ignore_warning);
  if (png == nullptr) return "libpng could not start";
  png_infop info = png_create_info_struct(png);
  if (setjmp(problem.jump)) {
    png_destroy_read_struct(&png, &info, nullptr);
    return problem.message + " (libpng)";
  }
  if (info == nullptr) png_error(png, "out of memory");
  png_set_user_limits(png, 0x7fffffff, 0x7fffffff);  // OpenCV reads any size; only damage is reported
  png_set_read_fn(png, &in, png_read_bytes);
  png_read_info(png, info);
  const int passes = png_set_interlace_handling(png);
  png_read_update_info(png, info);
  row.resize(png_get_rowbytes(png, info));
  const png_uint_32 height = png_get_image_height(png, info);
  for (int p = 0; p < passes; ++p)
    for (png_uint_32 y = 0; y < height; ++y) png_read_row(png, row.data(), nullptr);
  png_read_end(png, nullptr);
  png_destroy_read_struct(&png, &info, nullptr);
  return "";
}

// Walks the chunk list of a PNG (spec section 5.3: 4-byte length, type, data, CRC-32 over type and
// data) without inflating anything. Returns "" if every chunk fits in the file, its CRC matches and
// the last one is IEND, else what is wrong. Truncated or bit-flipped PNGs are caught here, so libpng
// never prints "libpng error: ..." (its own stderr line) for them.
std::string png_problem(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return "cannot open the file";
  const std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const auto u8 = [&](size_t i) { return static_cast<unsigned long>(static_cast<unsigned char>(bytes[i])); };
  const auto u32 = [&](size_t i) { return (u8(i) << 24) | (u8(i + 1) << 16) | (u8(i + 2) << 8) | u8(i + 3); };
  size_t pos = 8;  // after the signature
  while (pos + 12 <= bytes.size()) {
    const unsigned long length = u32(pos);
    const std::string type = bytes.substr(pos + 4, 4);
    if (length > 0x7FFFFFFFul || pos + 12 + length > bytes.size())
      return fmt::format("chunk '{}' at byte {} runs past the end of the file: the file is truncated", type, pos);
    const auto* data = reinterpret_cast<const Bytef*>(bytes.data() + pos + 4);
    const unsigned long crc = ::crc32(::crc32(0L, Z_NULL, 0), data, static_cast<uInt>(length + 4));
    if (crc != u32(pos + 8 + length))
      return fmt::format("chunk '{}' at byte {} fails its CRC check: the file is damaged", type, pos);
    pos += 12 + length;
    if (type == "IEND") return png_decode_problem(bytes);
  }
  return "no IEND chunk: the file is truncated";
}

// Whether `head` (a file's first bytes) starts a JPEG: SOI marker FF D8 then a marker FF.
bool is_jpeg(const std::string& head) { return head.compare(0, 3, "\xFF\xD8\xFF") == 0; }

// Whether a file whose first bytes are `head` is one of the formats img2img reads: PNG, JPEG, TIFF or
// BigTIFF, OpenEXR, BMP, WebP, PNM (P1-P6) or Radiance HDR, and not a DICOM file ("DICM" at byte 128).
// OpenCV picks its decoder by content, not by extension, and its other decoders are not ours: DICOM
// goes to GDCM, which aborts the process on malformed files (found by fuzzing a .hdr file).
bool has_supported_signature(const std::string& head) {
  const auto starts = [&](const std::string& magic) { return head.compare(0, magic.size(), magic) == 0; };
  if (head.size() >= 132 && head.compare(128, 4, "DICM") == 0) return false;
  return starts("\x89PNG\r\n\x1a\n") || is_jpeg(head) || starts(std::string("II*\0", 4)) ||
         starts(std::string("MM\0*", 4)) || starts(std::string("II+\0", 4)) || starts(std::string("MM\0+", 4)) ||
         starts("\x76\x2f\x31\x01") || starts("BM") || (head.size() >= 12 && starts("RIFF") && head.compare(8, 4, "WEBP") == 0) ||
         (head.size() >= 2 && head[0] == 'P' && head[1] >= '1' && head[1] <= '6') || starts("#?RADIANCE") ||
         starts("#?RGBE");
}

// Silences libtiff for one open file (its default handlers print to stderr); returning 1 stops the
// global handler too.
int silent_tiff_handler(TIFF*, void*, const char*, const char*, va_list) { return 1; }

// For a TIFF that OpenCV could not decode: why, when the first image's samples are 16-bit floats
// (TIFF 6.0 SampleFormat = 3 IEEEFP with BitsPerSample = 16), which OpenCV 4.6's TIFF decoder does not
// read; "" for anything else (not a TIFF libtiff opens, other sample types).
std::string tiff_half_float_problem(const fs::path& path) {
  TIFFOpenOptions* options = TIFFOpenOptionsAlloc();
  if (options == nullptr) return "";
  TIFFOpenOptionsSetErrorHandlerExtR(options, silent_tiff_handler, nullptr);
  TIFFOpenOptionsSetWarningHandlerExtR(options, silent_tiff_handler, nullptr);
  TIFF* tiff = TIFFOpenExt(path.c_str(), "r", options);
  TIFFOpenOptionsFree(options);
  if (tiff == nullptr) return "";
  uint16_t bits = 0, format = SAMPLEFORMAT_UINT;
  TIFFGetFieldDefaulted(tiff, TIFFTAG_BITSPERSAMPLE, &bits);
  TIFFGetFieldDefaulted(tiff, TIFFTAG_SAMPLEFORMAT, &format);
  TIFFClose(tiff);
  if (format != SAMPLEFORMAT_IEEEFP || bits != 16) return "";
  return "its samples are 16-bit floats (half), which are not supported (OpenCV cannot decode them)";
}

// PNG colour type 4 (grey + alpha) from the IHDR chunk, which the PNG spec (11.2.2) puts first:
// bytes 0-7 signature, 8-11 length, 12-15 "IHDR", 16-23 width/height, 24 bit depth, 25 colour type.
bool is_grey_alpha_png(const std::string& head) {
  return head.size() >= 26 && head.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0 && head.compare(12, 4, "IHDR") == 0 &&
         head[25] == 4;
}

// Throws DataError naming `path` if a pixel of the float image `raw` (CV_32F or CV_64F, any channel
// count) has a NaN or infinite sample: they would turn every loss NaN ("training diverged"), come out
// black from infer, or make an SSIM NaN; the message says which for `use`. Counts pixels (any channel
// non-finite) and names the first one.
void check_finite_pixels(const cv::Mat& raw, const fs::path& path, ImageUse use) {
  const int channels = raw.channels();
  int64_t bad = 0;
  int first_x = -1, first_y = -1;
  for (int y = 0; y < raw.rows; ++y) {
    for (int x = 0; x < raw.cols; ++x) {
      bool finite = true;
      for (int c = 0; c < channels; ++c) {
        const double v = raw.depth() == CV_32F ? static_cast<double>(raw.ptr<float>(y)[x * channels + c])
                                               : raw.ptr<double>(y)[x * channels + c];
        finite = finite && std::isfinite(v);
      }
      if (finite) continue;
      if (bad++ == 0) first_x = x, first_y = y;
    }
  }
  if (bad == 0) return;
  const char* effect = use == ImageUse::kInference
                           ? "the generator cannot translate them: they would spread through it and turn its output "
                             "NaN (written as black pixels)"
                       : use == ImageUse::kComparison ? "the SSIM would be NaN"
                                                      : "they would make every loss NaN";
  const char* remove = use == ImageUse::kInference    ? "remove the file from --input"
                       : use == ImageUse::kComparison ? "compare a file without them"
                                                      : "remove the file from the folder";
  throw DataError(fmt::format("image '{}' has {} pixel(s) of {} with NaN or infinite values (first at x {}, y {}); "
                              "{}. Replace the NaN/inf values in the source (e.g. clamp or fill them in the tool "
                              "that wrote the file) or {}.",
                              path.string(), bad, static_cast<int64_t>(raw.total()), first_x, first_y, effect, remove));
}

}  // namespace

std::string to_string(PixelDepth depth) {
  switch (depth) {
    case PixelDepth::k8: return "8-bit";
    case PixelDepth::k16: return "16-bit";
    case PixelDepth::kFloat: return "float";
  }
  return "?";
}

PixelDepth parse_pixel_depth(const std::string& text) {
  if (text == "8-bit") return PixelDepth::k8;
  if (text == "16-bit") return PixelDepth::k16;
  if (text == "float") return PixelDepth::kFloat;
  throw DataError(fmt::format("unknown pixel depth '{}'; expected 8-bit, 16-bit or float", text));
}


cv::Mat read_image_raw(const fs::path& path) {
  std::error_code ec;
  if (!fs::is_regular_file(path, ec))
    throw DataError(fmt::format("cannot read image '{}': no such file. Check the path.", path.string()));
  if (fs::file_size(path, ec) == 0)
    throw DataError(fmt::format("cannot read image '{}': the file is empty (0 bytes). Replace or remove it.",
                                path.string()));
  const std::string ext = lower_ext(path);
  const bool jpeg = ext == ".jpg" || ext == ".jpeg";
  const std::string head = file_head(path, 132);  // OpenCV picks the decoder by signature too
  if (head.empty())  // not empty (checked above), so it could not be opened or read
    throw DataError(fmt::format("cannot read image '{}': the file cannot be opened or read (permissions?). Check "
                                "the file's permissions or remove it from the folder.",
                                path.string()));
  if (!has_supported_signature(head))
    throw DataError(fmt::format("cannot decode image '{}': its content is not PNG, JPEG, TIFF, OpenEXR, BMP, "
                                "WebP, PNM or Radiance HDR (the first bytes match none of them). Re-export it as "
                                "one of these or remove it from the folder.",
                                path.string()));
  if (head.compare(0, 8, "\x89PNG\r\n\x1a\n") == 0) {
    const std::string problem = png_problem(path);
    if (!problem.empty())
      throw DataError(fmt::format("cannot decode PNG '{}': {}. Re-export it or remove it from the folder.",
                                  path.string(), problem));
  }
  if (is_jpeg(head)) {
    const std::string problem = jpeg_problem(path.c_str());
    if (!problem.empty())
      throw DataError(fmt::format("cannot decode JPEG '{}': {} (libjpeg); the file is truncated or corrupt. "
                                  "Re-export it or remove it from the folder.",
                                  path.string(), problem));
  }
  // IMREAD_UNCHANGED keeps alpha and 16-bit/float but ignores EXIF orientation, which only JPEGs carry.
  cv::Mat raw;
  try {
    raw = cv::imread(path.string(), jpeg ? (cv::IMREAD_ANYCOLOR | cv::IMREAD_ANYDEPTH) : cv::IMREAD_UNCHANGED);
  } catch (const cv::Exception& e) {  // e.g. a header declaring more than OpenCV's pixel limit (found by fuzzing)
    throw DataError(fmt::format("cannot decode image '{}': {}. Re-export it or remove it from the folder.",
                                path.string(), e.err));
  }
  const bool tiff = head.compare(0, 4, std::string("II*\0", 4)) == 0 || head.compare(0, 4, std::string("MM\0*", 4)) == 0;
  if (raw.empty() && tiff) {
    const std::string problem = tiff_half_float_problem(path);
    if (!problem.empty())
      throw DataError(fmt::format("cannot read TIFF '{}': {}. Convert it to 32-bit float TIFF or to EXR (e.g. "
                                  "oiiotool IN -d float -o OUT.tif), or remove it from the folder.",
                                  path.string(), problem));
  }
  if (raw.empty())
    throw DataError(fmt::format("cannot decode image '{}': truncated, corrupt, or not a format OpenCV reads "
                                "(png, jpg, tif, exr, bmp, webp). Re-export it or remove it from the folder.",
                                path.string()));
  // OpenCV expands grey + alpha PNGs to BGRA (B = G = R); keep the file's 2 channels: grey, alpha.
  if (raw.channels() == 4 && is_grey_alpha_png(head)) {
    cv::Mat grey_alpha(raw.size(), CV_MAKETYPE(raw.depth(), 2));
    const int from_to[] = {0, 0, 3, 1};
    cv::mixChannels(&raw, 1, &grey_alpha, 1, from_to, 2);
    raw = grey_alpha;
  }
  return raw;
}

DecodedImage read_image(const fs::path& path, ImageUse use) {
  const cv::Mat raw = read_image_raw(path);
  DecodedImage out;
  out.channels = raw.channels();
  double scale = 1.0;
  switch (raw.depth()) {
    case CV_8U: out.depth = PixelDepth::k8, scale = 1.0 / 255.0; break;
    case CV_16U: out.depth = PixelDepth::k16, scale = 1.0 / 65535.0; break;
    case CV_32F:
    case CV_64F: out.depth = PixelDepth::kFloat; break;
    default:
      throw DataError(fmt::format("image '{}' has an unsupported sample type (signed or 8/16-bit integer other "
                                  "than unsigned); convert it to 8/16-bit unsigned or float.",
                                  path.string()));
  }
  if (out.channels > 4 || out.channels == 0)
    throw DataError(fmt::format("image '{}' has {} channels; expected 1-4.", path.string(), out.channels));
  if (out.depth == PixelDepth::kFloat) check_finite_pixels(raw, path, use);
  cv::Mat f;
  raw.convertTo(f, CV_32F, scale);
  if (out.depth == PixelDepth::kFloat) cv::minMaxLoc(f.reshape(1), &out.min_value, &out.max_value);
  // OpenCV decodes to BGR(A); keep R, G, B, A order internally (1 and 2 channels: grey, alpha as stored).
  if (out.channels == 3) cv::cvtColor(f, f, cv::COLOR_BGR2RGB);
  if (out.channels == 4) cv::cvtColor(f, f, cv::COLOR_BGRA2RGBA);
  out.pixels = f;
  return out;
}

cv::Mat apply_channel_rule(const cv::Mat& image, int channel_count) {
  std::vector<cv::Mat> planes;
  cv::split(image, planes);
  while (static_cast<int>(planes.size()) < channel_count) planes.push_back(planes.back().clone());
  planes.resize(channel_count);
  cv::Mat out;
  cv::merge(planes, out);
  return out;
}

cv::Mat resize_square(const cv::Mat& image, int size) {
  if (image.rows == size && image.cols == size) return image;
  cv::Mat out;
  const bool shrink = image.rows > size || image.cols > size;
  cv::resize(image, out, cv::Size(size, size), 0, 0, shrink ? cv::INTER_AREA : cv::INTER_LINEAR);
  if (out.channels() == 1 && image.channels() == 1) out = out.reshape(1, size);
  return out;
}

torch::Tensor image_to_tensor(const cv::Mat& image) {
  CV_Assert(image.depth() == CV_32F);
  const cv::Mat c = image.isContinuous() ? image : image.clone();
  torch::Tensor hwc = torch::from_blob(c.data, {c.rows, c.cols, c.channels()}, torch::kFloat32);
  return hwc.permute({2, 0, 1}).mul(2.0).sub(1.0).contiguous();  // [C, H, W] in [-1, 1]
}

cv::Mat tensor_to_image(const torch::Tensor& chw) {
  TORCH_CHECK(chw.dim() == 3, "tensor_to_image expects [C, H, W], got ", chw.sizes());
  torch::Tensor hwc = chw.detach().to(torch::kCPU, torch::kFloat32).clamp(-1, 1).add(1).mul(0.5).permute({1, 2, 0}).contiguous();
  const int c = static_cast<int>(hwc.size(2));
  cv::Mat view(static_cast<int>(hwc.size(0)), static_cast<int>(hwc.size(1)), CV_32FC(c), hwc.data_ptr<float>());
  return view.clone();
}

void write_image(const fs::path& path, const cv::Mat& image, PixelDepth depth) {
  cv::Mat bgr = image;
  if (image.channels() == 3) cv::cvtColor(image, bgr, cv::COLOR_RGB2BGR);
  if (image.channels() == 4) cv::cvtColor(image, bgr, cv::COLOR_RGBA2BGRA);
  cv::Mat out;
  std::vector<int> params;
  const std::string ext = lower_ext(path);
  if (depth == PixelDepth::kFloat && (ext == ".tif" || ext == ".tiff" || ext == ".exr")) {
    out = bgr;
    if (ext != ".exr") params = {cv::IMWRITE_TIFF_COMPRESSION, 1};  // lossless for float TIFF
  } else if (depth == PixelDepth::k16 || depth == PixelDepth::kFloat) {
    bgr.convertTo(out, CV_16U, 65535.0);  // saturates to [0, 65535]; rounds to nearest
  } else {
    bgr.convertTo(out, CV_8U, 255.0);
  }
  std::vector<uchar> bytes;
  bool ok = false;
  try {
    ok = cv::imencode(ext.empty() ? ".png" : ext, out, bytes, params);
  } catch (const cv::Exception& e) {
    throw WriteError(fmt::format("cannot encode image '{}': {}", path.string(), e.what()));
  }
  if (!ok) throw WriteError(fmt::format("cannot encode image '{}' as {}", path.string(), ext));
  write_file_atomic(path, std::string(bytes.begin(), bytes.end()));
}

}  // namespace img2img

#include <fmt/format.h>  // fmt::format

#include <cstdio>      // std::fprintf
#include <filesystem>  // std::filesystem
#include <iostream>    // std::cout

#include "img2img/cli/commands.h"
#include "img2img/core/error.h"
#include "img2img/infer/ssim_files.h"

namespace img2img::cli {
namespace fs = std::filesystem;

Command setup_ssim(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("ssim", "Print the SSIM of two images, or of two folders (matching names)");
  sub->footer("SSIM: Gaussian window 11, sigma 1.5, K1 0.01, K2 0.03 on [0, 1] values, mean over channels;\n"
              "equal to scikit-image structural_similarity(gaussian_weights=True, sigma=1.5,\n"
              "use_sample_covariance=False, data_range=1). Folders: one 'name<TAB>ssim' line per image,\n"
              "then 'mean<TAB>ssim'. Both images need the same channels, except grey against RGB (the grey\n"
              "one is repeated to 3 channels, with a note on stderr); an alpha channel on one side only is refused.");
  auto paths = std::make_shared<std::vector<std::string>>();
  sub->add_option("A B", *paths, "two image files or two folders")->required()->expected(2);
  return {sub, [paths] {
            const fs::path a = (*paths)[0], b = (*paths)[1];
            for (const fs::path& p : {a, b}) {
              std::error_code ec;
              if (!fs::exists(p, ec))
                throw DataError(fmt::format("'{}' does not exist. Check the path: give two image files or two "
                                            "folders of images.",
                                            p.string()));
            }
            if (fs::is_directory(a) != fs::is_directory(b))
              throw DataError(fmt::format("'{}' and '{}': give two image files or two folders, not one of each",
                                          a.string(), b.string()));
            if (!fs::is_directory(a)) {
              std::string note;
              const double value = ssim_image_files(a, b, &note);
              // Through C stdio: main mutes std::cerr while a command runs (OpenCV's decoder chatter).
              if (!note.empty()) std::fprintf(stderr, "note: %s\n", note.c_str());
              std::cout << fmt::format("{:.6f}\n", value);
              return 0;
            }
            double sum = 0;
            const auto scores = ssim_image_folders(a, b);
            int64_t notes = 0;  // one note for a folder of grey vs RGB pairs, not one per file
            for (const auto& s : scores) {
              if (!s.note.empty() && notes++ == 0) std::fprintf(stderr, "note: %s\n", s.note.c_str());
              std::cout << fmt::format("{}\t{:.6f}\n", s.name, s.ssim), sum += s.ssim;
            }
            if (notes > 1)
              std::fprintf(stderr, "note: %lld more grey/RGB pairs were compared the same way\n",
                           static_cast<long long>(notes - 1));
            std::cout << fmt::format("mean\t{:.6f}\n", sum / static_cast<double>(scores.size()));
            return 0;
          }};
}

}  // namespace img2img::cli

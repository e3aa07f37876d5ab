#include "img2img/core/image_pairs.h"

#include <fmt/format.h>  // fmt::format

#include <map>  // std::map

#include "img2img/core/error.h"

namespace img2img {
namespace fs = std::filesystem;

std::vector<ImagePair> pair_image_files(const fs::path& input_dir, const fs::path& reference_dir, ListingStats* stats) {
  const std::vector<fs::path> inputs = list_image_files(input_dir, stats);
  const std::vector<fs::path> refs = list_image_files(reference_dir, stats);
  std::map<std::string, fs::path> ref_by_stem;
  for (const auto& r : refs) ref_by_stem[r.stem().string()] = r;
  std::vector<ImagePair> out;
  std::vector<std::string> only_input, only_ref;
  for (const auto& i : inputs) {
    const auto it = ref_by_stem.find(i.stem().string());
    if (it == ref_by_stem.end()) {
      only_input.push_back(i.filename().string());
    } else {
      out.push_back({i.stem().string(), i, it->second});
      ref_by_stem.erase(it);
    }
  }
  for (const auto& [stem, r] : ref_by_stem) only_ref.push_back(r.filename().string());
  if (only_input.empty() && only_ref.empty()) return out;
  auto list = [](const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size() && i < 10; ++i) s += (i ? ", " : "") + v[i];
    if (v.size() > 10) s += fmt::format(", ... ({} in all)", v.size());
    return s;
  };
  std::string msg = "input and reference folders do not pair up by file name:";
  if (!only_input.empty())
    msg += fmt::format("\n  {} only in '{}': {}", only_input.size(), input_dir.string(), list(only_input));
  if (!only_ref.empty())
    msg += fmt::format("\n  {} only in '{}': {}", only_ref.size(), reference_dir.string(), list(only_ref));
  msg += "\nRename or remove them so each input has a reference with the same name.";
  throw DataError(msg);
}

}  // namespace img2img

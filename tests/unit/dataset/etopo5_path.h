#pragma once
// Where the real test data lives, and a check that fails with the fix if it is missing.

#include <gtest/gtest.h>

#include <filesystem>  // std::filesystem::exists
#include <string>      // std::string

namespace img2img::test {

/// data/etopo5.cdf of the source tree (fetched by scripts/fetch_data.sh).
inline std::string etopo5_path() { return std::string(IMG2IMG_SOURCE_DIR) + "/data/etopo5.cdf"; }

/// Fails the current test (returns false) if ETOPO5 is missing, telling how to fetch it.
inline bool have_etopo5() {
  if (std::filesystem::exists(etopo5_path())) return true;
  ADD_FAILURE() << etopo5_path() << " is missing: run scripts/fetch_data.sh (scripts/test.sh does it)";
  return false;
}

}  // namespace img2img::test

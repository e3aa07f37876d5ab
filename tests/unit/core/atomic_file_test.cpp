#include "img2img/core/atomic_file.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "img2img/core/error.h"
#include "support/test_support.h"

namespace img2img {
namespace {
using ::testing::HasSubstr;

class AtomicFileTest : public test::TempDirTest {};

TEST_F(AtomicFileTest, ReplacesWholeAndCreatesFolders) {
  const auto path = dir_ / "a" / "b" / "file.bin";
  write_file_atomic(path, "first");
  write_file_atomic(path, "second version");
  EXPECT_EQ(read_file(path), "second version");
  std::size_t entries = 0;
  for (const auto& e : std::filesystem::directory_iterator(path.parent_path())) entries += e.is_regular_file();
  EXPECT_EQ(entries, 1u) << "no temporary file is left behind";
}

TEST_F(AtomicFileTest, AFolderAsTheTargetIsAClearError) {
  EXPECT_THAT([&] { write_file_atomic(dir_, "x"); },
              ::testing::ThrowsMessage<WriteError>(HasSubstr("it is a folder; give a file path")));
}

}  // namespace
}  // namespace img2img

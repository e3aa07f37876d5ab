// Output path templates are checked before any training (issue #8): every bad one at once, with its key.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <filesystem>  // std::filesystem
#include <fstream>     // std::ofstream

#include "img2img/config/config_keys.h"
#include "img2img/config/validate.h"
#include "support/test_support.h"

namespace img2img {
namespace {
using ::testing::HasSubstr;
using ::testing::Not;

class OutputPathsTest : public test::TempDirTest {
 protected:
  // The problems of a configuration with path checks on (the data paths are left unset, so their
  // problems are listed too; the tests look only at the output keys).
  std::string problems(const std::vector<ConfigAssignment>& a) {
    const RunConfig c = apply_config(a);
    std::string all;
    for (const auto& p : config_problems(c, ValidateOptions{})) all += format_config_problem(p) + "\n";
    return all;
  }
};

TEST_F(OutputPathsTest, EveryBadOutputPathIsListedWithItsKeyBeforeTraining) {
  const std::string afile = (dir_ / "afile").string();
  std::ofstream(afile) << "not a folder";
  const std::string p = problems({{"output.run_dir", (dir_ / "run").string(), "f"},
                                  {"output.onnx_path", afile + "/{index}.onnx", "f"},
                                  {"output.model_path", "/proc/img2img_x/{network}_{iteration}.pt", "f"},
                                  {"test.enabled", "true", "f"},
                                  {"test.output_dir", afile, "f"}});
  EXPECT_THAT(p, HasSubstr("output.onnx_path = '" + afile + "/{index}.onnx': cannot create '" + afile +
                           "' (the folder of '" + afile + "/0.onnx') because '" + afile +
                           "' is a file, not a folder. Choose another output.onnx_path."));
  EXPECT_THAT(p, HasSubstr("test.output_dir = '" + afile + "': cannot create '" + afile + "' because '" + afile +
                           "' is a file, not a folder."));
  // /proc refuses new files even for root (access() alone would pass there).
  EXPECT_THAT(p, HasSubstr("output.model_path = '/proc/img2img_x/{network}_{iteration}.pt': cannot create "
                           "'/proc/img2img_x' (the folder of '/proc/img2img_x/generator_1.pt'): folder '/proc' "
                           "is not writable"));
  EXPECT_THAT(p, Not(HasSubstr("output.run_dir =")));
  EXPECT_FALSE(std::filesystem::exists(dir_ / "run"));  // nothing created by the check
}

TEST_F(OutputPathsTest, RunDirInTheTemplateIsExpandedAndGoodPathsPass) {
  const std::string run = (dir_ / "run").string();
  std::ofstream(dir_ / "taken") << "x";
  const std::string p = problems({{"output.run_dir", run, "f"},
                                  {"test.enabled", "true", "f"},
                                  {"test.output_dir", "{run_dir}/test/{iteration}", "f"},
                                  {"output.model_path", "{run_dir}/checkpoints/{network}_{index}_{iteration}.pt", "f"},
                                  {"output.onnx_path", (dir_ / "taken" / "{iteration}.onnx").string(), "f"}});
  EXPECT_THAT(p, Not(HasSubstr("test.output_dir =")));
  EXPECT_THAT(p, Not(HasSubstr("output.model_path =")));
  EXPECT_THAT(p, HasSubstr("output.onnx_path = '" + (dir_ / "taken" / "{iteration}.onnx").string() +
                           "': cannot create '" + (dir_ / "taken").string() + "' (the folder of '" +
                           (dir_ / "taken" / "1.onnx").string() + "')"));
  // A run folder that is a file is named under output.run_dir, and so are the paths below it.
  const std::string q = problems({{"output.run_dir", (dir_ / "taken").string(), "f"}});
  EXPECT_THAT(q, HasSubstr("output.run_dir = '" + (dir_ / "taken").string() + "': cannot create"));
  EXPECT_THAT(q, HasSubstr("output.model_path = '{run_dir}/checkpoints/{network}_{index}_{iteration}.pt': cannot "
                           "create"));
  // Off: no check of an empty model / ONNX path.
  const std::string r = problems({{"output.run_dir", run, "f"}, {"output.onnx_path", "", "f"}});
  EXPECT_THAT(r, Not(HasSubstr("output.onnx_path =")));
}

TEST_F(OutputPathsTest, TemplatesThatMakeNetworksShareAFileAreRejected) {
  const std::string run = (dir_ / "run").string();
  // Paired: without {network} the discriminator overwrote the generator's file.
  const std::string p = problems({{"output.run_dir", run, "f"}, {"output.model_path", "{run_dir}/afile", "f"}});
  EXPECT_THAT(p, HasSubstr("output.model_path = '{run_dir}/afile' has no {network}: the generator and the "
                           "discriminator would be written to the same file. Add {network}, e.g. "
                           "'{run_dir}/checkpoints/{network}_{index}_{iteration}.pt'"));
  EXPECT_THAT(p, Not(HasSubstr("has no {index}")));  // one generator: {index} is optional
  // Unpaired: four networks, two ONNX files.
  const std::string u = problems({{"data.input_type", "multiple_unpaired", "f"},
                                  {"output.run_dir", run, "f"},
                                  {"output.model_path", "{run_dir}/c/{network}_{iteration}.pt", "f"},
                                  {"output.onnx_path", "{run_dir}/g.onnx", "f"}});
  EXPECT_THAT(u, HasSubstr("output.model_path = '{run_dir}/c/{network}_{iteration}.pt' has no {index}: unpaired "
                           "training has two generators and two discriminators"));
  EXPECT_THAT(u, HasSubstr("output.onnx_path = '{run_dir}/g.onnx' has no {index}: unpaired training exports two "
                           "generators"));
  // The defaults and an empty (off) path pass.
  const std::string d = problems({{"data.input_type", "multiple_unpaired", "f"},
                                  {"output.run_dir", run, "f"},
                                  {"output.onnx_path", "", "f"}});
  EXPECT_THAT(d, Not(HasSubstr("has no {")));
}

}  // namespace
}  // namespace img2img

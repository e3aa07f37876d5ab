// ONNX export: the exported graph must equal LibTorch's eval-mode output (max abs diff <= 1e-4) in
// OpenCV's DNN module, for the configuration matrix of onnx_cases.h; the checker guards writes.
// (onnxruntime runs the same matrix: tests/onnxruntime.)

#include <gmock/gmock.h>
#include <gtest/gtest.h>
#include <opencv2/dnn/dnn.hpp>  // cv::dnn::readNetFromONNX

#include <cctype>      // std::isalnum
#include <filesystem>  // std::filesystem
#include <fstream>     // std::ifstream
#include <iterator>    // std::istreambuf_iterator

#include "img2img/config/config_keys.h"
#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/models/factory.h"
#include "img2img/run/checkpoint.h"
#include "support/opencv_onnx.h"
#include "support/test_support.h"
#include "unit/export/onnx_cases.h"

namespace img2img {
namespace {
namespace fs = std::filesystem;
using ::testing::HasSubstr;
using ::testing::Not;

constexpr double kTolerance = 1e-4;  ///< spec: max abs difference <= 1e-4

torch::Tensor run_opencv(const fs::path& path, const torch::Tensor& x) { return test::run_onnx_in_opencv(path, x); }

double max_abs_diff(const torch::Tensor& a, const torch::Tensor& b) {
  EXPECT_EQ(a.sizes(), b.sizes());
  if (a.sizes() != b.sizes()) return 1e9;
  return (a - b).abs().max().item<double>();
}

/// gtest parameter name: "leaky_relu-relu_k4_..." -> "LeakyReluReluK4...".
std::string camel(const std::string& name) {
  std::string out;
  bool upper = true;
  for (const char ch : name) {
    if (!std::isalnum(static_cast<unsigned char>(ch))) {
      upper = true;
      continue;
    }
    out += upper ? static_cast<char>(std::toupper(static_cast<unsigned char>(ch))) : ch;
    upper = false;
  }
  return out;
}

onnx::ModelProto read_model(const fs::path& path) {
  onnx::ModelProto model;
  EXPECT_TRUE(model.ParseFromString(read_file(path))) << path;
  return model;
}

std::string metadata(const onnx::ModelProto& model, const std::string& key) {
  for (const auto& p : model.metadata_props())
    if (p.key() == key) return p.value();
  return "<missing>";
}

class OnnxExportTest : public test::TempDirTest {};

class OnnxExportMatrixTest : public test::TempDirTest, public ::testing::WithParamInterface<test::OnnxCase> {};

TEST_P(OnnxExportMatrixTest, MatchesLibTorchInOpenCvDnn) {
  const test::OnnxCase c = GetParam();
  UnetGenerator g = test::make_onnx_case_generator(c);
  const fs::path file = dir_ / (c.name() + ".onnx");
  export_generator_onnx(*g, c.export_options(), file);
  ASSERT_TRUE(fs::is_regular_file(file));

  const int64_t s = c.image_size(), n = c.dynamic_axes ? 2 : 1;
  torch::Tensor x = torch::rand({n, c.channels, s, s});
  if (!c.unit_range) x = x * 2 - 1;
  const torch::Tensor expected = test::onnx_case_reference(g, c, x);
  ASSERT_GT(expected.std().item<double>(), 1e-3) << "degenerate reference output: the comparison would prove little";
  const double diff = max_abs_diff(run_opencv(file, x), expected);
  EXPECT_LE(diff, kTolerance) << c.name() << " at " << s << "x" << s;
  RecordProperty("max_abs_diff", std::to_string(diff));

  if (c.dynamic_axes) {  // a different size than the training size: 2x, and non-square
    const torch::Tensor x2 = torch::rand({1, c.channels, 2 * s, 3 * s}) * (c.unit_range ? 1 : 2) - (c.unit_range ? 0 : 1);
    EXPECT_LE(max_abs_diff(run_opencv(file, x2), test::onnx_case_reference(g, c, x2)), kTolerance)
        << c.name() << " at " << 2 * s << "x" << 3 * s;
  }
}

INSTANTIATE_TEST_SUITE_P(Configurations, OnnxExportMatrixTest, ::testing::ValuesIn(test::onnx_cases()),
                         [](const ::testing::TestParamInfo<test::OnnxCase>& info) { return camel(info.param.name()); });

TEST_F(OnnxExportTest, EveryOpsetFrom11To17MatchesLibTorch) {
  for (int64_t opset = kOnnxMinOpset; opset <= kOnnxMaxOpset; ++opset) {
    test::OnnxCase c;
    c.layers = 3, c.opset = opset, c.norm = NormKind::kBatch;
    UnetGenerator g = test::make_onnx_case_generator(c);
    const fs::path file = dir_ / ("op" + std::to_string(opset) + ".onnx");
    export_generator_onnx(*g, c.export_options(), file);
    EXPECT_EQ(read_model(file).opset_import(0).version(), opset);
    const torch::Tensor x = torch::rand({1, 3, 16, 16});
    EXPECT_LE(max_abs_diff(run_opencv(file, x), test::onnx_case_reference(g, c, x)), kTolerance) << "opset " << opset;
  }
}

TEST_F(OnnxExportTest, RejectsOpsetOutsideRangeNamingIt) {
  test::OnnxCase c;
  c.layers = 3;
  UnetGenerator g = test::make_onnx_case_generator(c);
  for (const int64_t opset : {10, 18}) {
    OnnxExportOptions o = c.export_options();
    o.opset = opset;
    try {
      export_generator_onnx(*g, o, dir_ / "bad.onnx");
      FAIL() << "expected ExportError for opset " << opset;
    } catch (const ExportError& e) {
      EXPECT_THAT(e.what(), HasSubstr("output.onnx_opset " + std::to_string(opset)));
      EXPECT_THAT(e.what(), HasSubstr("expected 11 to 17"));
    }
  }
  EXPECT_FALSE(fs::exists(dir_ / "bad.onnx"));
}

TEST_F(OnnxExportTest, DocumentsInterfaceAndMetadataWithDynamicAxes) {
  test::OnnxCase c;
  c.layers = 3, c.channels = 4;
  UnetGenerator g = test::make_onnx_case_generator(c);
  export_generator_onnx(*g, c.export_options(), dir_ / "g.onnx");
  const onnx::ModelProto m = read_model(dir_ / "g.onnx");
  ASSERT_EQ(m.graph().input_size(), 1);
  ASSERT_EQ(m.graph().output_size(), 1);
  for (const auto* v : {&m.graph().input(0), &m.graph().output(0)}) {
    const auto& t = v->type().tensor_type();
    EXPECT_EQ(t.elem_type(), onnx::TensorProto::FLOAT);
    ASSERT_EQ(t.shape().dim_size(), 4);
    EXPECT_EQ(t.shape().dim(0).dim_param(), "batch");
    EXPECT_EQ(t.shape().dim(1).dim_value(), 4);
    EXPECT_EQ(t.shape().dim(2).dim_param(), "height");
    EXPECT_EQ(t.shape().dim(3).dim_param(), "width");
  }
  EXPECT_EQ(m.graph().input(0).name(), "input");
  EXPECT_EQ(m.graph().output(0).name(), "output");
  EXPECT_EQ(metadata(m, "channel_count"), "4");
  EXPECT_EQ(metadata(m, "image_size"), "16");
  EXPECT_EQ(metadata(m, "iteration"), "42");
  EXPECT_EQ(metadata(m, "value_range"), "0,1");
  EXPECT_EQ(metadata(m, "layout"), "NCHW float32");
  EXPECT_EQ(m.producer_name(), "img2img");
  // Eval mode: no dropout node even though the generator has dropout 0.5.
  for (const auto& node : m.graph().node()) EXPECT_NE(node.op_type(), "Dropout") << node.name();
}

TEST_F(OnnxExportTest, FixedAxesUseTrainingSizeAndRawRangeIsRecorded) {
  test::OnnxCase c;
  c.layers = 4, c.channels = 1, c.dynamic_axes = false, c.unit_range = false;
  UnetGenerator g = test::make_onnx_case_generator(c);
  export_generator_onnx(*g, c.export_options(), dir_ / "g.onnx");
  const onnx::ModelProto m = read_model(dir_ / "g.onnx");
  const auto& shape = m.graph().input(0).type().tensor_type().shape();
  std::vector<int64_t> dims;
  for (const auto& d : shape.dim()) dims.push_back(d.dim_value());
  EXPECT_EQ(dims, (std::vector<int64_t>{1, 1, 16, 16}));
  EXPECT_EQ(metadata(m, "value_range"), "-1,1");
}

TEST_F(OnnxExportTest, KeepsTheModuleInTrainingModeAndExportsEvalGraph) {
  test::OnnxCase c;
  c.layers = 4;
  UnetGenerator g = test::make_onnx_case_generator(c);
  g->train();
  export_generator_onnx(*g, c.export_options(), dir_ / "g.onnx");
  EXPECT_TRUE(g->is_training());
  g->eval();
  const torch::Tensor x = torch::rand({1, 3, 16, 16});
  EXPECT_LE(max_abs_diff(run_opencv(dir_ / "g.onnx", x), test::onnx_case_reference(g, c, x)), kTolerance);
}

TEST_F(OnnxExportTest, NeverWritesAModelThatFailsTheCheckerAndNamesTheNode) {
  test::OnnxCase c;
  c.layers = 3;
  UnetGenerator g = test::make_onnx_case_generator(c);
  onnx::ModelProto m = build_generator_onnx(*g, c.export_options());
  bool corrupted = false;
  for (auto& node : *m.mutable_graph()->mutable_node()) {
    if (node.name() != "down1") continue;
    auto* a = node.add_attribute();  // Conv has no such attribute: the checker rejects the node
    a->set_name("not_a_conv_attribute"), a->set_type(onnx::AttributeProto::INT), a->set_i(1);
    corrupted = true;
  }
  ASSERT_TRUE(corrupted);
  const fs::path existing = dir_ / "existing.onnx", fresh = dir_ / "fresh.onnx";
  write_file_atomic(existing, "previous model");
  for (const auto& path : {existing, fresh}) {
    try {
      write_onnx_model(m, path);
      FAIL() << "expected ExportError";
    } catch (const ExportError& e) {
      EXPECT_THAT(e.what(), HasSubstr("down1"));
      EXPECT_THAT(e.what(), HasSubstr("Conv"));
      EXPECT_THAT(e.what(), HasSubstr("not written"));
    }
  }
  EXPECT_EQ(read_file(existing), "previous model");
  EXPECT_FALSE(fs::exists(fresh));
  EXPECT_EQ(std::distance(fs::directory_iterator(dir_), fs::directory_iterator()), 1);  // no temp file left
}

TEST_F(OnnxExportTest, NeverWritesAModelThatFailsShapeInferenceAndNamesTheNode) {
  test::OnnxCase c;
  c.layers = 3, c.dynamic_axes = false;
  UnetGenerator g = test::make_onnx_case_generator(c);
  onnx::ModelProto m = build_generator_onnx(*g, c.export_options());
  for (auto& node : *m.mutable_graph()->mutable_node())
    if (node.name() == "up1_cat") node.mutable_attribute(0)->set_i(2);  // concat on H: the checker can't see it
  try {
    write_onnx_model(m, dir_ / "g.onnx");
    FAIL() << "expected ExportError";
  } catch (const ExportError& e) {
    // up1_cat doubles H, so up0_cat then joins [1, 4, 8, 8] with [1, 4, 16, 8]: the node that fails.
    EXPECT_THAT(e.what(), HasSubstr("op_type:Concat, node name: up0_cat"));
    EXPECT_THAT(e.what(), HasSubstr("not written"));
  }
  EXPECT_FALSE(fs::exists(dir_ / "g.onnx"));
}

// A Houdini user gets both generators of an unpaired run as ONNX files: each says which way it
// translates (metadata `direction`, the doc string) and which weights it holds, whether `train` or
// `export` wrote it; a paired model records no direction.
TEST_F(OnnxExportTest, UnpairedGeneratorsRecordTheirDirection) {
  test::OnnxCase c;
  c.layers = 3;
  UnetGenerator g = test::make_onnx_case_generator(c);
  OnnxExportOptions o = c.export_options();
  EXPECT_EQ(metadata(build_generator_onnx(*g, o), "direction"), "<missing>");  // paired
  EXPECT_EQ(onnx_direction(false, 0), "");
  EXPECT_EQ(onnx_direction(true, 0), "A->B");
  EXPECT_EQ(onnx_direction(true, 1), "B->A");
  o.direction = "B->A";
  const onnx::ModelProto m = build_generator_onnx(*g, o);
  EXPECT_EQ(metadata(m, "direction"), "B->A");
  EXPECT_THAT(m.doc_string(), HasSubstr("unpaired B->A: domain B (data.reference_dir) to domain A (data.input_dir)"));
  o.direction = "A to B";
  EXPECT_THROW(build_generator_onnx(*g, o), ExportError);

  // `img2img export` of generator 1 of an unpaired checkpoint.
  RunConfig config;
  config.data.input_type = InputType::kMultipleUnpaired;
  config.data.channel_count = 3, config.data.image_size = 16;
  config.generator.layers = 3, config.generator.initial_layer_size = 4, config.generator.max_layer_size = 8;
  config.generator.norm = NormKind::kInstance;
  UnetGenerator g1(generator_options(config));
  CheckpointMeta meta;
  meta.network = "generator", meta.index = 1, meta.iteration = 3, meta.config_toml = config_to_toml(config, false);
  save_checkpoint(dir_ / "generator_1_3.pt", *g1, meta);
  std::string output;
  ASSERT_EQ(test::run_command(test::img2img_binary() + " export --checkpoint " + (dir_ / "generator_1_3.pt").string() +
                                  " --output " + (dir_ / "g1.onnx").string(),
                              &output),
            0)
      << output;
  EXPECT_THAT(output, HasSubstr("(generator 1, B->A, opset"));
  const onnx::ModelProto e = read_model(dir_ / "g1.onnx");
  EXPECT_EQ(metadata(e, "direction"), "B->A");
  EXPECT_THAT(e.doc_string(), HasSubstr("unpaired B->A"));
}

TEST_F(OnnxExportTest, ExportCommandWritesTheCheckpointGenerator) {
  RunConfig config;
  config.data.channel_count = 3, config.data.image_size = 32;
  config.generator.layers = 4, config.generator.initial_layer_size = 4, config.generator.max_layer_size = 16;
  config.generator.norm = NormKind::kInstance, config.generator.down_activation = Activation::kSilu;
  config.output.onnx_opset = 13, config.output.onnx_dynamic_axes = false;
  UnetGenerator g(generator_options(config));
  CheckpointMeta meta;
  meta.network = "generator", meta.iteration = 7, meta.config_toml = config_to_toml(config, false);
  save_checkpoint(dir_ / "generator_0_7.pt", *g, meta);
  g->eval();

  std::string output;
  const fs::path onnx_file = dir_ / "out" / "g.onnx";
  ASSERT_EQ(test::run_command(test::img2img_binary() + " export --checkpoint " + (dir_ / "generator_0_7.pt").string() +
                                  " --output " + onnx_file.string(),
                              &output),
            0)
      << output;
  const onnx::ModelProto m = read_model(onnx_file);
  EXPECT_EQ(m.opset_import(0).version(), 13);  // defaults from the checkpoint's output.onnx_*
  EXPECT_EQ(m.graph().input(0).type().tensor_type().shape().dim(2).dim_value(), 32);
  EXPECT_EQ(metadata(m, "iteration"), "7");
  EXPECT_EQ(metadata(m, "value_range"), "0,1");
  test::OnnxCase c;
  c.channels = 3;
  const torch::Tensor x = torch::rand({1, 3, 32, 32});
  EXPECT_LE(max_abs_diff(run_opencv(onnx_file, x), test::onnx_case_reference(g, c, x)), kTolerance);

  // Flags override the checkpoint: opset, dynamic axes, raw range.
  ASSERT_EQ(test::run_command(test::img2img_binary() + " export --checkpoint " + (dir_ / "generator_0_7.pt").string() +
                                  " --output " + (dir_ / "raw.onnx").string() +
                                  " --opset 11 --dynamic-axes true --raw-range",
                              &output),
            0)
      << output;
  const onnx::ModelProto raw = read_model(dir_ / "raw.onnx");
  EXPECT_EQ(raw.opset_import(0).version(), 11);
  EXPECT_EQ(raw.graph().input(0).type().tensor_type().shape().dim(2).dim_param(), "height");
  EXPECT_EQ(metadata(raw, "value_range"), "-1,1");
  const torch::Tensor xr = torch::rand({1, 3, 64, 32}) * 2 - 1;
  torch::NoGradGuard no_grad;
  EXPECT_LE(max_abs_diff(run_opencv(dir_ / "raw.onnx", xr), g->forward(xr)), kTolerance);

  EXPECT_NE(test::run_command(test::img2img_binary() + " export --checkpoint " + (dir_ / "generator_0_7.pt").string() +
                                  " --output " + (dir_ / "bad.onnx").string() + " --opset 9",
                              &output),
            0);
  // The error names the flag the user gave, not the config key output.onnx_opset.
  EXPECT_THAT(output, HasSubstr("--opset: expected an ONNX opset from 11 to 17, got '9'"));
  EXPECT_THAT(output, Not(HasSubstr("onnx_opset")));

  // --output must be an .onnx file: the checkpoint, its .json or an image are never replaced.
  const auto read_all = [](const fs::path& p) {
    std::ifstream in(p, std::ios::binary);
    return std::string(std::istreambuf_iterator<char>(in), {});
  };
  const std::string weights_before = read_all(dir_ / "generator_0_7.pt");
  for (const std::string target : {"generator_0_7.pt", "generator_0_7.json", "picture.png"}) {
    std::ofstream(dir_ / "picture.png") << "not really a png";
    const std::string before = read_all(dir_ / target);
    EXPECT_EQ(test::run_command(test::img2img_binary() + " export --checkpoint " +
                                    (dir_ / "generator_0_7.pt").string() + " --output " + (dir_ / target).string(),
                                &output),
              1)
        << output;
    EXPECT_THAT(output, HasSubstr("does not end in .onnx"));
    EXPECT_EQ(read_all(dir_ / target), before) << target;
  }
  EXPECT_EQ(read_all(dir_ / "generator_0_7.pt"), weights_before);
  EXPECT_EQ(test::run_command(test::img2img_binary() + " export --checkpoint " + (dir_ / "generator_0_7.pt").string() +
                                  " --output ''",
                              &output),
            1);
  EXPECT_THAT(output, HasSubstr("--output is empty"));
}

}  // namespace
}  // namespace img2img

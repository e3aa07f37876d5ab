// Path templates (issue 14): {iteration} is the plain integer, as in the node ("model.{iteration}.onnx"
// -> "model.5.onnx"); {iteration:06} zero-fills it on request; a malformed format is a ConfigError
// naming the template and the fix, also reported by `config_problems` before training.

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <map>     // std::map
#include <string>  // std::string
#include <vector>  // std::vector

#include "img2img/config/config_keys.h"
#include "img2img/config/validate.h"
#include "img2img/core/error.h"
#include "img2img/core/path_template.h"

namespace img2img {
namespace {
using ::testing::HasSubstr;
using ::testing::Not;

const std::map<std::string, std::string> kValues{
    {"run_dir", "runs/r"}, {"network", "generator"}, {"index", "1"}, {"iteration", "7"}, {"date", "2024-05-01"},
    {"time", "120000"}};

std::string error_of(const std::string& tmpl) {
  try {
    expand_template(tmpl, kValues);
  } catch (const ConfigError& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(PathTemplateTest, IterationIsThePlainInteger) {
  EXPECT_EQ(expand_template("model.{iteration}.onnx", {{"iteration", "5"}}), "model.5.onnx");  // the node's example
  EXPECT_EQ(expand_template("{run_dir}/checkpoints/{network}_{index}_{iteration}.pt", kValues),
            "runs/r/checkpoints/generator_1_7.pt");
  EXPECT_EQ(expand_template("{iteration}", {{"iteration", "0"}}), "0");
  EXPECT_EQ(expand_template("{iteration}", {{"iteration", "1234567"}}), "1234567");
  // A value passed zero-padded (format_iteration, as callers did before) is still written as its number.
  EXPECT_EQ(expand_template("{iteration}", {{"iteration", format_iteration(12)}}), "12");
  EXPECT_EQ(format_iteration(7), "000007");  // the test image file-name prefix stays padded
}

TEST(PathTemplateTest, ZeroPaddingIsExplicit) {
  EXPECT_EQ(expand_template("{run_dir}/checkpoints/{network}_{index}_{iteration:06}.pt", kValues),
            "runs/r/checkpoints/generator_1_000007.pt");
  EXPECT_EQ(expand_template("{iteration:06}", {{"iteration", "1234567"}}), "1234567");  // wider than the width
  EXPECT_EQ(expand_template("{iteration:01}", {{"iteration", "0"}}), "0");
  EXPECT_EQ(expand_template("{iteration:020}", {{"iteration", "7"}}), "00000000000000000007");
  EXPECT_EQ(expand_template("{network}_{index:02}", kValues), "generator_01");
  EXPECT_EQ(expand_template("{iteration}-{iteration:04}", kValues), "7-0007");
  EXPECT_EQ(expand_template("{iteration:04}", {{"iteration", format_iteration(12)}}), "0012");
}

TEST(PathTemplateTest, MalformedFormatNamesTheTemplateAndTheFix) {
  for (const char* bad : {"m/{iteration:x}.pt", "m/{iteration:6}.pt", "m/{iteration:}.pt", "m/{iteration:0}.pt",
                          "m/{iteration:00}.pt", "m/{iteration:006}.pt", "m/{iteration:021}.pt",
                          "m/{iteration:06d}.pt", "m/{iteration:-6}.pt", "m/{iteration:06:06}.pt"}) {
    SCOPED_TRACE(bad);
    const std::string e = error_of(bad);
    EXPECT_THAT(e, HasSubstr(std::string("path template '") + bad + "'"));
    EXPECT_THAT(e, HasSubstr("has an invalid format"));
    EXPECT_THAT(e, HasSubstr("Write {iteration} for the plain number (7), or {iteration:0N} to zero-fill it to N "
                             "digits (N = 1 to 20) so file names sort, e.g. {iteration:06} (000007)."));
    EXPECT_THROW(template_names(bad), ConfigError);
  }
  EXPECT_THAT(error_of("{index:x}"), HasSubstr("{index:x} has an invalid format 'x'. Write {index} for the plain"));
  for (const char* name : {"network", "run_dir", "date", "time"}) {
    SCOPED_TRACE(name);
    const std::string tmpl = std::string("out/{") + name + ":06}";
    EXPECT_THAT(error_of(tmpl),
                HasSubstr("path template '" + tmpl + "': {" + name + ":06} gives a format to {" + name +
                          "}, which is not a number; only {iteration} and {index} take one (e.g. {iteration:06}). "
                          "Write {" + name + "}."));
    EXPECT_THROW(template_names(tmpl), ConfigError);
  }
  // An unknown name stays "unknown", with or without a format.
  EXPECT_THAT(error_of("{iter:06}"), HasSubstr("unknown {iter} in path template '{iter:06}'"));
  EXPECT_THAT(error_of("{iter:06}"), Not(HasSubstr("format")));
}

TEST(PathTemplateTest, NamesComeWithoutTheirFormat) {
  EXPECT_EQ(template_names("{run_dir}/{network}_{index:02}_{iteration:06}_{iteration}.pt"),
            (std::vector<std::string>{"run_dir", "network", "index", "iteration", "iteration"}));
  EXPECT_EQ(template_names("${HOME}/{iter:06}"), std::vector<std::string>{"iter"});  // reported as unknown
  EXPECT_TRUE(names_folder_per_run("runs/{date}-{time}"));
  EXPECT_TRUE(names_folder_per_run("runs/{date}"));
  EXPECT_TRUE(names_folder_per_run("runs/x-{time}"));
  EXPECT_FALSE(names_folder_per_run("runs/x"));
  EXPECT_FALSE(names_folder_per_run("runs/${date}"));  // an environment variable, not {date}
}

// `img2img train` reports a malformed format with the key before anything runs, and {index:02}
// counts as {index} where unpaired runs need it.
TEST(PathTemplateTest, ConfigProblemsNameTheKeyAndTheFix) {
  const auto problems = [](const std::vector<ConfigAssignment>& a) {
    ValidateOptions v;
    v.check_paths = false;
    std::string all;
    for (const auto& p : config_problems(apply_config(a), v)) all += format_config_problem(p) + "\n";
    return all;
  };
  const std::string p = problems({{"output.model_path", "{run_dir}/c/{network}_{index}_{iteration:x}.pt", "f"},
                                  {"output.onnx_path", "{run_dir}/o/{network:06}_{index}.onnx", "f"},
                                  {"test.output_dir", "{run_dir}/test/{iteration:04}", "f"}});
  EXPECT_THAT(p, HasSubstr("output.model_path: path template '{run_dir}/c/{network}_{index}_{iteration:x}.pt': "
                           "{iteration:x} has an invalid format 'x'. Write {iteration} for the plain number (7), or "
                           "{iteration:0N}"));
  EXPECT_THAT(p, HasSubstr("output.onnx_path: path template '{run_dir}/o/{network:06}_{index}.onnx': {network:06} "
                           "gives a format to {network}"));
  EXPECT_THAT(p, Not(HasSubstr("test.output_dir")));
  EXPECT_EQ(problems({{"output.model_path", "{run_dir}/c/{network}_{index:02}_{iteration:06}.pt", "f"},
                      {"output.onnx_path", "{run_dir}/o/g_{index:02}_{iteration:06}.onnx", "f"},
                      {"data.input_type", "multiple_unpaired", "f"}}),
            problems({{"data.input_type", "multiple_unpaired", "f"}}));
  EXPECT_THAT(problems({{"output.run_dir", "runs/{iteration:06}", "f"}}),
              HasSubstr("output.run_dir = 'runs/{iteration:06}': unknown {iteration}; allowed: {date}, {time}"));
}

// Paths in the commands img2img prints (`resume with: img2img train --resume ...`) are quoted for a POSIX
// shell only when they need it.
TEST(PathTemplateTest, ShellQuoteLeavesPlainPathsAndQuotesTheRest) {
  EXPECT_EQ(shell_quote("runs/2025-06-01-142501"), "runs/2025-06-01-142501");
  EXPECT_EQ(shell_quote("/tmp/a_b.c/x=1,y+2@h:3%"), "/tmp/a_b.c/x=1,y+2@h:3%");
  EXPECT_EQ(shell_quote("runs/ünï"), "runs/ünï");
  EXPECT_EQ(shell_quote("runs/my run"), "'runs/my run'");
  EXPECT_EQ(shell_quote("runs/it's"), "'runs/it'\\''s'");
  EXPECT_EQ(shell_quote("a$HOME`x`*;&|"), "'a$HOME`x`*;&|'");
  EXPECT_EQ(shell_quote("~/runs"), "'~/runs'");
  EXPECT_EQ(shell_quote(""), "''");
}

}  // namespace
}  // namespace img2img

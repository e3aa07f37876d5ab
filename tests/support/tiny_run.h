#pragma once
// A tiny paired training run for tests of run folders and file names.

#include <filesystem>  // std::filesystem::path

#include "img2img/config/run_config.h"

namespace img2img::test {

/// Writes 4 random 32 px RGB pairs (8-bit PNG, reference = 1 - input) into dir/in and dir/ref and returns a
/// CPU config that trains on them for 1 iteration with small networks (5 generator layers, 8 initial
/// channels), the default output templates, no ONNX file and no plots.
RunConfig tiny_paired_run(const std::filesystem::path& dir);

}  // namespace img2img::test

namespace img2img::test {

/// tiny_paired_run with 1-channel data: 8-bit grey inputs and 16-bit height-field references (a
/// smooth hill per sample, as terrain tiles), data.channel_count = 1.
RunConfig tiny_height_run(const std::filesystem::path& dir);

/// tiny_paired_run's images as an unpaired (CycleGAN) run: domain A = dir/in, domain B = dir/ref, with
/// the unpaired defaults (unpaired_defaults()), 4 generator layers.
RunConfig tiny_unpaired_run(const std::filesystem::path& dir);

}  // namespace img2img::test

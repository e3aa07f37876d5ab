#pragma once
// Plain configuration structs, one per section of the TOML file / `--section.key` flags.
// Key names and meanings: docs/configuration.md (mirrors Houdini's "ML Train Image to Image" node).
// Defaults live here and only here, as default member initialisers.

#include <cstdint>  // int64_t
#include <string>   // std::string

#include "img2img/models/kinds.h"  // Activation, NormKind, InitKind, GanLoss

namespace img2img {

/// How training / test images are laid out on disk (spec: data.input_type).
enum class InputType { kSinglePaired, kMultiplePaired, kMultipleUnpaired, kCompositePaired };
/// Where decoded samples live (spec: data.storage).
enum class Storage { kAutomatic, kDevice };
/// Learning-rate schedule, stepped once per iteration (epoch).
enum class SchedulerKind { kCosine, kLinear, kStep };
/// Optimiser; each matches PyTorch's algorithm of the same name.
enum class OptimizerKind { kAdam, kAdadelta, kSgd, kAsgd };
/// What a non-finite (NaN/inf) loss does: stop the run with an error, or skip that batch's update.
enum class NanPolicy { kStop, kSkip };
/// Plot output format.
enum class PlotType { kDisabled, kCsv, kImage };
/// Collective backend of a data-parallel run (docs/distributed.md): kAuto = NCCL for a CUDA device where
/// the build has it, else Gloo.
enum class DistributedBackend { kAuto, kGloo, kNccl };

/// Where the image pairs come from and how each sample is prepared. Shared by [data] and [test].
struct DataSource {
  InputType input_type = InputType::kMultiplePaired;
  std::string input_image;      ///< single_paired: the input file
  std::string reference_image;  ///< single_paired: the reference (target) file
  std::string input_dir;        ///< multiple_*: folder of inputs
  std::string reference_dir;    ///< multiple_*: folder of references, paired by file stem
  std::string composite_dir;    ///< composite_paired: folder of input|reference side-by-side images
  Storage storage = Storage::kAutomatic;
  int64_t worker_threads = 0;   ///< background decode threads; 0 = decode on the training thread
  /// automatic storage: MiB of host memory for decoded samples; a larger set is streamed from disk.
  /// 0 = half of the machine's memory (memory_budget_bytes); at most kMaxMemoryBudgetMb.
  double memory_budget_mb = 0.0;
  int64_t batch_size = 1;       ///< samples per step (pix2pix: 1)
};

/// Largest accepted data.memory_budget_mb / test.memory_budget_mb: 2^40 MiB = 1 EiB (2^60 bytes), far
/// above any machine's memory and small enough that the budget in bytes fits an int64_t.
constexpr double kMaxMemoryBudgetMb = 1099511627776.0;

/// [data]: the training set and its augmentation.
struct DataConfig : DataSource {
  int64_t channel_count = 3;  ///< channels of inputs, references and outputs (1-4)
  int64_t image_size = 256;   ///< square side in pixels every sample is resized to
  int64_t limit_count = 0;    ///< 0 = all; N = only the first N samples by name
  double crop = 0.0;          ///< 0 = off; s in (0,1): random crop of side in [s, 1] x image side
  double flip_horizontal = 0.0;  ///< probability of a horizontal flip
  double flip_vertical = 0.0;    ///< probability of a vertical flip
  double rotation = 0.0;         ///< probability of a random rotation (scaled to fill the square)
  bool shuffle = true;           ///< reshuffle the sample order every iteration
};

/// [train]: optimisation.
struct TrainConfig {
  int64_t max_iterations = 200;     ///< iterations (= epochs; pix2pix: 100 + 100 decay)
  double learning_rate = 0.0002;    ///< base LR (pix2pix: 2e-4)
  SchedulerKind scheduler = SchedulerKind::kLinear;
  /// linear: decay iterations at the end, to lr / (linear_decay + 1). Not given: max_iterations / 2
  /// (resolve_derived_defaults; the pix2pix reference decays over the second half: 100 of 200).
  int64_t linear_decay = 100;
  int64_t step_size = 50;           ///< step: iterations between LR drops
  double gamma = 0.1;               ///< step: LR factor per drop (PyTorch StepLR default)
  InitKind init = InitKind::kNormal;
  double init_gain = 0.02;          ///< std (normal) or scale (orthogonal, xavier) (pix2pix: 0.02)
  OptimizerKind optimizer = OptimizerKind::kAdam;
  double beta1 = 0.5;               ///< Adam beta1 (pix2pix: 0.5)
  double beta2 = 0.999;             ///< Adam beta2 (PyTorch default)
  double rho = 0.9;                 ///< Adadelta rho (PyTorch default)
  double momentum = 0.0;            ///< SGD momentum (PyTorch default 0)
  GanLoss gan_loss = GanLoss::kVanilla;
  int64_t seed = 0;                 ///< RNG seed; the same seed repeats a CPU run bit for bit
  double identity_lambda = 0.5;     ///< unpaired: identity loss weight as a fraction of l1_lambda
  int64_t pool_size = 50;           ///< unpaired: image pool per discriminator (0 = off)
  /// Non-finite loss: kStop = error naming the iteration and term (checkpoints on disk stay the last
  /// good ones); kSkip = no optimiser step for that batch, a warning event, and training goes on.
  NanPolicy nan_policy = NanPolicy::kStop;
  int64_t nan_max_skips = 10;       ///< skip: this many consecutive skipped steps stop the run (>= 1)
};

/// [generator]: U-Net architecture (stored in every checkpoint).
struct GeneratorConfig {
  /// Down (and up) steps; 2^layers <= data.image_size. Not given: the most whose 2^layers divides
  /// data.image_size, at most 8 (resolve_derived_defaults; 8 at the default 256 px, pix2pix unet_256).
  int64_t layers = 8;
  int64_t initial_layer_size = 64; ///< channels of the first layer (ngf in pix2pix)
  int64_t max_layer_size = 0;      ///< channel cap; 0 = data.image_size (node); 512 = pix2pix unet_256
  int64_t kernel_size = 4;         ///< conv kernel, stride 2 (pix2pix: 4)
  double l1_lambda = 100.0;        ///< L1 weight (pix2pix paper: 100; CycleGAN cycle: 10)
  Activation down_activation = Activation::kLeakyRelu;  ///< pix2pix: LeakyReLU(0.2)
  Activation up_activation = Activation::kRelu;         ///< pix2pix: ReLU
  NormKind norm = NormKind::kBatch;                     ///< pix2pix: batch
  double dropout = 0.5;  ///< dropout probability in the 3 innermost decoder layers; 0 = off (pix2pix: 0.5)
  /// Decay of the moving average of the generator's weights that a run tests, saves and exports; 0 = off,
  /// else [0.5, 1). Warm-up min(decay, (1+t)/(10+t)) (train/weight_average.h; measured: docs/quality.md).
  double ema_decay = 0.999;
};

/// [discriminator]: PatchGAN architecture.
struct DiscriminatorConfig {
  int64_t layers = 3;               ///< stride-2 convolutions (pix2pix: 3 -> 70x70 receptive field)
  int64_t initial_layer_size = 64;  ///< channels of the first layer (ndf)
  int64_t kernel_size = 4;
  Activation activation = Activation::kLeakyRelu;
  NormKind norm = NormKind::kBatch;
};

/// [test]: testing on a held-out set during training.
struct TestConfig : DataSource {
  bool enabled = false;
  double target_ssim = 0.0;  ///< 0 = off; stop early once mean test SSIM >= this
  std::string output_dir = "{run_dir}/test/{iteration}";  ///< where test images go (template)
  int64_t frequency = 1;     ///< test every N iterations
  int64_t size = 0;          ///< samples per test, drawn at random once per run (train.seed); 0 = all
  /// Samples whose images are written at each test (the same ones every test, drawn once per run
  /// from train.seed); 0 = none. Every tested sample's SSIM counts whatever this is.
  int64_t image_count = 8;
  bool add_outputs = true;   ///< list the latest test's images in outputs.json
};

/// [output]: run folder, checkpoints and ONNX files.
struct OutputConfig {
  std::string run_dir = "runs/{date}-{time}";  ///< log, config, plots, outputs.json
  std::string model_path = "{run_dir}/checkpoints/{network}_{index}_{iteration}.pt";  ///< "" = off
  int64_t model_save_rate = 10;  ///< iterations between checkpoints (the last is always saved)
  bool add_model_outputs = true;
  std::string onnx_path = "{run_dir}/onnx/generator_{index}_{iteration}.onnx";  ///< "" = off
  int64_t onnx_save_rate = 0;    ///< iterations between ONNX files; 0 = only the last
  int64_t onnx_opset = 17;
  bool onnx_dynamic_axes = true;
  bool add_onnx_outputs = true;
};

/// [plot]
struct PlotConfig {
  PlotType type = PlotType::kCsv;
  int64_t rate = 1;  ///< iterations between rewrites (the end is always written)
};

/// [device]
struct DeviceConfig {
  std::string device = "auto";  ///< auto | cpu | cuda | cuda:N
  int64_t cpu_threads = 0;      ///< intra-op threads; 0 = number of cores
};

/// [distributed]: data-parallel training over processes started by a launcher (torchrun, srun, ...;
/// docs/distributed.md). Everything else (ranks, addresses) comes from the launcher's variables.
struct DistributedConfig {
  DistributedBackend backend = DistributedBackend::kAuto;
  /// Seconds a rank waits for its peers (joining the group, one collective) before it gives up with an
  /// error naming the silent rank; PyTorch's default is 1800, ours 5 minutes. At least 1.
  double timeout = 300.0;
};

/// The whole resolved configuration of a run; saved with every checkpoint.
struct RunConfig {
  DataConfig data;
  TrainConfig train;
  GeneratorConfig generator;
  DiscriminatorConfig discriminator;
  TestConfig test;
  OutputConfig output;
  PlotConfig plot;
  DeviceConfig device;
  DistributedConfig distributed;
};

/// Whether this input type trains an unpaired (CycleGAN) model.
inline bool is_unpaired(InputType t) { return t == InputType::kMultipleUnpaired; }

}  // namespace img2img

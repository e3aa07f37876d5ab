#pragma once

#include <atomic>      // std::atomic
#include <filesystem>  // std::filesystem::path
#include <functional>  // std::function
#include <map>         // std::map
#include <optional>    // std::optional
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/config/run_config.h"
#include "img2img/core/process_group.h"
#include "img2img/run/resume_point.h"

namespace img2img {

/// What a finished training run produced.
struct TrainSummary {
  std::filesystem::path run_dir;
  int64_t iterations = 0;                          ///< iterations completed
  std::vector<std::filesystem::path> checkpoints;  ///< every weights file written, in order
  std::filesystem::path final_generator;           ///< the last generator weights ("" if model_path is off)
  std::filesystem::path final_onnx;                ///< the last ONNX file ("" if onnx_path is off)
  /// The last weights of every generator (index order; unpaired: A->B, B->A); empty if model_path is off.
  std::vector<std::filesystem::path> final_generators;
  /// The last ONNX file of every generator (index order); empty if onnx_path is off.
  std::vector<std::filesystem::path> final_onnx_files;
  /// Means of the model's statistics (GanModel::statistics() keys, e.g. "g_l1") over the last
  /// iteration that used a batch; empty when none did.
  std::map<std::string, double> last;
  double seconds = 0;
  std::optional<double> test_ssim;                 ///< mean SSIM of the last test; empty if never tested
  bool stopped_early = false;                      ///< test.target_ssim was reached
  std::string stop_reason;                         ///< why it stopped early ("" otherwise)
  bool interrupted = false;                        ///< *TrainOptions::stop_requested ended the run
  /// The stop came before the first training step of this run: nothing was trained or saved
  /// (a resumed run's checkpoint is left as it was); interrupted is set too.
  bool nothing_trained = false;
  int64_t skipped_steps = 0;                       ///< batches dropped by train.nan_policy = skip, this run
  std::filesystem::path outputs_manifest;          ///< <run_dir>/outputs.json
  /// This process's rank in a data-parallel run (0 alone); only rank 0 writes the run folder, so the
  /// paths above are empty on the others.
  int rank = 0;
  /// The stop signal (SIGHUP 1, SIGINT 2, SIGTERM 15) that ended an interrupted data-parallel run on whichever
  /// rank received it, for the exit code of the ranks that stopped with it; 0 otherwise.
  int stop_signal = 0;
};

/// Runner options that are not part of the saved configuration.
struct TrainOptions {
  int interactive = -1;  ///< progress line: -1 = if stderr is a terminal, 0 = plain lines, 1 = always
  std::string events;    ///< JSON Lines progress events (docs/events.md): "" = off, "-" = stdout, else a file
  /// Lines about the configuration that the run-start log shows as "note: TEXT" (e.g. keys the input type
  /// does not read: resolve_config_flags' notes).
  std::vector<std::string> notes;
  /// Continue from this checkpoint (find_resume_point; config checked by check_resume_config):
  /// weights, optimiser and RNG states are restored and iterations continue after its iteration.
  std::optional<ResumePoint> resume;
  /// Checked after every training step (e.g. set by a SIGINT handler). Once true, the run stops:
  /// it keeps the checkpoint of the last completed iteration if one is on disk in the run folder,
  /// else writes one (inside an iteration: named with kInterruptedLabel, run_outputs.h), writes the
  /// manifest with status "interrupted", and returns with TrainSummary::interrupted set. Also checked
  /// once before the first step: set then (Ctrl-C during setup), nothing is trained or saved, the
  /// manifest gets status "interrupted" and TrainSummary::nothing_trained is set. Also checked after
  /// every batch of a test: the test ends early and the run ends as interrupted. nullptr = never.
  const std::atomic<bool>* stop_requested = nullptr;
  /// The signal number behind *stop_requested (shared with the other ranks of a data-parallel run so
  /// that all exit alike). nullptr = unknown.
  const std::atomic<int>* stop_signal = nullptr;
  /// The launcher's variables (launch_env()): with world_size > 1 the run joins a process group and
  /// trains data-parallel (docs/distributed.md); empty or world_size 1 = alone.
  std::optional<LaunchEnv> launch;
  /// Set to true while this rank waits for the others to form the process group (up to
  /// distributed.timeout), false once the group stands. Nothing is written before that point, so a stop
  /// signal handler may end the process at once while it is true. nullptr = not reported.
  std::atomic<bool>* joining = nullptr;
  /// Test hook: called after every training step that was used (1-based iteration and step), before
  /// *stop_requested is checked, e.g. to request a stop at an exact step. Empty = none.
  std::function<void(int64_t iteration, int64_t step)> after_step;
  /// Test hook: called after every batch of a test during training (the test's iteration and the
  /// 1-based batch), before *stop_requested is checked, e.g. to request a stop inside a test. Empty = none.
  std::function<void(int64_t iteration, int64_t batch)> after_test_batch;
};

/// Trains the model the configuration asks for (data.input_type: paired -> pix2pix, multiple_unpaired
/// -> CycleGAN) through the one training loop (train/training_loop.h): creates the run folder
/// (config.toml, train.log, outputs.json), decodes the data, and runs train.max_iterations iterations,
/// writing checkpoints at output.model_path every model_save_rate iterations and at the last, testing
/// every test.frequency iterations (stopping early once test.target_ssim is reached; the final outputs
/// are still written), ONNX files and plots. `config` must already be validated. Throws Error on data,
/// write or divergence problems (after an "error" event and a "failed" manifest; a new run that fails
/// before its first iteration completes removes the folder it made instead and says so, docs/reliability.md).
/// A non-finite loss or weight stops the run before anything is saved, so the checkpoints already
/// written stay the last good ones; NaN/inf weights are never written.
TrainSummary train(const RunConfig& config, const TrainOptions& options = {});

/// train() for a paired (pix2pix) model: a U-Net generator and a PatchGAN discriminator on
/// {input, reference} pairs. Throws DataError for unpaired data (no pairs).
TrainSummary train_pix2pix(const RunConfig& config, const TrainOptions& options = {});

/// train() for an unpaired (CycleGAN) model (data.input_type = multiple_unpaired): an iteration covers
/// the larger domain while the smaller one is sampled at random (train.seed); checkpoints are
/// {network} x {index} (four files per save), ONNX files both generators ({index} 0 and 1); tests
/// report the mean cycle-reconstruction SSIM of both directions. Throws ConfigError for other input
/// types, CheckpointError for a paired resume point.
TrainSummary train_cycle_gan(const RunConfig& config, const TrainOptions& options = {});


}  // namespace img2img

#pragma once
// outputs.json: every file a run wrote, the analogue of the Houdini node's work-item outputs.
// Format: docs/events.md ("Outputs manifest").

#include <nlohmann/json.hpp>  // nlohmann::json

#include <atomic>      // std::atomic
#include <filesystem>  // std::filesystem::path
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/config/run_config.h"

namespace img2img {

class EventLog;

/// One file in the manifest.
struct OutputEntry {
  std::string kind;     ///< "checkpoint", "checkpoint_meta" (its .json), "checkpoint_state" (its .optim.pt), "onnx", "test_image", "plot" or "report" (report.html)
  std::string path;     ///< absolute path
  std::string network;  ///< "generator", "discriminator"; test images: "input", "generated", "reference"; plots: "ssim", "loss", "score"
  int64_t index = 0;    ///< network index (0 for pix2pix; CycleGAN: 0 = A->B, 1 = B->A); test images: sample index
  int64_t iteration = 0;  ///< iteration the file holds (plots: the last iteration plotted)
};

/// `path` (absolute) rebased from folder `written_in` to `lies_in`: a path below `written_in` becomes the
/// same relative path below `lies_in`; any other path (or an empty `written_in`) is returned unchanged.
/// E.g. ("/r/a/checkpoints/g.pt", "/r/a", "/r/b") -> "/r/b/checkpoints/g.pt". Lexical (no file access).
std::string rebase_path(const std::string& path, const std::filesystem::path& written_in,
                        const std::filesystem::path& lies_in);

/// The entries of an earlier run's manifest `path` (outputs.json) for iterations <= `up_to_iteration`,
/// in their order: what a --resume continuation keeps. Paths below the folder the manifest was written
/// in (its "run_dir") are rebased to the folder it lies in now (rebase_path), so a moved or copied run
/// folder lists its own files, never the original's. A missing file gives none; a damaged one throws
/// DataError naming it.
std::vector<OutputEntry> read_manifest_entries(const std::filesystem::path& path, int64_t up_to_iteration);

/// How a run that ended early (failed, interrupted, killed) can go on, judged from its manifest's entries.
enum class RunRestart {
  kResume,        ///< a listed checkpoint has its training state beside it: `img2img train --resume RUN_DIR`
  kNotResumable,  ///< checkpoints are listed, none with its training state (killed while writing the first)
  kNoCheckpoint,  ///< none listed: nothing to resume; a new run may reuse the folder (the same command)
};

/// The RunRestart of a run folder whose manifest lists `entries` (read_manifest_entries: paths as they lie
/// now). Looks on disk for each listed checkpoint and its training state (X.pt -> X.optim.pt). An entry
/// of kind "checkpoint" without a path (standing for an unreadable manifest) counts as resumable.
RunRestart run_restart(const std::vector<OutputEntry>& entries);

/// Lists `entry` in the manifest file `path` (outputs.json) outside a run, for files made later by
/// another command (`img2img report`). Its path is stored relative to the manifest's "run_dir", like
/// every other entry (rebase_path); an entry of the same file is replaced; the other entries and fields
/// stay; `listed_kinds` gains the kind. Rewritten atomically, and only when it changes: returns whether
/// it did. The caller makes sure no run writes the manifest meanwhile (run/run_lock.h). Throws
/// DataError when the file is missing or damaged, WriteError when it cannot be written.
bool list_in_manifest_file(const std::filesystem::path& path, const OutputEntry& entry);

/// The outputs manifest of a run. add() lists a file (when its kind's add_*_outputs toggle is on),
/// emits a "file" event, and rewrites the manifest atomically. Kinds and their toggles:
/// checkpoint, checkpoint_meta, checkpoint_state <- output.add_model_outputs, onnx <- output.add_onnx_outputs, test_image <-
/// test.add_outputs (the latest test's images only: a test's images replace the earlier tests'), plot and
/// report <- always. Example: `manifest.add("onnx", path, "generator", 0, it);`
class OutputsManifest {
 public:
  /// Writes `<run_dir>/outputs.json` at once (status "running", listing `earlier`: a resumed run's
  /// entries from read_manifest_entries, no event emitted for them). `events` may be null.
  /// Throws WriteError if it cannot be written.
  OutputsManifest(const std::filesystem::path& run_dir, const RunConfig& config, EventLog* events = nullptr,
                  std::vector<OutputEntry> earlier = {});
  /// The newest manifest constructed is the process's live one (abort_live) until it is destroyed.
  ~OutputsManifest();
  OutputsManifest(const OutputsManifest&) = delete;
  OutputsManifest& operator=(const OutputsManifest&) = delete;

  /// Records a written file. A path already listed (a rewritten plot) is updated, not repeated.
  /// Throws ConfigError for an unknown kind, WriteError if the manifest cannot be written.
  void add(const std::string& kind, const std::filesystem::path& path, const std::string& network, int64_t index,
           int64_t iteration);
  /// Whether files of `kind` are listed (its add_*_outputs toggle).
  bool listed(const std::string& kind) const;
  /// Sets the run's final state: status "finished", "stopped_early" or "failed", the reason (or
  /// error message) and the iterations completed; rewrites the manifest.
  void finish(const std::string& status, const std::string& reason, int64_t iterations);
  /// The iterations completed so far: what abort_live writes (the file says 0 until finish()).
  void set_completed(int64_t iterations) { completed_ = iterations; }

  /// For a run that must exit at once (a second Ctrl-C): if the live manifest still says "running",
  /// rewrites it with status "interrupted", `reason` and the iterations completed (set_completed), and
  /// writes nothing more afterwards. Waits at most `wait_seconds` for a write in progress; returns
  /// whether it wrote. Throws nothing (called on the way out; a failed write leaves the old file).
  static bool abort_live(const std::string& reason, double wait_seconds = 2.0);

  const std::vector<OutputEntry>& entries() const { return entries_; }
  const std::filesystem::path& path() const { return path_; }

 private:
  void write() const;

  std::filesystem::path path_, run_dir_;
  nlohmann::json toggles_;
  std::vector<OutputEntry> entries_;
  std::string status_ = "running", reason_;
  int64_t iterations_ = 0;
  std::atomic<int64_t> completed_{0};  // set by the training thread, read by abort_live's
  bool sealed_ = false;  // abort_live wrote the final state: no more writes
  EventLog* events_ = nullptr;
};

}  // namespace img2img

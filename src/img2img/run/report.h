#pragma once
// The run report: RUN_DIR/report.html, one page that shows whether a run is working, getting better
// and what it produces (status, curves, test images, outputs). It is built only from what is in the
// run folder (config.toml, outputs.json, train.log, plots/*.csv, the test images), so it can be
// (re)written for any run folder, including runs made before it existed (`img2img report RUN_DIR`),
// and RunWriter rewrites it while a run goes (run/run_writer.h).
//
// Works from file:// without network: the data is inlined, the charts are inline SVG drawn by
// gnuplot's svg terminal (Debian gnuplot-nox), the previews of 16-bit and float images are PNGs under
// RUN_DIR/report/ (run/report_preview.h), and the test images are linked by relative paths.

#include <cstddef>     // size_t
#include <cstdint>     // int64_t
#include <filesystem>  // std::filesystem::path
#include <string>      // std::string
#include <vector>      // std::vector

namespace img2img {

/// Name of the page inside a run folder.
inline constexpr const char* kReportFileName = "report.html";
/// Folder (inside the run folder) of the page's previews and its cache.
inline constexpr const char* kReportFilesFolder = "report";
/// Most tested iterations the gallery offers (the latest, the first and evenly spread ones between).
inline constexpr int kReportGalleryIterations = 12;

/// Series longer than this are drawn as plain lines, shorter ones with a mark per point.
inline constexpr size_t kReportMarkedPoints = 100;

/// What write_run_report did.
struct ReportResult {
  std::filesystem::path path;        ///< RUN_DIR/report.html
  std::vector<std::string> notes;    ///< parts it could not show and why (also shown on the page)
  int64_t iteration = 0;             ///< the last iteration the page shows (completed iterations)
};

/// (Re)writes `<run_dir>/report.html` atomically (write_file_atomic: a reader sees the old page or
/// the new one) from the files in `run_dir`; previews and their cache go to `<run_dir>/report/`.
/// Missing or damaged parts (no gnuplot, a malformed CSV, an unreadable test image) become notes
/// on the page instead of errors. While outputs.json says "running" and a process holds the run
/// folder's lock (run/run_lock.h), the page reloads itself, until it has not been rewritten for 3 times
/// its expected rewrite interval (a killed run): then it says so and stops; otherwise it does not reload.
/// Throws DataError when `run_dir` is empty, a file, missing or not a run folder (none of config.toml,
/// outputs.json, train.log), WriteError when the page cannot be written (also: report.html is a folder).
ReportResult write_run_report(const std::filesystem::path& run_dir);

/// What list_report_in_outputs did.
enum class ReportListing {
  kListed,         ///< outputs.json lists the page now (an entry added, or its iteration updated)
  kAlreadyListed,  ///< outputs.json listed it at that iteration already; nothing written
  kNoManifest,     ///< the folder has no outputs.json; nothing written
  kLiveRun,        ///< a training process holds the folder; it lists the page itself; nothing written
};

/// For `img2img report` (a run lists its page itself, run/run_writer.h): lists `<run_dir>/report.html`
/// in the folder's outputs.json (kind "report", network "report", index 0, `iteration`) as a run does,
/// e.g. for a run made before the report existed. Only while no process holds the run folder: it takes
/// the folder's run lock (run/run_lock.h) for the rewrite, which is atomic and keeps everything else.
/// Throws DataError when outputs.json is damaged, WriteError when it or the lock cannot be written.
ReportListing list_report_in_outputs(const std::filesystem::path& run_dir, int64_t iteration);

}  // namespace img2img

#include <cstdio>      // std::fprintf
#include <iostream>    // std::cout
#include <memory>      // std::make_shared

#include "img2img/cli/commands.h"
#include "img2img/core/error.h"
#include "img2img/run/report.h"

namespace img2img::cli {

Command setup_report(CLI::App& app) {
  CLI::App* sub = app.add_subcommand("report", "(Re)write RUN_DIR/report.html, the run's page, and print its path");
  sub->footer("The page shows the run's status, curves, test images and outputs, from the files in the run\n"
              "folder only (config.toml, outputs.json, train.log, plots/*.csv, test images); it works from\n"
              "file:// without network. Training writes it by itself; this command is for runs made before it\n"
              "existed, or to refresh one. Previews of 16-bit and float images go to RUN_DIR/report/.\n"
              "outputs.json lists the page (kind \"report\"), unless a training run holds the folder: that run\n"
              "lists it itself.");
  auto dir = std::make_shared<std::string>();
  sub->add_option("RUN_DIR", *dir, "a run folder (output.run_dir of a training run)")->required();
  return {sub, [dir] {
            const ReportResult r = write_run_report(*dir);
            // Through C stdio: main mutes std::cerr while a command runs (OpenCV's decoder chatter).
            for (const std::string& n : r.notes) std::fprintf(stderr, "note: %s\n", n.c_str());
            // The page is written; a manifest that cannot take it is a note, not a failed command.
            try {
              if (list_report_in_outputs(*dir, r.iteration) == ReportListing::kLiveRun)
                std::fprintf(stderr, "note: a training run holds %s; it lists report.html in outputs.json itself\n",
                             dir->c_str());
            } catch (const Error& e) {
              std::fprintf(stderr, "note: report.html is not listed in outputs.json: %s\n", e.what());
            }
            std::cout << r.path.string() << "\n";
            return 0;
          }};
}

}  // namespace img2img::cli

// img2img: command-line entry point. Parses arguments, dispatches to a subcommand, and is the only
// place that prints errors and chooses the exit code (0 ok, 1 user error, including a bad or
// missing value of a known flag, and an unknown subcommand, 2 internal error, 100+ other command-line syntax, as CLI11; `train` stopped by SIGHUP/SIGINT/SIGPIPE/SIGTERM: 129/130/141/143 after writing a
// checkpoint, 3 when a second signal aborted it at once, see cmd_train.cpp).

#include <CLI/App.hpp>     // CLI::App
#include <CLI/Config.hpp>  // CLI11 config support (header-only parts)
#include <CLI/Formatter.hpp>
#include <c10/util/Exception.h>  // c10::Error
#include <opencv2/core/utils/logger.hpp>  // cv::utils::logging::setLogLevel

#include <signal.h>    // sigprocmask, SIGHUP, SIGINT, SIGTERM

#include <cstdio>      // std::fprintf
#include <cstdlib>     // std::getenv, std::malloc
#include <unistd.h>    // execve
#include <filesystem>  // std::filesystem::filesystem_error
#include <iostream>    // std::cerr
#include <string>      // std::string
#include <vector>      // std::vector

#include "img2img/cli/commands.h"
#include "img2img/cli/flag_values.h"
#include "img2img/core/error.h"
#include "img2img/core/runtime.h"

namespace {

// The stop signals of `train` (cmd_train.cpp). They are blocked across the OpenMP re-exec below: the
// mask and any pending signal survive execve, so one sent while the libraries are loaded again waits
// until the final image has its handlers (early_start), instead of killing the process with nothing
// said. Which of them this process blocked (not the ones it started with blocked) travels to the final
// image as kUnblockSignalsVar=NUMBER,NUMBER,... .
constexpr int kStopSignals[] = {SIGHUP, SIGINT, SIGTERM};
constexpr char kUnblockSignalsVar[] = "IMG2IMG_UNBLOCK_SIGNALS";

// The value of the environment entry `entry` ("NAME=value") when its name is `name`, else nullptr; the
// first such value in `envp`. Plain comparisons: libc is not initialised.
const char* value_of(const char* entry, const char* name) {
  while (*name != '\0' && *entry == *name) ++entry, ++name;
  return *name == '\0' && *entry == '=' ? entry + 1 : nullptr;
}
const char* env_value(char** envp, const char* name) {
  for (char** e = envp; e != nullptr && *e != nullptr; ++e)
    if (const char* v = value_of(*e, name); v != nullptr) return v;
  return nullptr;
}

// LibTorch's OpenMP (libgomp) threads poll while they wait; beside another CPU-heavy program they burn
// the time slices of the threads they wait for (issue 16: ~25x slower). libgomp reads GOMP_SPINCOUNT once,
// in its constructor before main, so a setenv in main changes nothing; and in the executable's
// .preinit_array (which runs before every library's constructor) a setenv is lost, because libc's own
// initialiser, which runs after it, resets `environ` to the original array. So: when the user chose no
// wait policy, re-execute this executable once with GOMP_SPINCOUNT = omp_spin_count_for(subcommand) added,
// and kOmpSpinCountMarker with the same value, which tells it from a user's GOMP_SPINCOUNT later (a fixed
// thread count is warned about only when the poll is ours) and stops the loop (cost: loading the shared
// libraries again, before any of their constructors ran). Only malloc, sigprocmask and execve: libc is not
// fully initialised here. If execve fails, run on with libgomp's default (and the signal mask as it was).
// Only the subcommands that run LibTorch's OpenMP loops re-execute (train, infer, export, ssim, dataset);
// `config`, `--help`, `--version` and a mistyped subcommand start once.
void set_omp_wait_early(int argc, char** argv, char** envp) {
  if (argv == nullptr || argc < 2 || img2img::omp_wait_chosen_by_user(envp) || img2img::omp_wait_set_by_img2img(envp))
    return;
  const char* spin = img2img::omp_spin_count_for(argv[1]);
  if (spin == nullptr) return;
  size_t n = 0;
  while (envp != nullptr && envp[n] != nullptr) ++n;
  char** env = static_cast<char**>(std::malloc((n + 4) * sizeof(char*)));
  if (env == nullptr) return;
  static char entry[64], marker[64], unblock[64];
  const auto assign = [](char* out, size_t size, const char* name, const char* value) {  // "NAME=value"
    size_t at = 0;
    for (const char* c = name; *c != '\0' && at + 2 < size; ++c) out[at++] = *c;
    out[at++] = '=';
    for (const char* c = value; *c != '\0' && at + 1 < size; ++c) out[at++] = *c;
    out[at] = '\0';
  };
  assign(entry, sizeof entry, "GOMP_SPINCOUNT", spin);
  assign(marker, sizeof marker, img2img::kOmpSpinCountMarker, spin);
  sigset_t stop, before;
  sigemptyset(&stop);
  for (const int sig : kStopSignals) sigaddset(&stop, sig);
  if (::sigprocmask(SIG_BLOCK, &stop, &before) != 0) sigfillset(&before);  // then the final image unblocks none
  char numbers[32];
  size_t at = 0;
  for (const int sig : kStopSignals)
    if (sigismember(&before, sig) == 0) {
      if (sig >= 10) numbers[at++] = static_cast<char>('0' + sig / 10);
      numbers[at++] = static_cast<char>('0' + sig % 10);
      numbers[at++] = ',';
    }
  numbers[at] = '\0';
  assign(unblock, sizeof unblock, kUnblockSignalsVar, numbers);
  size_t k = 0;
  for (size_t i = 0; i < n; ++i)  // an inherited kUnblockSignalsVar is not this process's
    if (value_of(envp[i], kUnblockSignalsVar) == nullptr) env[k++] = envp[i];
  env[k] = entry;
  env[k + 1] = marker;
  env[k + 2] = unblock;
  env[k + 3] = nullptr;
  ::execve("/proc/self/exe", argv, env);
  ::sigprocmask(SIG_SETMASK, &before, nullptr);
  std::free(env);
}

// In the final image, right after `train`'s handlers are installed: unblocks the stop signals that the
// first image blocked for its re-exec (kUnblockSignalsVar), whatever the subcommand (without a handler, a
// signal that came meanwhile then ends the process as it would have). `train` blocks them again on its
// training threads later (take_stop_signals_on_own_thread, cmd_train.cpp). Only in an image that
// img2img's re-exec started (a kUnblockSignalsVar inherited otherwise is not this process's).
void unblock_stop_signals(char** envp) {
  const char* numbers = env_value(envp, kUnblockSignalsVar);
  if (numbers == nullptr || !img2img::omp_wait_set_by_img2img(envp)) return;
  sigset_t set;
  sigemptyset(&set);
  for (int sig = 0; *numbers != '\0'; ++numbers)
    if (*numbers >= '0' && *numbers <= '9') {
      sig = sig * 10 + (*numbers - '0');
    } else {
      for (const int s : kStopSignals)
        if (s == sig) sigaddset(&set, sig);
      sig = 0;
    }
  ::sigprocmask(SIG_UNBLOCK, &set, nullptr);
}
// The one .preinit_array entry (glibc calls it with (argc, argv, envp) before any DT_INIT): the
// OpenMP re-exec first (it does not return when it re-executes), then `train`'s stop handlers, which
// an execve would reset, in the image that runs, then the stop signals unblocked.
void early_start(int argc, char** argv, char** envp) {
  set_omp_wait_early(argc, argv, envp);
  img2img::cli::install_stop_handlers_for_train(argc, argv, envp);
  unblock_stop_signals(envp);
}
__attribute__((section(".preinit_array"), used)) void (*const kEarlyStart)(int, char**, char**) = early_start;

/// CLI11 treats `--name=` (nothing after '=') like `--name` and takes the NEXT argument as its value.
/// Rewrites each such argument before a bare `--` into `--name` followed by an explicit empty value,
/// so `--output.onnx_path=` means "" and never swallows the next flag.
std::vector<std::string> split_empty_assignments(int argc, char** argv) {
  std::vector<std::string> args;
  bool options_end = false;
  for (int i = 0; i < argc; ++i) {
    const std::string a = argv[i];
    if (a == "--") options_end = true;
    if (i > 0 && !options_end && a.size() > 3 && a.rfind("--", 0) == 0 && a.back() == '=' &&
        a.find('=') == a.size() - 1) {
      args.push_back(a.substr(0, a.size() - 1));
      args.emplace_back();
    } else {
      args.push_back(a);
    }
  }
  return args;
}

}  // namespace

int main(int argc, char** argv) {
  // OpenCV's [ WARN ] lines would leak to the terminal; img2img reports problems itself (DataError
  // naming the file). OPENCV_LOG_LEVEL set by the user (e.g. =INFO for debugging) still wins.
  if (std::getenv("OPENCV_LOG_LEVEL") == nullptr)
    cv::utils::logging::setLogLevel(cv::utils::logging::LOG_LEVEL_SILENT);
  CLI::App app{"img2img: train image-to-image GANs (pix2pix, or CycleGAN from unpaired folders) and export them to ONNX"};
  app.set_version_flag("--version", std::string("img2img ") + IMG2IMG_VERSION);
  app.require_subcommand(1);
  app.fallthrough(false);
  const std::vector<img2img::cli::Command> commands{
      img2img::cli::setup_train(app),  img2img::cli::setup_config(app),  img2img::cli::setup_infer(app),
      img2img::cli::setup_export(app), img2img::cli::setup_dataset(app), img2img::cli::setup_ssim(app),
      img2img::cli::setup_report(app)};
  img2img::cli::reject_flags_as_values(app);
  try {
    const std::vector<std::string> args = split_empty_assignments(argc, argv);
    if (const std::string unknown = img2img::cli::unknown_subcommand_message(app, args); !unknown.empty()) {
      std::cerr << "error: " << unknown << "\n";  // a usage error like a bad flag value (exit 1)
      return 1;
    }
    std::vector<const char*> arg_ptrs;
    for (const auto& a : args) arg_ptrs.push_back(a.c_str());
    app.parse(static_cast<int>(arg_ptrs.size()), arg_ptrs.data());
  } catch (const img2img::cli::FlagValueError& e) {
    // A bad value of a known flag is a user error (exit 1), like a bad config value.
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const CLI::ArgumentMismatch& e) {
    const std::string flag = img2img::cli::flag_missing_its_value(e.what());
    if (flag.empty()) return app.exit(e);
    std::cerr << "error: " << flag << " needs a value; give it after " << flag << " (or write " << flag
              << "=VALUE)\n";
    return 1;
  } catch (const CLI::ConversionError& e) {
    // Options without an expect_* check: still one error line and exit 1.
    std::cerr << "error: " << e.what() << "; see --help for the values this flag takes\n";
    return 1;
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    // OpenCV's image decoders print their failures to std::cerr ("imread_('x'): can't read data:
    // ..."), a raw library line before our own error naming the file. img2img's own output goes
    // through C stdio (train/progress.cpp), so std::cerr is muted while a command runs and restored
    // (by MutedCerr's destructor, before any handler below prints) on the way out.
    struct MutedCerr {
      std::streambuf* saved = nullptr;
      MutedCerr() {
        if (std::getenv("OPENCV_LOG_LEVEL") == nullptr) saved = std::cerr.rdbuf(nullptr);
      }
      ~MutedCerr() {
        if (saved != nullptr) std::cerr.rdbuf(saved);  // also clears the badbit a null buffer set
      }
      MutedCerr(const MutedCerr&) = delete;
      MutedCerr& operator=(const MutedCerr&) = delete;
    } muted;
    for (const auto& command : commands)
      if (command.app->parsed()) return command.run();
    return 0;
  } catch (const img2img::Error& e) {
    std::cerr << "error: " << e.what() << "\n";
    return 1;
  } catch (const std::filesystem::filesystem_error& e) {
    // A folder or file the user named cannot be created or read (e.g. an unwritable --output).
    std::cerr << "error: " << e.what() << ". Check that the path exists and is writable, or choose another.\n";
    return 1;
  } catch (const c10::Error& e) {
    std::cerr << "internal error: " << e.what_without_backtrace() << "\n";
    return 2;
  } catch (const std::exception& e) {
    std::cerr << "internal error: " << e.what() << "\n";
    return 2;
  }
}

#include <fmt/format.h>  // fmt::format

#include <pthread.h>    // pthread_sigmask
#include <semaphore.h>  // sem_t, sem_post, sem_wait
#include <signal.h>     // sigaction
#include <unistd.h>     // write, _exit

#include <atomic>      // std::atomic
#include <chrono>      // std::chrono
#include <cstdio>      // std::fputs, stderr
#include <cstdlib>     // std::getenv
#include <filesystem>  // std::filesystem::path
#include <iostream>    // std::cout
#include <thread>      // std::thread

#include "img2img/cli/commands.h"
#include "img2img/cli/config_flags.h"
#include "img2img/cli/flag_values.h"
#include "img2img/config/config_keys.h"
#include "img2img/core/error.h"
#include "img2img/core/path_template.h"  // shell_quote
#include "img2img/config/unpaired_defaults.h"
#include "img2img/run/outputs_manifest.h"
#include "img2img/run/report.h"
#include "img2img/train/trainer.h"
#include "img2img/train/training_state.h"

namespace img2img::cli {

namespace {
std::atomic<bool> g_stop_requested{false};
std::atomic<int> g_stop_signal{0};
std::atomic<int> g_stop_signals{0};  // how many stop signals arrived
// True while a data-parallel rank waits for the others (TrainOptions::joining): nothing is written yet, so
// a stop signal then ends the process at once (there is no step to finish).
std::atomic<bool> g_joining{false};
// How the stop-signal messages start: "\nimg2img: " for a run alone and rank 0, "\nimg2img (rank N): " for
// a data-parallel rank N > 0 (RANK), so that a Ctrl-C that reaches every rank (torchrun) tells rank 0's
// full message from the others' one-line notes. Set with plain stores only (it also runs before libc
// is initialised); read by the handler.
char g_who[48] = "\nimg2img: ";
std::atomic<bool> g_other_rank{false};

void set_who(const char* rank) {
  bool other = false;
  for (const char* c = rank; c != nullptr && *c != '\0'; ++c) other = other || *c != '0';
  g_other_rank.store(other);
  if (!other) return;
  static const char kHead[] = "\nimg2img (rank ";
  size_t n = 0;
  for (size_t i = 0; kHead[i] != '\0'; ++i) g_who[n++] = kHead[i];
  for (const char* c = rank; *c != '\0' && n + 4 < sizeof g_who; ++c) g_who[n++] = *c;
  g_who[n++] = ')';
  g_who[n++] = ':';
  g_who[n++] = ' ';
  g_who[n] = '\0';
}

// Writes g_who, then `text`, to stderr in one write (async-signal-safe): the ranks of a data-parallel run
// often share one stderr (torchrun's), and two writes each let their prefixes and texts interleave
// ("img2img: \nimg2img (rank 1): stop requested; finishing ..."). A failed write (EIO from a terminal
// that has gone, EPIPE) is ignored.
void say(const char* text, size_t size) {
  char line[1024];
  size_t n = 0;
  for (size_t i = 0; g_who[i] != '\0' && n < sizeof line; ++i) line[n++] = g_who[i];
  for (size_t i = 0; i < size && n < sizeof line; ++i) line[n++] = text[i];
  const ssize_t ignored = ::write(STDERR_FILENO, line, n);
  (void)ignored;
}
// The second signal wakes the abort thread (watch_for_abort), which marks outputs.json interrupted
// and exits; before that thread runs (or from a third signal on) the handler exits by itself.
sem_t g_abort_semaphore;
std::atomic<bool> g_abort_thread_ready{false};

// Exit code of a run aborted by a second SIGINT/SIGTERM: outputs.json says "interrupted" but nothing
// else was written, unlike the clean stop (128 + signal, with a checkpoint). docs/reliability.md.
constexpr int kExitAborted = 3;

const char* signal_name(int sig) {
  return sig == SIGTERM ? "SIGTERM" : sig == SIGHUP ? "SIGHUP" : sig == SIGPIPE ? "SIGPIPE" : "SIGINT";
}

// SIGINT/SIGTERM/SIGHUP/SIGPIPE: the first asks train() to stop after the current step
// (checkpoint + manifest, exit 128 + signal); a second SIGINT/SIGTERM exits at once with kExitAborted.
// A SIGHUP (or SIGPIPE) after the first signal does nothing: a closed terminal sends it twice to the job in the
// foreground (the interactive shell forwards its own, and the kernel sends one more when the shell
// exits), and the terminal's user cannot have meant "abort". Only async-signal-safe calls here.
extern "C" void on_stop_signal(int sig) {
  if (g_joining.load()) {
    static const char kJoining[] =
        "stopped while waiting for the other processes of the data-parallel group; nothing was trained or written\n";
    say(kJoining, sizeof kJoining - 1);
    ::_exit(128 + sig);
  }
  if ((sig == SIGHUP || sig == SIGPIPE) && g_stop_signals.load() > 0) return;
  const int count = g_stop_signals.fetch_add(1) + 1;
  if (count > 1) {
    static const char kAbort[] =
        "second stop signal: exiting at once (exit code 3) without a checkpoint; outputs.json (once the "
        "run has one) says interrupted (a file being written stays a *.tmpPID and is ignored). If the run folder holds a "
        "checkpoint, resume with img2img train --resume RUN_FOLDER (it starts from the newest complete one); "
        "otherwise run the same command again\n";
    if (count == 2) {
      g_stop_signal.store(sig);
      say(kAbort, sizeof kAbort - 1);
      if (g_abort_thread_ready.load()) {
        ::sem_post(&g_abort_semaphore);
        return;
      }
    }
    ::_exit(kExitAborted);
  }
  g_stop_signal.store(sig);
  g_stop_requested.store(true);
  // The reader of stdout (`| tee`, a pager) may be gone with the terminal: a write to a closed pipe then
  // fails with EPIPE (ignored, like EIO from a hung-up terminal) instead of killing the stop by SIGPIPE.
  struct sigaction ignore {};
  ignore.sa_handler = SIG_IGN;
  sigemptyset(&ignore.sa_mask);
  ::sigaction(SIGPIPE, &ignore, nullptr);
  static const char kMessage[] =
      "stop requested; finishing the current step and writing a checkpoint "
      "(send the signal again to exit at once, without a checkpoint)\n";
  // A rank > 0 says it in one line: the group stops together and rank 0 announces the checkpoint.
  static const char kOtherRank[] = "stop requested; the group stops after the current step, rank 0 writes the checkpoint\n";
  // A repeated SIGHUP does nothing (above): the way to abort is another signal.
  static const char kHangupMessage[] =
      "stop requested (SIGHUP); finishing the current step and writing a checkpoint "
      "(SIGINT or SIGTERM exits at once, without a checkpoint)\n";
  static const char kPipeMessage[] =
      "stop requested (SIGPIPE: the program reading this output has exited); finishing the current step and "
      "writing a checkpoint (train.log keeps every line; SIGINT or SIGTERM exits at once, without a checkpoint)\n";
  if (g_other_rank.load())
    say(kOtherRank, sizeof kOtherRank - 1);
  else if (sig == SIGHUP)
    say(kHangupMessage, sizeof kHangupMessage - 1);
  else if (sig == SIGPIPE)
    say(kPipeMessage, sizeof kPipeMessage - 1);
  else
    say(kMessage, sizeof kMessage - 1);
}

// The abort thread: waits for the second stop signal, then sets outputs.json's status to "interrupted"
// (at most ~2 s; a third signal exits at once) and exits with kExitAborted.
void watch_for_abort() {
  sigset_t mask;  // the handler runs on another thread
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  ::pthread_sigmask(SIG_BLOCK, &mask, nullptr);
  while (::sem_wait(&g_abort_semaphore) != 0) {
  }
  OutputsManifest::abort_live(fmt::format("a second stop signal ({}) ended it at once: the iteration in progress "
                                          "was not saved",
                                          signal_name(g_stop_signal.load())));
  ::_exit(kExitAborted);
}

void start_abort_thread() {
  if (g_abort_thread_ready.load()) return;
  if (::sem_init(&g_abort_semaphore, 0, 0) != 0) return;  // the handler then exits by itself
  std::thread(watch_for_abort).detach();
  g_abort_thread_ready.store(true);
}

// The thread that takes SIGINT/SIGTERM/SIGHUP once training may start: every other thread blocks them (the
// training thread blocks them before it starts OpenMP, oneDNN or Gloo threads, which inherit its mask),
// so the kernel runs on_stop_signal on this idle thread only. A handler run on a training thread
// interrupted oneDNN's JIT sgemm kernels, which keep data below the stack pointer where the kernel
// writes the signal frame: a Ctrl-C in the first steps aborted with "corrupted size vs. prev_size" or
// "free(): invalid pointer" (about 1 in 7 stops there). The handler's work is unchanged.
void take_stop_signals_on_own_thread() {
  static std::atomic<bool> started{false};
  if (started.exchange(true)) return;
  sigset_t mask;
  sigemptyset(&mask);
  sigaddset(&mask, SIGINT);
  sigaddset(&mask, SIGTERM);
  sigaddset(&mask, SIGHUP);
  std::thread([mask] {
    ::pthread_sigmask(SIG_UNBLOCK, &mask, nullptr);
    for (;;) ::pause();  // returns after each handled signal
  }).detach();
  ::pthread_sigmask(SIG_BLOCK, &mask, nullptr);  // this thread and the threads it starts from now on
}

void install_stop_handlers() {
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  // SIGHUP (terminal closed, ssh dropped) stops like SIGTERM, unless it was ignored when the process
  // started (nohup, a launcher that ignores it): then it stays ignored. The handler itself is never
  // SIG_IGN, so this also holds when called again.
  struct sigaction hangup {};
  if (::sigaction(SIGHUP, nullptr, &hangup) == 0 && hangup.sa_handler != SIG_IGN) ::sigaction(SIGHUP, &action, nullptr);
  // SIGPIPE (the reader of stdout/stderr exited: `| head`, a closed log viewer) stops like SIGHUP, exit 141:
  // by default it killed the run in the middle of a step, leaving outputs.json "running". It is raised on
  // the thread that wrote (the training thread, in write(), never inside a oneDNN kernel), which does not
  // block it; the handler then ignores SIGPIPE, so later writes to the closed pipe fail quietly. Left
  // ignored when it was ignored at the start, and ignored by data-parallel ranks (setup_train).
  struct sigaction pipe {};
  if (::sigaction(SIGPIPE, nullptr, &pipe) == 0 && pipe.sa_handler != SIG_IGN) ::sigaction(SIGPIPE, &action, nullptr);
}

}  // namespace

// Installs the stop handlers when the subcommand (the first argument not starting with '-') is
// `train`. Runs from the executable's .preinit_array, i.e. before the static initialisers of the
// shared libraries: libtorch's operator registration alone takes ~0.4 s, and a Ctrl-C then would
// kill the process by the signal with nothing printed. A signal that early only sets
// g_stop_requested; the trainer sees it before its first step (nothing trained, status
// "interrupted", exit 129/130/143). Only plain comparisons and sigaction here (libc is not initialised).
// main.cpp unblocks the stop signals right after this (they are blocked across its OpenMP re-exec).
void install_stop_handlers_for_train(int argc, char** argv, char** envp) {
  for (int i = 1; i < argc && argv != nullptr && argv[i] != nullptr; ++i) {
    const char* a = argv[i];
    if (a[0] == '-') continue;
    if (a[0] == 't' && a[1] == 'r' && a[2] == 'a' && a[3] == 'i' && a[4] == 'n' && a[5] == '\0') {
      for (char** e = envp; e != nullptr && *e != nullptr; ++e) {
        const char* v = *e;
        if (v[0] == 'R' && v[1] == 'A' && v[2] == 'N' && v[3] == 'K' && v[4] == '=') set_who(v + 5);
      }
      install_stop_handlers();
    }
    return;
  }
}
// (Called from main.cpp's .preinit_array entry, after the OpenMP re-exec: signal handlers do not survive
// an execve, so they are installed in the process image that runs.)

Command setup_train(CLI::App& app) {
  CLI::App* sub = app.add_subcommand(
      "train", "Train a paired (pix2pix) or, with data.input_type = multiple_unpaired, an unpaired (CycleGAN) GAN");
  // The defaults shown per flag are the paired ones; unpaired runs start from unpaired_defaults().
  std::string unpaired_changes;
  const RunConfig paired, unpaired = unpaired_defaults();
  for (const ConfigKey& key : config_keys())
    if (key.name != "data.input_type" && key.get(paired) != key.get(unpaired))
      unpaired_changes += fmt::format("\n  {} = {}", key.name, key.get(unpaired));
  sub->footer("Every key of the TOML file is also a flag: --section.key=value (flags override the file).\n"
              "See docs/configuration.md and examples/*.toml.\n"
              "data.input_type = multiple_unpaired trains an unpaired (CycleGAN) model: generator 0 maps\n"
              "data.input_dir's domain to data.reference_dir's, generator 1 maps back. Its defaults differ\n"
              "(given values still win):" + unpaired_changes);
  auto flags = add_config_flags(sub);
  auto plain = std::make_shared<bool>(false);
  sub->add_flag("--plain-progress", *plain, "one log line per iteration even on a terminal");
  auto events = std::make_shared<std::string>();
  sub->add_option("--events", *events,
                  "write JSON Lines progress events (run start, iterations, tests, files, early stop, errors, "
                  "run end; docs/events.md) to FILE, or '-' for stdout");
  auto resume = std::make_shared<std::string>();
  // An empty value (`--resume=`, `--resume "$UNSET_VAR"`) is an error, never a fresh run.
  CLI::Option* resume_opt = expect_nonempty(
      sub->add_option("--resume", *resume,
                      "continue a run from RUN_FOLDER (its newest checkpoint) or a generator CHECKPOINT.pt: weights, "
                      "optimiser, schedule, iteration, RNG state and configuration are restored; --config files and flags "
                      "apply on top (e.g. a larger --train.max_iterations) but may not change the architecture"),
      "a run folder or checkpoint file", "runs/2024-05-01-1200");
  return {sub, [flags, plain, events, resume, resume_opt] {
            // Already installed before main (install_stop_handlers_for_train) unless the arguments
            // hid the subcommand from that scan; again first thing here, before the config is read.
            set_who(std::getenv("RANK"));
            install_stop_handlers();
            start_abort_thread();
            take_stop_signals_on_own_thread();
            TrainOptions options;
            RunConfig config;
            if (resume_opt->count() > 0 && resume->empty())  // in case CLI11 skips the validator
              throw FlagValueError(
                  empty_value_message("--resume", "a run folder or checkpoint file", "runs/2024-05-01-1200"));
            if (resume->empty()) {
              config = resolve_config_flags(*flags, {}, "", "", {}, &options.notes);
            } else {
              // The checkpoint's config first, then --config, then flags (resolve_config_flags' base).
              // Contradictions with the checkpoint are checked before validation, so they name the
              // key the user gave (data.input_type), where it was given, and both values, not a consequence of it.
              ResumePoint point = find_resume_point(*resume);
              const std::string origin = "checkpoint " + *resume;
              std::string paths_note;  // relative data paths of the checkpoint's config that do not exist here
              try {
                config = resolve_config_flags(
                    *flags, {}, point.config_toml, origin,
                    [&point, &paths_note, &origin](const RunConfig& c, const std::vector<ConfigAssignment>& a) {
                      paths_note = resume_relative_paths_note(a, origin);
                      check_resume_config(c, point, &a);
                    },
                    &options.notes);
              } catch (const ConfigError& e) {
                if (paths_note.empty()) throw;
                throw ConfigError(e.what() + paths_note);
              }
              options.resume = std::move(point);
            }
            if (*plain) options.interactive = 0;
            options.events = *events;
            options.stop_requested = &g_stop_requested;  // a stop before this point: nothing is trained
            options.stop_signal = &g_stop_signal;
            // RANK, WORLD_SIZE, ... of a launcher (torchrun, srun): a data-parallel run (docs/distributed.md).
            options.launch = launch_env();
            options.joining = &g_joining;
            // What a data-parallel rank waits for: rank 0 says it at once; the others (which otherwise print only
            // their errors) only when the group has not formed within 5 s. On stderr (stdout may carry
            // --events=-), through C stdio: main mutes std::cerr while a command runs.
            if (options.launch && options.launch->world_size > 1) {
              // A peer killed (kill -9, machine lost) closes its sockets; Gloo's and the TCPStore's next write
              // to it then raised SIGPIPE, which ended this rank silently with exit 141 (about 1 kill in 6
              // here) instead of the DistributedError that names the lost rank and the resume command. With
              // SIGPIPE ignored the write fails with EPIPE and Gloo reports it, as in Python, which ignores
              // SIGPIPE at startup. A closed stdout pipe then fails writes quietly; train.log still has them.
              struct sigaction ignore {};
              ignore.sa_handler = SIG_IGN;
              sigemptyset(&ignore.sa_mask);
              ::sigaction(SIGPIPE, &ignore, nullptr);
              const std::string line = fmt::format(
                  "data-parallel: rank {} of {} joining the group at {}:{} (waits for all {} processes to start: "
                  "up to 2 x distributed.timeout = {} s, first for the rendezvous store, then for the group; Ctrl-C "
                  "ends the wait)\n",
                  options.launch->rank, options.launch->world_size, options.launch->master_addr,
                  options.launch->master_port, options.launch->world_size, 2 * config.distributed.timeout);
              if (options.launch->rank == 0) {
                std::fputs(line.c_str(), stderr);
                std::fflush(stderr);
              } else {
                std::thread([line] {
                  // The join starts within milliseconds of train(); still joining 5 s later: say what it waits for.
                  std::this_thread::sleep_for(std::chrono::seconds(5));
                  if (!g_joining.load()) return;
                  std::fputs(line.c_str(), stderr);
                  std::fflush(stderr);
                }).detach();
              }
            }
            const TrainSummary s = train(config, options);
            // Interrupted runs exit 128 + signal (129 SIGHUP, 130 SIGINT, 143 SIGTERM), as shells report them; a
            // data-parallel rank stopped by a peer's signal exits as that peer.
            const int signal = g_stop_signal.load() != 0 ? g_stop_signal.load() : s.stop_signal;
            const int code = s.interrupted ? 128 + (signal != 0 ? signal : 2) : 0;
            // With events on stdout, stdout stays pure JSON Lines (run_end carries the same facts); the
            // ranks other than 0 of a data-parallel run print nothing (rank 0 reports for the group).
            if (*events == "-" || s.rank != 0) return code;
            // The run's page first: what to open (docs/report.md); absent only when it could not be written.
            std::error_code ec;
            if (const std::filesystem::path page = s.run_dir / kReportFileName;
                !s.run_dir.empty() && std::filesystem::is_regular_file(page, ec))
              std::cout << fmt::format("report: {}\n", page.string());
            std::cout << fmt::format("run folder: {}\n", s.run_dir.string());
            // One line per generator and ONNX file; an unpaired run has two of each ("generator 0 (A->B)").
            const bool unpaired = is_unpaired(config.data.input_type);
            const auto label = [unpaired](const char* what, size_t k, size_t count) {
              if (count < 2) return std::string(what);
              return fmt::format("{} {}{}", what, k, unpaired ? (k == 0 ? " (A->B)" : " (B->A)") : "");
            };
            if (!s.final_generators.empty())
              for (size_t k = 0; k < s.final_generators.size(); ++k)
                std::cout << fmt::format("{}: {}\n", label("generator", k, s.final_generators.size()),
                                         s.final_generators[k].string());
            else if (!s.final_generator.empty())  // a resumed run that saved nothing new
              std::cout << fmt::format("generator: {}\n", s.final_generator.string());
            for (size_t k = 0; k < s.final_onnx_files.size(); ++k)
              std::cout << fmt::format("{}: {}\n", label("onnx", k, s.final_onnx_files.size()),
                                       s.final_onnx_files[k].string());
            if (s.test_ssim)
              std::cout << fmt::format("{}: {:.4f}\n", unpaired ? "test cycle SSIM (reconstruction)" : "test SSIM",
                                       *s.test_ssim);
            // Below the run folder as the lines above name it (relative when output.run_dir or --resume is).
            std::cout << fmt::format("outputs: {}\n", (s.run_dir / s.outputs_manifest.filename()).string());
            if (s.stopped_early) std::cout << fmt::format("stopped early: {}\n", s.stop_reason);
            if (s.nothing_trained && resume->empty())  // the folder holds no model; it may be reused
              std::cout << fmt::format("{}: nothing was trained; run the same command again to train\n",
                                       s.stop_reason);
            else if (s.interrupted && config.output.model_path.empty())
              std::cout << fmt::format("{}; output.model_path is empty, so no checkpoint was written and the run "
                                       "cannot be resumed\n",
                                       s.stop_reason);
            else if (s.interrupted)
              std::cout << fmt::format("{}; resume with: img2img train --resume {}\n", s.stop_reason,
                                       shell_quote(s.nothing_trained ? *resume : s.run_dir.string()));
            // A stop writes no ONNX file (it may have to be quick: torchrun kills 30 s after a signal); say
            // how to get one of the weights just saved.
            if (s.interrupted && !s.nothing_trained && !config.output.onnx_path.empty() && s.final_onnx_files.empty())
              for (size_t k = 0; k < s.final_generators.size(); ++k) {
                const std::filesystem::path& g = s.final_generators[k];
                const std::filesystem::path onnx = s.run_dir / "onnx" / g.filename().replace_extension(".onnx");
                std::cout << fmt::format("{}ONNX of these weights: img2img export --checkpoint {} --output {}\n",
                                         k == 0 ? "no ONNX file is written on a stop; " : "",
                                         shell_quote(g.string()), shell_quote(onnx.string()));
              }
            return code;
          }};
}

}  // namespace img2img::cli

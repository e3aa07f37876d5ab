#include "img2img/run/outputs_manifest.h"

#include <fmt/format.h>  // fmt::format

#include <algorithm>  // std::remove_if
#include <chrono>     // std::chrono::duration
#include <mutex>      // std::timed_mutex, std::unique_lock

#include "img2img/core/atomic_file.h"
#include "img2img/core/error.h"
#include "img2img/run/event_log.h"
#include "img2img/run/resume_point.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {
// Guards every manifest write and g_live: abort_live (another thread) never interleaves with a write.
std::timed_mutex g_write_mutex;
OutputsManifest* g_live = nullptr;  // the newest manifest constructed and not yet destroyed

// An absolute folder without a trailing separator, normalised ("/a/b/./" -> "/a/b").
fs::path normal_dir(const fs::path& dir) {
  fs::path p = fs::absolute(dir).lexically_normal();
  return p.has_filename() || p == p.root_path() ? p : p.parent_path();
}
}  // namespace

std::string rebase_path(const std::string& path, const fs::path& written_in, const fs::path& lies_in) {
  if (written_in.empty()) return path;
  const fs::path from = normal_dir(written_in), to = normal_dir(lies_in);
  if (from == to) return path;
  const fs::path rel = fs::path(path).lexically_normal().lexically_relative(from);
  if (rel.empty() || *rel.begin() == "..") return path;  // outside the run folder (or not below it)
  return (rel == "." ? to : to / rel).string();
}

std::vector<OutputEntry> read_manifest_entries(const fs::path& path, int64_t up_to_iteration) {
  std::vector<OutputEntry> out;
  std::error_code ec;
  if (!fs::exists(path, ec)) return out;
  try {
    const nlohmann::json doc = nlohmann::json::parse(read_file(path));
    // A moved or copied run folder: its manifest still names files below the folder it was written
    // in ("run_dir"); those now lie below the manifest's own folder.
    const fs::path written_in = doc.contains("run_dir") ? doc.at("run_dir").get<std::string>() : std::string();
    for (const nlohmann::json& o : doc.at("outputs")) {
      OutputEntry e{o.at("kind").get<std::string>(),
                    rebase_path(o.at("path").get<std::string>(), written_in, fs::absolute(path).parent_path()),
                    o.at("network").get<std::string>(), o.at("index").get<int64_t>(),
                    o.at("iteration").get<int64_t>()};
      if (e.iteration <= up_to_iteration) out.push_back(std::move(e));
    }
  } catch (const std::exception& e) {
    throw DataError(fmt::format("the earlier run's manifest '{}' is damaged ({}); a resumed run keeps its entries. "
                                "Repair or delete it to resume without them.",
                                path.string(), e.what()));
  }
  return out;
}

RunRestart run_restart(const std::vector<OutputEntry>& entries) {
  bool any = false;
  std::error_code ec;
  for (const OutputEntry& e : entries)
    if (e.kind == "checkpoint") {
      any = true;
      if (e.path.empty() || (fs::exists(e.path, ec) && fs::exists(training_state_path(e.path), ec)))
        return RunRestart::kResume;
    }
  return any ? RunRestart::kNotResumable : RunRestart::kNoCheckpoint;
}

bool list_in_manifest_file(const fs::path& path, const OutputEntry& entry) {
  const fs::path lies_in = normal_dir(fs::absolute(path).parent_path());
  nlohmann::json doc;
  try {
    doc = nlohmann::json::parse(read_file(path));
    if (!doc.is_object() || !doc.contains("outputs") || !doc.at("outputs").is_array())
      throw DataError("it has no \"outputs\" list");
  } catch (const std::exception& e) {
    throw DataError(fmt::format("the run's manifest '{}' is damaged ({}); it was left unchanged. Repair or delete it "
                                "(a run rewrites it whole).",
                                path.string(), e.what()));
  }
  const fs::path written_in =
      doc.contains("run_dir") && doc.at("run_dir").is_string() ? doc.at("run_dir").get<std::string>() : std::string();
  // Where the file lies now, and the same file as this manifest names its files (below "run_dir").
  const std::string here = fs::absolute(entry.path).lexically_normal().string();
  const std::string named = written_in.empty() ? here : rebase_path(here, lies_in, written_in);
  const nlohmann::json listed = {{"kind", entry.kind},   {"path", named},          {"network", entry.network},
                                 {"index", entry.index}, {"iteration", entry.iteration}};
  nlohmann::json& outputs = doc.at("outputs");
  bool found = false, changed = false;
  for (nlohmann::json& o : outputs) {
    const std::string p = o.is_object() && o.contains("path") && o.at("path").is_string() ? o.at("path").get<std::string>() : "";
    if (p.empty() || rebase_path(p, written_in, lies_in) != here) continue;
    found = true;
    if (o != listed) o = listed, changed = true;
  }
  if (!found) outputs.push_back(listed), changed = true;
  if (doc.contains("listed_kinds") && doc.at("listed_kinds").is_object() && !doc.at("listed_kinds").contains(entry.kind))
    doc["listed_kinds"][entry.kind] = true, changed = true;
  if (changed) write_file_atomic(path, doc.dump(2) + "\n");
  return changed;
}

OutputsManifest::OutputsManifest(const fs::path& run_dir, const RunConfig& config, EventLog* events,
                                 std::vector<OutputEntry> earlier)
    : path_(fs::absolute(run_dir) / "outputs.json"),
      run_dir_(fs::absolute(run_dir)),
      entries_(std::move(earlier)),
      events_(events) {
  toggles_ = {{"checkpoint", config.output.add_model_outputs},
              {"checkpoint_meta", config.output.add_model_outputs},
              {"checkpoint_state", config.output.add_model_outputs},
              {"onnx", config.output.add_onnx_outputs},
              {"test_image", config.test.add_outputs},
              {"plot", true},
              {"report", true}};
  std::unique_lock<std::timed_mutex> lock(g_write_mutex);
  write();
  g_live = this;
}

OutputsManifest::~OutputsManifest() {
  std::unique_lock<std::timed_mutex> lock(g_write_mutex);
  if (g_live == this) g_live = nullptr;
}

bool OutputsManifest::abort_live(const std::string& reason, double wait_seconds) {
  std::unique_lock<std::timed_mutex> lock(g_write_mutex, std::defer_lock);
  if (!lock.try_lock_for(std::chrono::duration<double>(wait_seconds))) return false;
  OutputsManifest* live = g_live;
  if (live == nullptr || live->sealed_ || live->status_ != "running") return false;
  live->status_ = "interrupted", live->reason_ = reason, live->iterations_ = live->completed_;
  try {
    live->write();
  } catch (const std::exception&) {
    return false;
  }
  live->sealed_ = true;
  return true;
}

bool OutputsManifest::listed(const std::string& kind) const {
  if (!toggles_.contains(kind))
    throw ConfigError(fmt::format("unknown output kind '{}'; expected one of: checkpoint, checkpoint_meta, checkpoint_state, onnx, test_image, plot, report",
                                  kind));
  return toggles_[kind].get<bool>();
}

void OutputsManifest::add(const std::string& kind, const fs::path& path, const std::string& network, int64_t index,
                          int64_t iteration) {
  const bool is_listed = listed(kind);
  std::unique_lock<std::timed_mutex> lock(g_write_mutex);
  const OutputEntry entry{kind, fs::absolute(path).lexically_normal().string(), network, index, iteration};
  if (events_)
    events_->emit("file", {{"kind", kind}, {"path", entry.path}, {"network", network}, {"index", index},
                           {"iteration", iteration}, {"listed", is_listed}});
  if (!is_listed) return;
  // Test images: the latest test's only, so outputs.json stays small on long runs (docs/events.md).
  if (kind == "test_image")
    entries_.erase(std::remove_if(entries_.begin(), entries_.end(),
                                  [&entry](const OutputEntry& e) {
                                    return e.kind == "test_image" && e.iteration < entry.iteration;
                                  }),
                   entries_.end());
  for (OutputEntry& e : entries_)
    if (e.path == entry.path) {
      e = entry;
      write();
      return;
    }
  entries_.push_back(entry);
  write();
}

void OutputsManifest::finish(const std::string& status, const std::string& reason, int64_t iterations) {
  std::unique_lock<std::timed_mutex> lock(g_write_mutex);
  status_ = status, reason_ = reason, iterations_ = iterations;
  write();
}

// Called with g_write_mutex held.
void OutputsManifest::write() const {
  if (sealed_) return;
  nlohmann::json outputs = nlohmann::json::array();
  for (const OutputEntry& e : entries_)
    outputs.push_back({{"kind", e.kind}, {"path", e.path}, {"network", e.network}, {"index", e.index},
                       {"iteration", e.iteration}});
  const nlohmann::json doc = {{"version", 1},          {"run_dir", run_dir_.string()}, {"status", status_},
                              {"reason", reason_},     {"iterations", iterations_},    {"listed_kinds", toggles_},
                              {"outputs", outputs}};
  write_file_atomic(path_, doc.dump(2) + "\n");
}

}  // namespace img2img

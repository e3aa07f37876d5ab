#include "img2img/config/source_keys.h"

#include <fmt/format.h>  // fmt::format

#include <filesystem>    // std::filesystem::equivalent
#include <map>           // std::map
#include <system_error>  // std::error_code

#include "img2img/config/enum_names.h"
#include "img2img/config/problem_origins.h"

namespace img2img {
namespace fs = std::filesystem;

namespace {

// The path keys of a source, in the order of the config file, with the input type they belong to
// (multiple_paired standing for both folder types).
struct SourceField {
  const char* key;
  std::string DataSource::*value;
  InputType owner;
};
const SourceField kSourceFields[] = {
    {"input_image", &DataSource::input_image, InputType::kSinglePaired},
    {"reference_image", &DataSource::reference_image, InputType::kSinglePaired},
    {"input_dir", &DataSource::input_dir, InputType::kMultiplePaired},
    {"reference_dir", &DataSource::reference_dir, InputType::kMultiplePaired},
    {"composite_dir", &DataSource::composite_dir, InputType::kCompositePaired},
};

// "data.input_dir and data.reference_dir": the keys `type` reads.
std::string keys_read(InputType type, const std::string& section) {
  std::string text;
  for (const SourceField& f : kSourceFields)
    if (source_reads_key(type, f.key)) text += fmt::format("{}{}.{}", text.empty() ? "" : " and ", section, f.key);
  return text;
}

// The input type to set for `f` to be read, in words after "--SECTION.input_type=": "" when none may be
// (a test source of unpaired training reads only its two folders).
std::string input_type_for(const SourceField& f, const std::string& section, bool unpaired_training) {
  if (f.owner != InputType::kMultiplePaired) {
    if (section == "test" && unpaired_training) return "";
    return to_string(f.owner);
  }
  if (section == "test") return to_string(unpaired_training ? InputType::kMultipleUnpaired : InputType::kMultiplePaired);
  return "multiple_paired (or multiple_unpaired for unpaired training)";
}

}  // namespace

bool source_reads_key(InputType type, const std::string& key) {
  switch (type) {
    case InputType::kSinglePaired:
      return key == "input_image" || key == "reference_image";
    case InputType::kMultiplePaired:
    case InputType::kMultipleUnpaired:
      return key == "input_dir" || key == "reference_dir";
    case InputType::kCompositePaired:
      return key == "composite_dir";
  }
  return false;
}

std::vector<ConfigProblem> unused_source_key_notes(const RunConfig& config,
                                                   const std::vector<ConfigAssignment>& assignments,
                                                   const std::string& ignore_origin) {
  std::map<std::string, std::string> last_origin;  // key -> origin of its last assignment
  for (const ConfigAssignment& a : assignments) last_origin[a.key] = a.origin;
  const bool unpaired = is_unpaired(config.data.input_type);
  std::vector<ConfigProblem> notes;
  for (const auto& [section, source] : {std::pair<std::string, const DataSource*>{"data", &config.data},
                                        std::pair<std::string, const DataSource*>{"test", &config.test}}) {
    const bool disabled = section == "test" && !config.test.enabled;
    const std::string type_key = section + ".input_type";
    const std::string type = to_string(source->input_type);
    for (const SourceField& f : kSourceFields) {
      const std::string& value = source->*f.value;
      const std::string key = section + "." + f.key;
      const bool read = source_reads_key(source->input_type, f.key);
      if (value.empty() || (read && !disabled)) continue;
      // A resumed run's own configuration was noted when that run started.
      if (const auto it = last_origin.find(key); it != last_origin.end() && !ignore_origin.empty() &&
                                                 it->second == ignore_origin)
        continue;
      const std::string wanted = read ? "" : input_type_for(f, section, unpaired);
      ConfigProblem note{key, "", "", {}};
      if (disabled) {
        note.related.push_back({"test.enabled", "", ""});
        if (!read && wanted.empty())
          note.message = fmt::format("{} = '{}' is ignored: test.enabled = false, and unpaired training tests on {} "
                                     "only. Remove it.",
                                     key, value, keys_read(InputType::kMultipleUnpaired, section));
        else
          note.message = fmt::format("{} = '{}' is ignored: test.enabled = false. Set --test.enabled=true{} to test on "
                                     "it, or remove it.",
                                     key, value, read ? "" : " and --test.input_type=" + wanted);
      } else {
        note.related.push_back({type_key, "", ""});
        if (wanted.empty())
          note.message = fmt::format("{} = '{}' is ignored: unpaired training tests on {} only ({} = {}). Remove it.",
                                     key, value, keys_read(source->input_type, section), type_key, type);
        else
          note.message = fmt::format("{} = '{}' is ignored: {} = {} reads {}. Set --{}={} to use it, or remove it.", key,
                                     value, type_key, type, keys_read(source->input_type, section), type_key, wanted);
      }
      notes.push_back(std::move(note));
    }
  }
  return locate_config_problems(std::move(notes), assignments);
}

std::vector<ConfigProblem> other_input_type_problems(const DataSource& source, const std::string& section,
                                                     bool unpaired_training) {
  std::string first_needed, needed, needed_flags, hints;
  std::vector<RelatedKey> set;
  int needed_count = 0;
  for (const SourceField& f : kSourceFields) {
    const std::string key = section + "." + f.key;
    if (source_reads_key(source.input_type, f.key)) {
      if (!(source.*f.value).empty()) return {};  // the input type's own keys are (partly) given
      if (needed.empty()) first_needed = key;
      needed += fmt::format("{}{}", needed.empty() ? "" : " and ", key);
      needed_flags += fmt::format("{}--{}={}", needed_flags.empty() ? "" : " and ", key,
                                  f.owner == InputType::kSinglePaired ? "FILE" : "PATH");
      ++needed_count;
    } else if (!(source.*f.value).empty()) {
      set.push_back({key, "", ""});
    }
  }
  if (set.empty()) return {};
  // One hint per input type the set keys belong to: "data.input_dir and data.reference_dir are set: ...".
  for (const InputType owner : {InputType::kSinglePaired, InputType::kMultiplePaired, InputType::kCompositePaired}) {
    std::string keys, missing;  // missing: the flags of this input type's keys still empty
    int count = 0;
    const SourceField* first = nullptr;
    for (const SourceField& f : kSourceFields) {
      if (f.owner != owner) continue;
      if ((source.*f.value).empty()) {
        missing += fmt::format(" and --{}.{}={}", section, f.key, owner == InputType::kSinglePaired ? "FILE" : "PATH");
        continue;
      }
      keys += fmt::format("{}{}.{}", keys.empty() ? "" : " and ", section, f.key);
      ++count;
      if (first == nullptr) first = &f;
    }
    if (first == nullptr) continue;
    const std::string wanted = input_type_for(*first, section, unpaired_training);
    if (wanted.empty()) continue;
    hints += fmt::format(" {} {} set: to {} on {}, set --{}.input_type={}{}.", keys, count == 1 ? "is" : "are",
                         section == "test" ? "test" : "train", count == 1 ? "it" : "them", section, wanted, missing);
  }
  if (hints.empty()) return {};
  set.insert(set.begin(), RelatedKey{section + ".input_type", "", ""});
  ConfigProblem p{first_needed, "",
                  fmt::format("{} {} empty but {}.input_type = {} needs {}.{} Otherwise set {}.", needed,
                              needed_count == 1 ? "is" : "are", section, to_string(source.input_type),
                              needed_count == 1 ? "it" : "them", hints, needed_flags),
                  std::move(set)};
  return {std::move(p)};
}

bool same_existing_path(const std::string& a, const std::string& b) {
  if (a.empty() || b.empty()) return false;
  std::error_code ec;
  const bool same = fs::equivalent(a, b, ec);
  return !ec && same;
}

std::string same_source_warning(const DataSource& source, const std::string& section) {
  if (source.input_type != InputType::kSinglePaired && source.input_type != InputType::kMultiplePaired) return "";
  const bool files = source.input_type == InputType::kSinglePaired;
  const std::string& in = files ? source.input_image : source.input_dir;
  const std::string& ref = files ? source.reference_image : source.reference_dir;
  if (!same_existing_path(in, ref)) return "";
  const char* what = section == "test" ? "the test SSIM measures how well the model copies its input"
                                       : "the model learns to copy its input";
  if (files)
    return fmt::format("{0}.input_image and {0}.reference_image are the same file ('{1}' and '{2}'): the image is "
                       "paired with itself, so {3}. Give the image the output should look like as "
                       "--{0}.reference_image.",
                       section, in, ref, what);
  return fmt::format("{0}.input_dir and {0}.reference_dir are the same folder ('{1}' and '{2}'): every image is paired "
                     "with itself, so {3}. Put the images the outputs should look like in their own folder and give "
                     "it as --{0}.reference_dir.",
                     section, in, ref, what);
}

}  // namespace img2img

#pragma once
// Which keys of a data source ([data], [test]) each input type reads, and the checks built on that: a
// key set for another input type (a note, or the hint of the error when the keys it needs are empty),
// and one folder given for both sides (an error for unpaired data, a warning for paired data).

#include <string>  // std::string
#include <vector>  // std::vector

#include "img2img/config/config_keys.h"
#include "img2img/config/config_problem.h"
#include "img2img/config/run_config.h"

namespace img2img {

/// Whether a source of input type `type` reads `key` (input_image, reference_image, input_dir,
/// reference_dir or composite_dir, without the section); false for any other name.
bool source_reads_key(InputType type, const std::string& key);

/// One note per data-source key of `config` ([data]; [test] too) set to a non-empty value that is not read:
/// a key of another data.input_type ("data.composite_dir = 'x' is ignored: data.input_type = multiple_paired
/// reads data.input_dir and data.reference_dir. Set --data.input_type=composite_paired to use it, or remove
/// it"), or any test.* path while test.enabled = false. Origins filled from `assignments`; a key last set by
/// an assignment from `ignore_origin` (a resumed checkpoint's configuration) gives none. Never throws.
std::vector<ConfigProblem> unused_source_key_notes(const RunConfig& config,
                                                   const std::vector<ConfigAssignment>& assignments,
                                                   const std::string& ignore_origin = "");

/// The problem of a `source` whose input type's keys are all empty while another input type's are set:
/// "data.input_dir and data.reference_dir are empty but data.input_type = multiple_paired needs them.
/// data.composite_dir is set: to train on it, set --data.input_type=composite_paired. Otherwise ..." (key:
/// the first empty key; related: SECTION.input_type and the set keys). Empty otherwise (each empty key is
/// then its own problem). `unpaired_training`: data.input_type is multiple_unpaired (test data must match).
std::vector<ConfigProblem> other_input_type_problems(const DataSource& source, const std::string& section,
                                                     bool unpaired_training);

/// Whether `a` and `b` name one existing file or folder (std::filesystem::equivalent: "./x" and "x", a
/// symlink and its target); false when either is empty or missing. Never throws.
bool same_existing_path(const std::string& a, const std::string& b);

/// The run-start warning for a paired `source` whose input and reference are one folder (or one file):
/// every image would be paired with itself, so the model learns to copy its input; "" otherwise (and for
/// unpaired data, where config_problems makes it an error).
std::string same_source_warning(const DataSource& source, const std::string& section);

}  // namespace img2img

# `img2img config` > my.toml, edit my.toml, read it back: it must behave as if the edits had been typed as
# flags. generator.layers and train.linear_decay (worked out from data.image_size and train.max_iterations
# unless given) are commented out in the printed file, so they follow an edited image_size / max_iterations;
# keys the user gave stay. A tiny training run reads the edited file, and its config.toml keeps the
# resolved numbers as normal lines (--resume). Fails (FATAL_ERROR) on any mismatch.
# Run as: cmake -DEXE=<img2img> -DWORK=<empty scratch folder> -P config_template.cmake

foreach(var EXE WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "config_template.cmake needs -D${var}=...")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/in" "${WORK}/ref")

# A 32 x 32 ASCII PGM: value = base + step * x + seed * y (8-bit).
function(write_pgm path base step seed)
  set(text "P2\n32 32\n255\n")
  foreach(y RANGE 31)
    set(row "")
    foreach(x RANGE 31)
      math(EXPR v "(${base} + ${step} * ${x} + ${seed} * ${y}) % 256")
      string(APPEND row "${v} ")
    endforeach()
    string(APPEND text "${row}\n")
  endforeach()
  file(WRITE "${path}" "${text}")
endfunction()
foreach(i 0 1)
  write_pgm("${WORK}/in/p${i}.pgm" 10 2 ${i})
  write_pgm("${WORK}/ref/p${i}.pgm" 200 1 ${i})
endforeach()

# Runs the command (exit 0 or FATAL_ERROR); its stdout in LAST_OUT, stderr in LAST_ERR.
function(run_checked name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "${name} exited with ${code}:\n${out}\n${err}")
  endif()
  set(LAST_OUT "${out}" PARENT_SCOPE)
  set(LAST_ERR "${err}" PARENT_SCOPE)
endfunction()
function(expect_match name text regex)
  if(NOT text MATCHES "${regex}")
    message(FATAL_ERROR "${name}: expected '${regex}' in:\n${text}")
  endif()
endfunction()
function(expect_no_match name text regex)
  if(text MATCHES "${regex}")
    message(FATAL_ERROR "${name}: did not expect '${regex}' in:\n${text}")
  endif()
endfunction()
# `text` with `from` replaced by `to` in OUT_VAR; FATAL_ERROR when `from` is not in it (the edit would be lost).
function(edit out_var text from to)
  string(FIND "${text}" "${from}" at)
  if(at EQUAL -1)
    message(FATAL_ERROR "edit: '${from}' not in:\n${text}")
  endif()
  string(REPLACE "${from}" "${to}" text "${text}")
  set(${out_var} "${text}" PARENT_SCOPE)
endfunction()

set(FLAGS --data.input_dir=${WORK}/in --data.reference_dir=${WORK}/ref --data.image_size=32
          --train.max_iterations=4 --generator.initial_layer_size=8 --discriminator.layers=2
          --discriminator.initial_layer_size=8 --output.run_dir=${WORK}/run --output.onnx_path=
          --output.model_save_rate=0 --device.device=cpu --device.cpu_threads=1)

# 1. The printed file: worked-out keys commented out with their value and rule, given keys normal lines.
run_checked(config "${EXE}" config ${FLAGS})
set(printed "${LAST_OUT}")
file(WRITE "${WORK}/my.toml" "${printed}")
expect_match(printed "${printed}" "\n# linear_decay = 2  # worked out: half of train\\.max_iterations = 4 \\(uncomment to fix it\\)")
expect_match(printed "${printed}" "\n# layers = 5  # worked out: the most layers whose 2\\^layers divides data\\.image_size = 32")
expect_match(printed "${printed}" "\nmax_iterations = 4  #")
expect_match(printed "${printed}" "\nimage_size = 32  #")

# 2. Read back unchanged, it prints the same file (`config --config my.toml`).
run_checked(config_again "${EXE}" config --config ${WORK}/my.toml)
if(NOT LAST_OUT STREQUAL printed)
  message(FATAL_ERROR "config --config my.toml differs from the file:\n${LAST_OUT}\n--- file:\n${printed}")
endif()

# 3. max_iterations edited in the file: the same as typing --train.max_iterations=2.
edit(short "${printed}" "\nmax_iterations = 4 " "\nmax_iterations = 2 ")
file(WRITE "${WORK}/short.toml" "${short}")
run_checked(config_short "${EXE}" config --config ${WORK}/short.toml)
set(from_file "${LAST_OUT}")
expect_match(short "${from_file}" "\n# linear_decay = 1  # worked out: half of train\\.max_iterations = 2 ")
run_checked(config_short_flags "${EXE}" config ${FLAGS} --train.max_iterations=2)
if(NOT from_file STREQUAL LAST_OUT)
  message(FATAL_ERROR "the edited file resolves unlike the flag:\n${from_file}\n--- flags:\n${LAST_OUT}")
endif()

# 4. image_size edited: layers follow it (6 at 64 px), as --data.image_size=64 would give.
edit(larger "${printed}" "\nimage_size = 32 " "\nimage_size = 64 ")
file(WRITE "${WORK}/larger.toml" "${larger}")
run_checked(config_larger "${EXE}" config --config ${WORK}/larger.toml)
expect_match(larger "${LAST_OUT}" "\n# layers = 6  # worked out: the most layers whose 2\\^layers divides data\\.image_size = 64")
set(from_file "${LAST_OUT}")
run_checked(config_larger_flags "${EXE}" config ${FLAGS} --data.image_size=64)
if(NOT from_file STREQUAL LAST_OUT)
  message(FATAL_ERROR "the edited file resolves unlike the flag:\n${from_file}\n--- flags:\n${LAST_OUT}")
endif()

# 5. Keys given explicitly stay: layers = 3 survives an image_size edit.
run_checked(config_explicit "${EXE}" config ${FLAGS} --generator.layers=3 --no-comments)
expect_match(explicit "${LAST_OUT}" "\nlayers = 3\n")
edit(explicit "${LAST_OUT}" "\nimage_size = 32\n" "\nimage_size = 64\n")
file(WRITE "${WORK}/explicit.toml" "${explicit}")
run_checked(config_explicit_again "${EXE}" config --config ${WORK}/explicit.toml --no-comments)
expect_match(explicit_again "${LAST_OUT}" "\nimage_size = 64\n.*\nlayers = 3\n")

# 6. train --config short.toml: no "decays from the first iteration" warning (linear_decay 1 of 2), and the run's
# config.toml holds the resolved numbers as normal lines.
run_checked(train "${EXE}" train --plain-progress --config ${WORK}/short.toml)
expect_no_match(train "${LAST_OUT}${LAST_ERR}" "decays from the first iteration")
file(READ "${WORK}/run/config.toml" recorded)
expect_match(run_config "${recorded}" "\nmax_iterations = 2  #")
expect_match(run_config "${recorded}" "\nlinear_decay = 1  #[^\n]*without this line it follows train\\.max_iterations\\)\n")
expect_match(run_config "${recorded}" "\nlayers = 5  #")
expect_no_match(run_config "${recorded}" "\n# ")
file(READ "${WORK}/run/train.log" log)
expect_no_match(train_log "${log}" "decays from the first iteration")

# 7. The run's config.toml read back keeps its numbers (every key is given there).
run_checked(config_record "${EXE}" config --config ${WORK}/run/config.toml --train.max_iterations=40 --no-comments)
expect_match(config_record "${LAST_OUT}" "\nmax_iterations = 40\n.*\nlinear_decay = 1\n")

message(STATUS "config > file, edit, read back (config, train): ok")

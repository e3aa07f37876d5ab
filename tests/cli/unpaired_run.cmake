# An unpaired (CycleGAN) run end to end through the `img2img` executable: a tiny training run on two
# self-made domains (ASCII PGM files: dark horizontal ramps vs light vertical ramps), then
# `infer --index 1` and `export --index 1` on its output. Fails (FATAL_ERROR) on any non-zero exit
# code or missing file. Run as: cmake -DEXE=<img2img> -DWORK=<empty scratch folder> -P unpaired_run.cmake

foreach(var EXE WORK)
  if(NOT DEFINED ${var})
    message(FATAL_ERROR "unpaired_run.cmake needs -D${var}=...")
  endif()
endforeach()
file(REMOVE_RECURSE "${WORK}")
file(MAKE_DIRECTORY "${WORK}/dark" "${WORK}/light")

# A 32 x 32 ASCII PGM: value = base + step * (x or y) + seed (8-bit).
function(write_pgm path base step vertical seed)
  set(text "P2\n32 32\n255\n")
  foreach(y RANGE 31)
    set(row "")
    foreach(x RANGE 31)
      if(vertical)
        math(EXPR v "(${base} + ${step} * ${y} + ${seed} * ${x}) % 256")
      else()
        math(EXPR v "(${base} + ${step} * ${x} + ${seed} * ${y}) % 256")
      endif()
      string(APPEND row "${v} ")
    endforeach()
    string(APPEND text "${row}\n")
  endforeach()
  file(WRITE "${path}" "${text}")
endfunction()
foreach(i 0 1 2)
  write_pgm("${WORK}/dark/a${i}.pgm" 10 2 OFF ${i})    # 10..~75: dark
  write_pgm("${WORK}/light/b${i}.pgm" 170 2 ON ${i})  # 170..~235: light
endforeach()
write_pgm("${WORK}/light/b3.pgm" 180 1 ON 0)          # domains of different sizes (3 vs 4)

function(run_checked name)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT code EQUAL 0)
    message(FATAL_ERROR "${name} exited with ${code}:\n${out}\n${err}")
  endif()
  message(STATUS "${name}: ${out}")
  set(LAST_OUT "${out}" PARENT_SCOPE)
  set(LAST_ERR "${err}" PARENT_SCOPE)
endfunction()

set(RUN "${WORK}/run")
run_checked(train "${EXE}" train --plain-progress
  --data.input_type=multiple_unpaired
  --data.input_dir=${WORK}/dark --data.reference_dir=${WORK}/light
  --data.image_size=32 --data.batch_size=2
  --generator.layers=4 --generator.initial_layer_size=8
  --discriminator.layers=2 --discriminator.initial_layer_size=8
  --train.max_iterations=2 --train.linear_decay=1 --train.pool_size=2
  --output.run_dir=${RUN} --output.model_save_rate=0
  --plot.type=csv --test.enabled=false
  --device.device=cpu --device.cpu_threads=1)

# The summary lists both generators and both ONNX files; grey PGM files with the default 3 channels get
# the one-line channel hint.
foreach(line "generator 0 \\(A->B\\): [^\n]*generator_0_2\\.pt" "generator 1 \\(B->A\\): [^\n]*generator_1_2\\.pt"
             "onnx 0 \\(A->B\\): [^\n]*generator_0_2\\.onnx" "onnx 1 \\(B->A\\): [^\n]*generator_1_2\\.onnx")
  if(NOT LAST_OUT MATCHES "${line}")
    message(FATAL_ERROR "the train summary lacks '${line}':\n${LAST_OUT}")
  endif()
endforeach()
if(NOT LAST_ERR MATCHES "warning: every training file \\(both domains\\) has at most 1 channel\\(s\\) but data\\.channel_count = 3[^\n]*--data\\.channel_count=1")
  message(FATAL_ERROR "the train log lacks the channel hint:\n${LAST_ERR}")
endif()

# Four checkpoints (+ metadata), the resume state, both generators as ONNX, the manifest.
foreach(f checkpoints/generator_0_2.pt checkpoints/generator_1_2.pt
          checkpoints/discriminator_0_2.pt checkpoints/discriminator_1_2.pt
          checkpoints/generator_1_2.json checkpoints/generator_0_2.optim.pt
          onnx/generator_0_2.onnx onnx/generator_1_2.onnx
          outputs.json config.toml train.log plots/loss.csv)
  if(NOT EXISTS "${RUN}/${f}")
    message(FATAL_ERROR "the unpaired run did not write ${RUN}/${f}")
  endif()
endforeach()
# Each ONNX file of the run records its direction (metadata `direction`, the doc string) and its weights
# (metadata `weights`); the exact values: OnnxExportTest.UnpairedGeneratorsRecordTheirDirection.
foreach(case "0;A->B;domain A \\(data\\.input_dir\\) to domain B \\(data\\.reference_dir\\)"
             "1;B->A;domain B \\(data\\.reference_dir\\) to domain A \\(data\\.input_dir\\)")
  list(GET case 0 index)
  list(GET case 1 direction)
  list(GET case 2 doc)
  file(STRINGS "${RUN}/onnx/generator_${index}_2.onnx" texts)
  foreach(expected "unpaired ${direction}: ${doc}" "direction" "weights" "average")
    if(NOT texts MATCHES "${expected}")
      message(FATAL_ERROR "onnx/generator_${index}_2.onnx lacks '${expected}'; its strings: ${texts}")
    endif()
  endforeach()
endforeach()

file(READ "${RUN}/outputs.json" manifest)
string(JSON status GET "${manifest}" status)
if(NOT status STREQUAL "finished")
  message(FATAL_ERROR "outputs.json status is '${status}', expected 'finished'")
endif()

# Generator 1 (light -> dark) on the light domain, from the run folder.
run_checked(infer "${EXE}" infer --checkpoint ${RUN} --index 1 --input ${WORK}/light --output ${WORK}/infer1
  --device cpu)
foreach(i 0 1 2 3)
  if(NOT EXISTS "${WORK}/infer1/b${i}.png")
    message(FATAL_ERROR "infer --index 1 did not write ${WORK}/infer1/b${i}.png")
  endif()
endforeach()

run_checked(export "${EXE}" export --checkpoint ${RUN} --index 1 --output ${WORK}/g1.onnx)
if(NOT LAST_OUT MATCHES "\\(generator 1, B->A, opset ")
  message(FATAL_ERROR "export --index 1 does not say its direction:\n${LAST_OUT}")
endif()
if(NOT EXISTS "${WORK}/g1.onnx")
  message(FATAL_ERROR "export --index 1 did not write ${WORK}/g1.onnx")
endif()
file(SIZE "${WORK}/g1.onnx" onnx_size)
if(onnx_size LESS 10000)
  message(FATAL_ERROR "${WORK}/g1.onnx has only ${onnx_size} bytes")
endif()

# An index the run folder has not (2) is refused by the command line.
execute_process(COMMAND "${EXE}" infer --checkpoint ${RUN} --index 2 --input ${WORK}/light --output ${WORK}/x
  RESULT_VARIABLE code OUTPUT_QUIET ERROR_QUIET)
if(code EQUAL 0)
  message(FATAL_ERROR "infer --index 2 should fail")
endif()
# Runs the command, which must fail with exit 1 and print `expected` (a regex) on stderr, and not `unexpected`.
function(expect_user_error name expected unexpected)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE code OUTPUT_QUIET ERROR_VARIABLE err)
  if(NOT code EQUAL 1 OR NOT err MATCHES "${expected}" OR (NOT unexpected STREQUAL "" AND err MATCHES "${unexpected}"))
    message(FATAL_ERROR "${name}: expected exit 1 and '${expected}', got ${code}:\n${err}")
  endif()
endfunction()

# infer: an --input that does not exist says so; an existing folder without images lists the extensions.
expect_user_error(infer_missing_input "--input '/nonexistent/in' does not exist" "no images"
  "${EXE}" infer --checkpoint ${RUN} --input /nonexistent/in --output ${WORK}/x --device cpu)
file(MAKE_DIRECTORY "${WORK}/no_images")
file(WRITE "${WORK}/no_images/notes.txt" "x")
expect_user_error(infer_no_images "has no images \\(1 other files ignored\\); expected \\.png, \\.jpg" ""
  "${EXE}" infer --checkpoint ${RUN} --input ${WORK}/no_images --output ${WORK}/x --device cpu)

# --resume with a contradicting data.input_type names that key, where it was given and both values, not a consequence
# of it (test.input_type, which validation would report first).
expect_user_error(resume_input_type
  "data\\.input_type = \"multiple_paired\" \\(from the command line\\) contradicts the checkpoint's data\\.input_type = \"multiple_unpaired\""
  "test\\.input_type"
  "${EXE}" train --resume ${RUN} --data.input_type=multiple_paired --test.enabled=true --train.max_iterations=5)

message(STATUS "unpaired run, infer --index 1 and export --index 1: ok")

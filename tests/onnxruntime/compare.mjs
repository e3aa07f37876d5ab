// Runs every model listed in CASES_DIR/cases.json (written by img2img_onnx_cases) in onnxruntime
// (CPU, from the onnxruntime-node package) and checks max |onnxruntime - LibTorch| <= 1e-4.
//   node compare.mjs CASES_DIR
// Exits 1 on any mismatch or error, 2 when onnxruntime-node is not installed (never skips).
import { readFileSync } from 'node:fs';
import { join } from 'node:path';

const kTolerance = 1e-4;
const dir = process.argv[2];
if (!dir) {
  console.error('usage: node compare.mjs CASES_DIR');
  process.exit(2);
}
let ort;
try {
  ort = await import('onnxruntime-node');
} catch (e) {
  console.error(`onnxruntime-node is not installed (${e.message}); run scripts/setup_onnxruntime.sh`);
  process.exit(2);
}

const readFloats = (file) => {
  const b = readFileSync(join(dir, file));
  return new Float32Array(b.buffer, b.byteOffset, b.byteLength / 4);
};

const cases = JSON.parse(readFileSync(join(dir, 'cases.json'), 'utf8'));
if (cases.length === 0) {
  console.error('cases.json lists no case');
  process.exit(1);
}
let failures = 0;
for (const c of cases) {
  const session = await ort.InferenceSession.create(join(dir, c.model), { executionProviders: ['cpu'] });
  if (session.inputNames[0] !== 'input' || session.outputNames[0] !== 'output') {
    console.error(`FAIL ${c.name}: interface ${session.inputNames} -> ${session.outputNames}, expected input -> output`);
    failures++;
    continue;
  }
  for (const run of c.runs) {
    const x = new ort.Tensor('float32', readFloats(run.input), run.input_shape);
    const y = (await session.run({ input: x })).output;
    const expected = readFloats(run.expected);
    let diff = 0;
    const sameShape = JSON.stringify(Array.from(y.dims)) === JSON.stringify(run.output_shape);
    if (sameShape) for (let i = 0; i < expected.length; i++) diff = Math.max(diff, Math.abs(y.data[i] - expected[i]));
    const ok = sameShape && diff <= kTolerance && Number.isFinite(diff);
    if (!ok) failures++;
    console.log(`${ok ? 'ok  ' : 'FAIL'} ${c.name} [${run.input_shape}] -> [${y.dims}] max_abs_diff=${diff.toExponential(3)}`);
  }
}
console.log(`onnxruntime ${ort.env.versions.common}: ${cases.length} model(s), ${failures} failure(s)`);
process.exit(failures === 0 ? 0 : 1);

#!/bin/bash
# Runs on the GPU machine (the device tool), from the repository root, after bench/gpu/pack.sh
# here, carrying .dev/node.xz, .dev/nm.tar.xz and .dev/gl: what "auto" chooses for each fixture
# model, the accelerator tests (onnx-webgpu.test.ts skips on machines without a GPU), and the
# accelerator bench on the CPU and on WebGPU side by side. Results land in $OUT.
set -o pipefail
OUT=${OUT:-/tmp/islet-gpu}; mkdir -p "$OUT"
mkdir -p /tmp/n && xz -dc .dev/node.xz > /tmp/n/node && chmod +x /tmp/n/node && export PATH=/tmp/n:$PATH
tar xJf .dev/nm.tar.xz
for f in .dev/gl/*.deb; do dpkg -x "$f" /; done; ldconfig
nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader | tee "$OUT/gpu.txt"; nproc
echo "=== auto's choice"; timeout 60 node --no-node-snapshot bench/gpu/choice.ts 2>&1 | tee "$OUT/choice.json" | grep -E 'choice|"device"'
echo "=== tests"; timeout 150 node node_modules/vitest/vitest.mjs run --reporter verbose engine/accel fixtures/accel engine/bindings/ai-binding.test.ts bench/accel.test.ts > "$OUT/vitest.log" 2>&1; echo "vitest rc=$?"
grep -E "×|↓|Test Files|Tests |Error|exited" "$OUT/vitest.log" | grep -v "^{" | tail -20
for model in mlp-large mlp-bench; do
  workloads=mlp,env-mlp; [ $model = mlp-bench ] && workloads=mlp
  echo "=== bench $model"; timeout 140 node --no-node-snapshot bench/accel.ts --model $model --devices cpu,webgpu --workloads $workloads --callers 1,8,64 --duration 2 --rounds 1 --warmup 0.5 --json "$OUT/accel-$model.json" > "$OUT/bench-$model.log" 2>&1; echo "rc=$?"
  tail -n 20 "$OUT/bench-$model.log" | grep -v '^{'
done

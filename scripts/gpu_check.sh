#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one run (a lent GPU machine is short-lived):
#   1. the core tests, tests/core/test_cuda.py among them (skipped on machines without a GPU);
#   2. `rxt bench latency --device cuda` (bench-22m, 64 turns) -> $OUT/bench_latency_cuda.json/.png;
#   3. optional, with TRAIN_DATA set: stage 4 continued from the bundled model on the GPU for
#      TRAIN_SECONDS, then `rxt eval` of the bundled and the new model on EVAL_DATA.
# Runs from the repository root on a machine that has torch with CUDA; it does not install the
# project (PYTHONPATH=.), so a machine without the registry only needs the few wheels torch's
# image lacks (pydantic: carry them in .whl/, see docs/benchmarks.md "On a GPU").
set -uo pipefail
OUT=${OUT:-gpu_out}
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}  # cpu: try the script without a GPU
mkdir -p "$OUT"
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
rxt() { "$PY" -m rxt_cli.main "$@"; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'

echo "== 1. core tests (CUDA tests included)"
timeout "${TEST_SECONDS:-240}" "$PY" -m pytest -q -p no:cacheprovider tests/core -rfEs --tb=line 2>&1 | tail -30

echo "== 2. latency benchmark on the GPU"
timeout "${BENCH_SECONDS:-200}" "$PY" -m rxt_cli.main bench latency --device "$DEVICE" --threads 4 ${BENCH_ARGS:-} \
    --out "$OUT/bench_latency_cuda.json"

[ -n "${EVAL_DATA:-}" ] && [ -z "${TRAIN_DATA:-}" ] && timeout "${EVAL_SECONDS:-120}" "$PY" -m rxt_cli.main eval \
    --model models/rxt-nano --data "$EVAL_DATA" --device "$DEVICE" --out "$OUT/eval_bundled.json" ${EVAL_ARGS:-} 2>&1 \
    | grep -v " INFO " | head -14
[ -n "${TRAIN_DATA:-}" ] || exit 0
echo "== 3. stage 4 from the bundled model on the GPU, ${TRAIN_SECONDS:=240} s"
RUN=${RUN:-/tmp/gpu-run}
rxt train --stage 4 --data "$TRAIN_DATA" --tokenizer models/rxt-nano/tokenizer.json --init models/rxt-nano \
    --out "$RUN" --batch-size "${TRAIN_BATCH:-64}" --lr "${TRAIN_LR:-7e-4}" --warmup-steps 10 --steps 5000 \
    --bptt-turns 0 --replay-weight 1.0 --replay-depth 12 --checkpoint-every 200 --log-every 20 \
    --seed 4 --device "$DEVICE" --no-progress --max-seconds "$TRAIN_SECONDS" 2>&1 | grep -v "^$" | tail -40
MODEL="$RUN/stage4-memory-aware/model"
cp "$RUN/stage4-memory-aware/history.json" "$OUT/gpu_train_history.json"
cp "$MODEL/model.safetensors" "$OUT/gpu_model.safetensors"
for name in bundled gpu; do
  dir=models/rxt-nano; [ "$name" = gpu ] && dir=$MODEL
  timeout "${EVAL_SECONDS:-120}" "$PY" -m rxt_cli.main eval --model "$dir" --data "$EVAL_DATA" \
      --device "$DEVICE" --out "$OUT/eval_$name.json" ${EVAL_ARGS:-} 2>&1 | grep -v " INFO " | head -14
done

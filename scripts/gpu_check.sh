#!/usr/bin/env bash
# The checks that need a CUDA GPU, in one run (a lent GPU machine is short-lived):
#   1. the core tests, tests/core/test_cuda.py among them (CI has no GPU and skips those);
#   2. `rxt bench latency --device cuda` (BENCH_ARGS adds flags) -> $OUT/bench_latency_cuda.json/.png;
#   3. with TRAIN_DATA set: stage 4 continued from the bundled model on the GPU for TRAIN_SECONDS;
#   4. with EVAL_DATA set: `rxt eval --device cuda` of the bundled model (and of the one from 3).
# Each step has its own time limit (TEST_SECONDS, BENCH_SECONDS, EVAL_SECONDS), so one that hangs
# does not eat the others' time. The script does not install the project (PYTHONPATH=.): a GPU
# machine without a package registry needs only the wheels its torch image lacks. Session 6 on
# an image with torch 2.11 / Python 3.12 needed pydantic's, downloaded here with
#   pip download --no-deps --only-binary=:all: --python-version 3.12 --platform manylinux2014_x86_64 \
#       -d .whl pydantic pydantic_core annotated-types typing-inspection typing_extensions
# and installed there with `pip install --no-index --no-deps --target /tmp/site .whl/*.whl`.
# DEVICE=cpu runs the same steps without a GPU (to try the script itself).
set -uo pipefail
OUT=${OUT:-gpu_out}
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}
mkdir -p "$OUT"
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
rxt() { timeout "$1" "$PY" -m rxt_cli.main "${@:2}"; }

nvidia-smi --query-gpu=name,memory.total,driver_version --format=csv
"$PY" -c 'import torch; print("torch", torch.__version__, "cuda", torch.cuda.is_available())'

echo "== 1. core tests (CUDA tests included)"
timeout "${TEST_SECONDS:-240}" "$PY" -m pytest -q -p no:cacheprovider tests/core -rfEs --tb=line 2>&1 | tail -30

echo "== 2. latency benchmark"
rxt "${BENCH_SECONDS:-300}" bench latency --device "$DEVICE" --threads 4 ${BENCH_ARGS:-} \
    --out "$OUT/bench_latency_cuda.json"

MODELS=(models/rxt-nano)
if [ -n "${TRAIN_DATA:-}" ]; then
  echo "== 3. stage 4 from the bundled model, ${TRAIN_SECONDS:=240} s"
  RUN=${RUN:-/tmp/gpu-run}
  rxt $((TRAIN_SECONDS + 120)) train --stage 4 --data "$TRAIN_DATA" --init models/rxt-nano \
      --tokenizer models/rxt-nano/tokenizer.json --out "$RUN" --batch-size "${TRAIN_BATCH:-64}" \
      --lr "${TRAIN_LR:-7e-4}" --warmup-steps 10 --steps 5000 --bptt-turns 0 --replay-weight 1.0 \
      --replay-depth 12 --checkpoint-every 200 --log-every 20 --seed 4 --device "$DEVICE" \
      --no-progress --max-seconds "$TRAIN_SECONDS" 2>&1 | tail -20
  cp "$RUN/stage4-memory-aware/history.json" "$OUT/gpu_train_history.json"
  cp "$RUN/stage4-memory-aware/model/model.safetensors" "$OUT/gpu_model.safetensors"
  MODELS+=("$RUN/stage4-memory-aware/model")
fi

[ -n "${EVAL_DATA:-}" ] || exit 0
echo "== 4. rxt eval on $EVAL_DATA"
for i in "${!MODELS[@]}"; do
  rxt "${EVAL_SECONDS:-120}" eval --model "${MODELS[$i]}" --data "$EVAL_DATA" --device "$DEVICE" \
      --batch-size 100 --out "$OUT/eval_$i.json" ${EVAL_ARGS:-} 2>&1 | grep -v " INFO " | head -16
done

#!/usr/bin/env bash
# Stage-4 arms side by side on one GPU, then `rxt eval` of each: a lent GPU machine is short-lived
# and a dim-128 model leaves an H100 mostly idle (launch-bound), so the arms run as concurrent
# processes with the same data, seed, schedule and time budget; only their ARM_<name> flags differ.
#   ARMS="control slot"  ARM_control="--reinit memory_attention."  ARM_slot="--set memory_write=\"slot\""
#   TRAIN_DATA=runs/s7/novel/train.jsonl EVAL_DATA=runs/eval/heldout.jsonl TRAIN_SECONDS=300 \
#   OUT=/tmp/out bash scripts/gpu_arms.sh
# TRAIN_PRECISION=bf16 (or auto) trains under bf16 autocast (`rxt train --precision`; default fp32,
# as the session-6/7 GPU arms ran). Every arm starts from INIT (default models/rxt-nano). Per arm, OUT gets <name>_history.json,
# <name>_eval.json, <name>.log and the model (<name>_model/). The lent device returns only about 8
# files from its $OUT (session 7 lost most of 16): with more arms, copy what you need afterwards. Wheels a registry-less GPU image
# lacks: see scripts/gpu_check.sh's header (WHEELS=.whl installs them into /tmp/site first).
set -uo pipefail
OUT=${OUT:-gpu_out}
PY=${PY:-python3}
DEVICE=${DEVICE:-cuda}
INIT=${INIT:-models/rxt-nano}
mkdir -p "$OUT"
if [ -n "${WHEELS:-}" ]; then
  "$PY" -m pip install -q --no-index --no-deps --target /tmp/site "$WHEELS"/*.whl 2>&1 | tail -2
  export PYTHONPATH=/tmp/site
fi
export PYTHONPATH=.${PYTHONPATH:+:$PYTHONPATH} PYTHONUNBUFFERED=1
nvidia-smi --query-gpu=name,memory.total --format=csv,noheader 2>/dev/null || true

for arm in $ARMS; do
  flags_var="ARM_$arm"
  eval "flags=(${!flags_var:-})"
  timeout $((TRAIN_SECONDS + 150)) "$PY" -m rxt_cli.main train --stage 4 --data "$TRAIN_DATA" \
      --init "$INIT" --tokenizer "$INIT/tokenizer.json" --out "/tmp/arms/$arm" --batch-size "${TRAIN_BATCH:-64}" \
      --lr "${TRAIN_LR:-7e-4}" --warmup-steps 10 --steps 5000 --bptt-turns 0 --replay-weight 1.0 \
      --replay-depth 12 --checkpoint-every 1000 --log-every 25 --seed 5 --device "$DEVICE" --threads 2 \
      --no-progress --max-seconds "$TRAIN_SECONDS" --precision "${TRAIN_PRECISION:-fp32}" "${flags[@]}" \
      > "$OUT/$arm.log" 2>&1 &
done
wait
for arm in $ARMS; do
  tail -4 "$OUT/$arm.log"
  cp "/tmp/arms/$arm/stage4-memory-aware/history.json" "$OUT/${arm}_history.json"
  cp -r "/tmp/arms/$arm/stage4-memory-aware/model" "$OUT/${arm}_model"
  timeout "${EVAL_SECONDS:-200}" "$PY" -m rxt_cli.main eval --model "/tmp/arms/$arm/stage4-memory-aware/model" \
      --data "$EVAL_DATA" --device "$DEVICE" --batch-size 100 --out "$OUT/${arm}_eval.json" \
      > "$OUT/${arm}_eval.log" 2>&1 &
done
wait
for arm in $ARMS; do echo "== $arm"; grep -v " INFO " "$OUT/${arm}_eval.log" | head -24; done

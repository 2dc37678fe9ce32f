#!/usr/bin/env bash
# Session 20 on a lent H100: the keep write (memory_write=keep) against the slot write, each
# continued from the bundled model for TRAIN_SECONDS of stage 4i's recipe (recall weight 4, replay
# 0.3, replay depth 12, BPTT through every turn, lr 5e-4 cosine, batch 64, seed 5), four arms as
# concurrent processes on one GPU (scripts/gpu_arms.sh), then `rxt eval` of each on the usual 200
# held-out and 200 training-entity dialogues. Data, made here beforehand and carried along:
#   rxt data synth --out runs/s20/novel --train 20000 --heldout 0 --seed 20 --novel-values 0.4
#   rxt data synth --out runs/s20/eval --train 0 --heldout 200 --seed 0 --min-turns 8 --max-turns 20
# Run (device tool): bash docs/results/session20/gpu_keep.sh, carrying runs/s20/novel, runs/s20/eval
# and .whl (pydantic's wheels; scripts/gpu_check.sh says how they were fetched). $OUT gets
# results.tar.gz (histories, eval JSONs and logs) and one <arm>_model.tar.gz per arm.
# DEVICE=cpu PY=.venv/bin/python ARMS=keep TRAIN_BATCH=4 TRAIN_DATA=<a few dialogues> TRAIN_SECONDS=10 tries the
# plumbing here.
set -uo pipefail
RESULTS=${OUT:-gpu_out}
mkdir -p "$RESULTS"
PY=${PY:-python3}
if [ -d .whl ] && [ "${DEVICE:-cuda}" = cuda ]; then
  "$PY" -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade --target /tmp/site .whl/*.whl
  export PYTHONPATH=/tmp/site
fi
RECIPE="--recall-weight 4 --replay-weight 0.3"
KEEP="$RECIPE --set memory_write=keep"
export ARMS=${ARMS:-"control keep keep_s128 keep_s128_pw32"}
export ARM_control="$RECIPE"
export ARM_keep="$KEEP --keep-weight 1"
export ARM_keep_s128="$KEEP --keep-weight 1 --set stm_slots=128"
export ARM_keep_s128_pw32="$KEEP --keep-weight 1 --set stm_slots=128 --keep-positive-weight 32"
export TRAIN_DATA=${TRAIN_DATA:-runs/s20/novel/train.jsonl} EVAL_DATA=runs/s20/eval/heldout.jsonl
export TRAIN_SECONDS=${TRAIN_SECONDS:-300} TRAIN_LR=5e-4 EVAL_SECONDS=${EVAL_SECONDS:-150}
export OUT=/tmp/arms_out
bash scripts/gpu_arms.sh
for arm in $ARMS; do  # the training-entity split too
  timeout "$EVAL_SECONDS" "$PY" -m rxt_cli.main eval --model "/tmp/arms/$arm/stage4-memory-aware/model" \
      --data runs/s20/eval/valid.jsonl --device "${DEVICE:-cuda}" --batch-size 100 --out "$OUT/${arm}_eval_valid.json" \
      > "$OUT/${arm}_eval_valid.log" 2>&1 &
done
wait
for arm in $ARMS; do
  tar -czf "$RESULTS/${arm}_model.tar.gz" -C "$OUT" "${arm}_model"
  rm -rf "${OUT:?}/${arm}_model"
done
tar -czf "$RESULTS/results.tar.gz" -C "$OUT" .
ls -la "$RESULTS"

#!/usr/bin/env bash
# Session 19 A/B, short: does training with a sharper slot write (RxTConfig.slot_write_sharpness = 2; at
# eval alone it gave +1-2 points of recall) help? The bundled model (4i) trained on for SECONDS_S (default
# 2,700 s) with stage 4i's recipe on session 19's seed-11 made-up-value dialogues, sharpness 1 (the control)
# vs 2, two 1-thread processes side by side; then rxt eval (no replay probe) on the usual 200 held-out and
# 200 training-entity dialogues. Needs runs/s19/{eval,novel11} from ab.sh. ~55 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
R=runs/s19
SECONDS_S=${SECONDS_S:-2700}
export OMP_NUM_THREADS=1 RAY_AUTH_MODE=disabled
rxt() { .venv/bin/python -m rxt_cli.main "$@"; }
S4=(--stage 4 --tokenizer models/rxt-nano/tokenizer.json --resume --no-progress --log-every 10 --threads 1
    --data $R/novel11/train.jsonl --batch-size 16 --lr 5e-4 --warmup-steps 10 --bptt-turns 0
    --replay-depth 12 --checkpoint-every 25 --steps 5000 --seed 13 --init models/rxt-nano
    --recall-weight 4 --replay-weight 0.3 --max-seconds $SECONDS_S)
arm() {  # arm NAME SHARPNESS
  local out=$R/$1
  mkdir -p $out
  [ -f $out/stage4-memory-aware/model/config.json ] || rxt train "${S4[@]}" --out $out --set slot_write_sharpness=$2 > $out.train.log 2>&1
  for split in heldout valid; do
    [ -f $out/eval_$split.json ] || rxt eval --model $out/stage4-memory-aware/model --data $R/eval/$split.jsonl \
        --threads 1 --out $out/eval_$split.json > $out/eval_$split.txt 2>&1
  done
  echo "arm $1 done $(date)"
}
arm sharp1 1 &
arm sharp2 2 &
wait
echo "all done $(date)"

#!/usr/bin/env bash
# Session 17 A/B: the bundled model (stage 4h) trained on for 5,700 s more with --recall-weight 4
# (session 16's arm, now ~1.4x as many steps), without and with the replay loss lowered to 0.3 (it
# trains the context-matched re-reading that already works; session 16's replay probe). New
# made-up-value dialogues (seed 9); arms side by side as 1-thread processes; then rxt eval on the
# usual 200 held-out and 200 training-entity dialogues. Work folder runs/s17 (~1 h 45 min on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
R=runs/s17
SECONDS_4I=${SECONDS_4I:-5700}
export OMP_NUM_THREADS=1 RAY_AUTH_MODE=disabled
rxt() { .venv/bin/python -m rxt_cli.main "$@"; }
[ -f $R/eval/heldout.jsonl ] || rxt data synth --out $R/eval --train 0 --heldout 200 --seed 0 --min-turns 8 --max-turns 20
[ -f $R/novel9/train.jsonl ] || rxt data synth --out $R/novel9 --train 20000 --heldout 0 --seed 9 --novel-values 0.4
S4=(--stage 4 --tokenizer models/rxt-nano/tokenizer.json --resume --no-progress --log-every 10 --threads 1
    --data $R/novel9/train.jsonl --batch-size 16 --lr 5e-4 --warmup-steps 10 --bptt-turns 0
    --replay-depth 12 --checkpoint-every 25 --steps 5000 --seed 10 --init models/rxt-nano
    --recall-weight 4 --max-seconds $SECONDS_4I)
arm() {  # arm NAME [extra stage-4 flags]
  local name=$1 out=$R/$1; shift
  mkdir -p $out
  [ -f $out/stage4-memory-aware/model/config.json ] || rxt train "${S4[@]}" --out $out "$@" > $out.train.log 2>&1
  for split in heldout valid; do
    [ -f $out/eval_$split.json ] || rxt eval --model $out/stage4-memory-aware/model --data $R/eval/$split.jsonl \
        --threads 1 --replay-probe --out $out/eval_$split.json > $out/eval_$split.txt 2>&1
  done
  echo "arm $name done $(date)"
}
arm recall4 --replay-weight 1.0 &
arm recall4_replay03 --replay-weight 0.3 &
wait
echo "all done $(date)"

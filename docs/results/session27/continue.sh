#!/usr/bin/env bash
# Session 27: continue the bundled 4r (models/rxt-nano) for STEPS (300) stage-4 steps of 4q's recipe
# at LR (3e-4) on 20,000 new dialogues (data seed 38, seed 39), with the arm's FLAGS, then rxt eval
# on the usual held-out (seed 0), training-entity (seed 0) and second held-out (seed 1) dialogues.
# Unlike session 26 (gate only) every weight may train. The arms run (docs/training.md "Session 27"):
#   NAME=all_nll   FLAGS=""   (every weight, the answers' loss alone: no pointer supervision; stopped
#                  at step 30 to free the CPU for the follow arms, not reported)
#   NAME=no_gate   FLAGS="--pointer-weight 1 --train-only decoder. encoder. memory_attention. pointer.slots.
#                  stm_init embedding"   (pointer supervision, the copy gate kept as 4r's: session 25's
#                  supervised gate copied too eagerly until shifted)
# THREADS=1 when two arms run side by side (their evals then run one by one).
# e.g. R=runs/s27 NAME=all_nll THREADS=1 bash docs/results/session27/continue.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
R=${R:-runs/s27} NAME=${NAME:?} THREADS=${THREADS:-2} INIT=${INIT:-models/rxt-nano}
read -ra flags <<< "${FLAGS:-}"
export OMP_NUM_THREADS=1 RAY_AUTH_MODE=disabled
rxt() { .venv/bin/python -m rxt_cli.main "$@"; }
[ -f $R/eval/heldout.jsonl ] || rxt data synth --out $R/eval --train 0 --heldout 200 --seed 0 --min-turns 8 --max-turns 20
[ -f $R/eval1/heldout.jsonl ] || rxt data synth --out $R/eval1 --train 0 --heldout 200 --seed 1 --min-turns 8 --max-turns 20
[ -f $R/data/train.jsonl ] || rxt data synth --out $R/data --train 20000 --heldout 0 --seed 38 --novel-values 0.4 \
    --spliced-values 0.5 --spliced-phrases 0.5 --open-values 0.6
out=$R/$NAME model=$R/$NAME/stage4-memory-aware/model
[ -f $model/config.json ] || rxt train --stage 4 --out $out --data $R/data/train.jsonl --init $INIT \
    --tokenizer models/rxt-nano/tokenizer.json --resume --no-progress --log-every 10 --threads $THREADS \
    --batch-size 16 --lr ${LR:-3e-4} --warmup-steps 10 --bptt-turns 0 --replay-depth 12 --checkpoint-every 25 \
    --steps ${STEPS:-300} --seed 39 --recall-weight 4 --replay-weight 0.3 --keep-weight 1 \
    "${flags[@]}" > $out.train.log 2>&1
ev() { [ -f $out/eval_$2.json ] || rxt eval --model $model --data $1 --threads 1 --replay-probe \
    --out $out/eval_$2.json > $out/eval_$2.txt 2>&1; }
if [ $THREADS = 1 ]; then  # another arm runs beside this one
  ev $R/eval/heldout.jsonl heldout; ev $R/eval/valid.jsonl valid
else
  ev $R/eval/heldout.jsonl heldout & ev $R/eval/valid.jsonl valid & wait
fi
ev $R/eval1/heldout.jsonl heldout_seed1
echo "$NAME done $(date)"

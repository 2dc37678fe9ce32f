#!/usr/bin/env bash
# Session 21, second A/B: with 512 slots (nothing evicted within any training dialogue), do longer
# dialogues teach recall further back? INIT (the first A/B's better arm) grown to 512 slots
# (`--set stm_slots=512`: transplant tiles the learned initial memory) and trained SECONDS (default
# 2,400) more with 4j's recipe (recall weight 4, replay 0.3, keep weight 1, lr 3e-4 cosine over the
# time), seed 25, one thread each, side by side: `usual` on new made-up-value dialogues of 4-16
# turns (data seed 24), `long` on dialogues of 8-24 turns (the same generator and seed otherwise).
# Then rxt eval on the usual 200 held-out and 200 training-entity dialogues. Work folder runs/s21.
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
R=runs/s21
INIT=${INIT:?set INIT to the better model folder of the first A/B}
export OMP_NUM_THREADS=1 RAY_AUTH_MODE=disabled
rxt() { .venv/bin/python -m rxt_cli.main "$@"; }
[ -f $R/usual/train.jsonl ] || rxt data synth --out $R/usual --train 20000 --heldout 0 --seed 24 --novel-values 0.4
[ -f $R/long/train.jsonl ] || rxt data synth --out $R/long --train 20000 --heldout 0 --seed 24 --novel-values 0.4 \
    --min-turns 8 --max-turns 24
S4=(--tokenizer models/rxt-nano/tokenizer.json --resume --no-progress --log-every 10 --threads 1
    --batch-size 16 --lr 3e-4 --warmup-steps 10 --bptt-turns 0 --replay-depth 12 --checkpoint-every 25
    --steps 5000 --max-seconds ${SECONDS_LONG:-2400} --seed 25 --init $INIT --set stm_slots=512
    --recall-weight 4 --replay-weight 0.3 --keep-weight 1 ${EXTRA:-})
for name in ${ARMS:-usual long}; do
  scripts/stage4_ab.sh $R "s512_$name" "${S4[@]}" --data $R/$name/train.jsonl &
done
wait
echo "all done $(date)"

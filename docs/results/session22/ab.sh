#!/usr/bin/env bash
# Session 22 A/Bs: spliced values (session 14-15's copy fix, never in the bundled line) in stage-4
# continuations of a model that already recalls. INIT (default: models/rxt-nano, whichever stage is
# bundled now: 4l when round 1 ran, 4n for round 3, 4o for round 4; keep write, 512 slots) trains
# STEPS (default 800) more with its recipe (recall weight 4, replay 0.3, keep weight 1, lr 3e-4
# cosine to 10% over the steps, seed SEED, one thread each, side by side) on 20,000 new dialogues of
# data seed DATA_SEED with 40% made-up values plus each arm's data flags:
#   control       as they are
#   spliced       --spliced-values 0.5 --spliced-phrases 0.5 (a familiar head finished by another
#                 word's tail, phrases joined from two: only the query says how the value goes on)
#   spliced_open  the same plus --open-values 0.3 (real English words of no pool)
#   open_heavy    the same with --open-values 0.6 (session 23: held-out closed values are real words)
#   spliced_heavy open_heavy with --spliced-values 0.8 --spliced-phrases 0.8 (session 24: held-out
#                 values are often misspelled past their first token)
#   pointer       open_heavy's data, trained with --set memory_pointer=true --pointer-weight 1 (session 25:
#                 the STM also stores its slots' token ids and the decoder may copy one; the pointer
#                 starts fresh and is supervised on recalled values)
# Then rxt eval on the usual 200 held-out and 200 training-entity dialogues. ARMS picks the arms.
# Round 1 (defaults, INIT then 4l; to rerun it now pass INIT=<train_bundled.sh's l-run model>): runs/s22,
#          data seed 26, seed 27, 800 steps, control vs spliced.
# Round 2: R=runs/s22/round2 INIT=runs/s22/spliced/stage4-memory-aware/model DATA_SEED=28 SEED=29
#          STEPS=600 ARMS="spliced spliced_open".
# Round 3 (session 23): R=runs/s23 INIT=models/rxt-nano (then 4n; now: the n-run model) DATA_SEED=30 SEED=31
#          ARMS="spliced_open open_heavy".
# Round 4 (session 24): R=runs/s24 INIT=models/rxt-nano (then 4o; now: the o-run model) DATA_SEED=32
#          SEED=33 ARMS="spliced_open open_heavy".
# Round 5 (session 24): R=runs/s24/round5 INIT=runs/s24/open_heavy/stage4-memory-aware/model (4p)
#          DATA_SEED=34 SEED=35 STEPS=400 ARMS="open_heavy spliced_heavy".
# Round 6 (session 25): R=runs/s24/round5 INIT=<4p: train_bundled.sh's p-run model> DATA_SEED=34 SEED=35 STEPS=400 THREADS=2
#          ARMS="pointer" (its control: round 5's open_heavy arm, the same data, seed and steps); the
#          bundled 4q is its model with the gate shifted: docs/results/session25/gate_shift.py MODEL OUT -2.
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
R=${R:-runs/s22}
export OMP_NUM_THREADS=1 RAY_AUTH_MODE=disabled
rxt() { .venv/bin/python -m rxt_cli.main "$@"; }
declare -A DATA_FLAGS=(
  [control]=""
  [spliced]="--spliced-values 0.5 --spliced-phrases 0.5"
  [spliced_open]="--spliced-values 0.5 --spliced-phrases 0.5 --open-values 0.3"
  [open_heavy]="--spliced-values 0.5 --spliced-phrases 0.5 --open-values 0.6"
  [spliced_heavy]="--spliced-values 0.8 --spliced-phrases 0.8 --open-values 0.6"
  [pointer]="--spliced-values 0.5 --spliced-phrases 0.5 --open-values 0.6"
)
declare -A TRAIN_FLAGS=([pointer]="--set memory_pointer=true --pointer-weight 1")
[ -f $R/eval/heldout.jsonl ] || rxt data synth --out $R/eval --train 0 --heldout 200 --seed 0 --min-turns 8 --max-turns 20
S4=(--tokenizer models/rxt-nano/tokenizer.json --resume --no-progress --log-every 10 --threads ${THREADS:-1}
    --batch-size 16 --lr 3e-4 --warmup-steps 10 --bptt-turns 0 --replay-depth 12 --checkpoint-every 25
    --steps ${STEPS:-800} --seed ${SEED:-27} --init ${INIT:-models/rxt-nano}
    --recall-weight 4 --replay-weight 0.3 --keep-weight 1)
for name in ${ARMS:-control spliced}; do
  read -ra flags <<< "${DATA_FLAGS[$name]}"
  read -ra train_flags <<< "${TRAIN_FLAGS[$name]:-}"
  [ -f $R/${name}_data/train.jsonl ] || rxt data synth --out $R/${name}_data --train 20000 --heldout 0 \
      --seed ${DATA_SEED:-26} --novel-values 0.4 "${flags[@]}"
  scripts/stage4_ab.sh $R "$name" "${S4[@]}" "${train_flags[@]}" --data $R/${name}_data/train.jsonl &
done
wait
echo "all done $(date)"

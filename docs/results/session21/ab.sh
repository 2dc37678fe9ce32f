#!/usr/bin/env bash
# Session 21 A/B: read supervision for the keep write. The bundled model (4j, keep write, 128 slots)
# trained 1,000 more steps (lr 3e-4, cosine to 10% over them) with 4j's recipe (recall weight 4,
# replay 0.3, keep weight 1) on new made-up-value dialogues (data seed 21, seed 23, one thread each,
# identical batches): the control as it is; the read arm adds `--read-weight RHO` (default 1), which
# pushes the decoder's memory read at a recalled answer token towards the slots holding that token
# (read_supervision.py's KeepLedger). ARMS picks the arms (default: both), run side by side; then
# rxt eval on the usual 200 held-out and 200 training-entity dialogues. Work folder runs/s21.
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
R=runs/s21
export OMP_NUM_THREADS=1 RAY_AUTH_MODE=disabled
rxt() { .venv/bin/python -m rxt_cli.main "$@"; }
[ -f $R/eval/heldout.jsonl ] || rxt data synth --out $R/eval --train 0 --heldout 200 --seed 0 --min-turns 8 --max-turns 20
[ -f $R/novel/train.jsonl ] || rxt data synth --out $R/novel --train 20000 --heldout 0 --seed 21 --novel-values 0.4
S4=(--tokenizer models/rxt-nano/tokenizer.json --resume --no-progress --log-every 10 --threads 1
    --data $R/novel/train.jsonl --batch-size 16 --lr 3e-4 --warmup-steps 10 --bptt-turns 0
    --replay-depth 12 --checkpoint-every 25 --steps ${STEPS:-1000} --seed 23 --init models/rxt-nano
    --recall-weight 4 --replay-weight 0.3 --keep-weight 1)
declare -A FLAGS=(
  [control]=""
  [read]="--read-weight ${RHO:-1}"
)
for name in ${ARMS:-control read}; do
  read -ra flags <<< "${FLAGS[$name]}"
  scripts/stage4_ab.sh $R "$name" "${S4[@]}" "${flags[@]}" &
done
wait
echo "all done $(date)"

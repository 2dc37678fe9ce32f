#!/usr/bin/env bash
# Session 20 A/B: the keep write (memory_write=keep: the salient tokens themselves, one per slot,
# newest first; rxt_core/keep_write.py) against the slot write it replaces. The bundled model
# (stage 4i) trained on for SECONDS_4J (default 4,800 s) with stage 4i's recipe (recall weight 4,
# replay 0.3) on new made-up-value dialogues (seed 20): the control as it is, the keep arm
# transplanted (`--set memory_write=keep`: the slot write's value projection carried over, a fresh
# salience head) and trained with `--keep-weight 1`. Both arms have 64 slots; a third, keep_s128,
# is the keep arm with 128 slots (started ~6 min after the others: the keep arm turned out to
# keep ~13 tokens a turn, ~5 turns in 64 slots). ARMS picks the arms (default: all three), run side
# by side as 1-thread processes; then rxt eval on the usual 200 held-out and 200 training-entity
# dialogues. Work folder runs/s20 (~1 h 40 min on 2 cores).
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
R=runs/s20
SECONDS_4J=${SECONDS_4J:-4800}
export OMP_NUM_THREADS=1 RAY_AUTH_MODE=disabled
rxt() { .venv/bin/python -m rxt_cli.main "$@"; }
[ -f $R/eval/heldout.jsonl ] || rxt data synth --out $R/eval --train 0 --heldout 200 --seed 0 --min-turns 8 --max-turns 20
[ -f $R/novel/train.jsonl ] || rxt data synth --out $R/novel --train 20000 --heldout 0 --seed 20 --novel-values 0.4
S4=(--stage 4 --tokenizer models/rxt-nano/tokenizer.json --resume --no-progress --log-every 10 --threads 1
    --data $R/novel/train.jsonl --batch-size 16 --lr 5e-4 --warmup-steps 10 --bptt-turns 0
    --replay-depth 12 --checkpoint-every 25 --steps 5000 --seed 22 --init models/rxt-nano
    --recall-weight 4 --replay-weight 0.3 --max-seconds $SECONDS_4J)
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
declare -A FLAGS=(
  [control]=""
  [keep]="--set memory_write=keep --keep-weight 1"
  [keep_s128]="--set memory_write=keep --keep-weight 1 --set stm_slots=128"
)
for name in ${ARMS:-control keep keep_s128}; do
  read -ra flags <<< "${FLAGS[$name]}"
  arm "$name" "${flags[@]}" &
done
wait
echo "all done $(date)"

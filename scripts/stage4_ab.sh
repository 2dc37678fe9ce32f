#!/usr/bin/env bash
# One arm of a stage-4 A/B: train, then `rxt eval` on the held-out and the training-entity
# dialogues. Usage: scripts/stage4_ab.sh WORK NAME STAGE-4 FLAGS...
# WORK/eval/{heldout,valid}.jsonl must exist; the arm trains into WORK/NAME (log WORK/NAME.train.log,
# resumable: a finished step is skipped) and writes WORK/NAME/eval_{heldout,valid}.{json,txt}.
# Each session's docs/results/sessionN/ab.sh holds the flags all its arms share and what sets them apart.
set -euo pipefail
cd "$(dirname "$0")/.."  # the repository root
work=$1 name=$2 out=$1/$2
shift 2
export RAY_AUTH_MODE=disabled
rxt() { .venv/bin/python -m rxt_cli.main "$@"; }
mkdir -p "$out"
[ -f "$out/stage4-memory-aware/model/config.json" ] || rxt train --stage 4 --out "$out" "$@" > "$out.train.log" 2>&1
for split in heldout valid; do
  [ -f "$out/eval_$split.json" ] || rxt eval --model "$out/stage4-memory-aware/model" --data "$work/eval/$split.jsonl" \
      --threads 1 --replay-probe --out "$out/eval_$split.json" > "$out/eval_$split.txt" 2>&1
done
echo "arm $name done $(date)"

#!/usr/bin/env bash
# Session 26: retrain only the bundled 4q's copy gate (every other weight frozen: --train-only
# pointer.gate., or what TRAIN_ONLY / a later --train-only in FLAGS names: session 27 retrained the
# slot pointer's parts this way) for STEPS (200) stage-4 steps at LR (1e-3) with the arm's FLAGS, then rxt eval on the
# usual held-out (seed 0), training-entity (seed 0) and second held-out (seed 1) dialogues. The other
# weights are 4q's, so the comparison with 4q (shift -2) and its unshifted gate (session 25's round 6)
# is the gate's alone. THREADS=1 when two arms run side by side (their evals then run one by one).
# The arms run (docs/training.md "Session 26"):
#   NAME=better            FLAGS="--pointer-weight 1 --gate-target better"              THREADS=2
#   NAME=agree_nll         FLAGS="--set pointer_gate=agreement"                         THREADS=1
#   NAME=agree_better      FLAGS="--set pointer_gate=agreement --pointer-weight 1 --gate-target better" THREADS=1
#   NAME=agree_nll_lr1e-2  LR=1e-2 FLAGS="--set pointer_gate=agreement"                 THREADS=1
#   NAME=follow            LR=1e-2 THREADS=1 FLAGS="--set pointer_gate=agreement --set pointer_follows=true
#                          --train-only pointer.gate. pointer.slots.follow"  (the later --train-only wins)
#   NAME=follow_gate       (session 27) LR=1e-2 THREADS=1 INIT=runs/4q (4q: git show 3bcaf46:models/rxt-nano/...)
#                          FLAGS="--set pointer_gate=agreement+follow --set pointer_follows=true
#                          --train-only pointer.gate. pointer.slots.follow"  (the follow arm + the gate's follow feature)
#   NAME=follow_sup        (session 27) R=runs/s27 (data seed 38, continue.sh's) LR=1e-2 THREADS=1 INIT=models/rxt-nano (4r then)
#                          FLAGS="--pointer-weight 1 --train-only pointer.slots.follow"  (the control)
#   NAME=follow_ctx        (session 27, bundled 4s) as follow_sup, FLAGS="--set pointer_follow_context=true
#                          --pointer-weight 1 --train-only pointer.slots.follow"
#   NAME=no_gate_ctx       (session 27) as follow_ctx, INIT=runs/s27/no_gate/stage4-memory-aware/model
#                          (its evaluation was stopped to free the CPU: not reported)
#   NAME=slots_sup         (session 27, bundled 4t) R=runs/s27 LR=1e-3 THREADS=1 INIT=models/rxt-nano (4s then)
#                          FLAGS="--pointer-weight 1 --train-only pointer.slots."; slots_sup_400: STEPS=400
#   NAME=query_gate        (session 28, bundled 4u) R=runs/s28 DATA_SEED=38 LR=1e-2 THREADS=1 INIT=models/rxt-nano (4t then)
#                          TRAIN_ONLY="pointer.gate." FLAGS="--set pointer_reads_query=true"
#   NAME=qg_slots          (session 28, bundled 4v) as slots_sup, INIT=runs/s28/query_gate/stage4-memory-aware/model
#                          TRAIN_ONLY="pointer.slots." FLAGS="--pointer-weight 1"
#   NAME=query_ptr         (session 28) as query_gate, LR=1e-3 TRAIN_ONLY="pointer." FLAGS="--set
#                          pointer_reads_query=true --pointer-weight 1 --gate-target better"
#   NAME=q_slots           (session 28) as slots_sup from 4t, FLAGS="--set pointer_reads_query=true --pointer-weight 1"
#   NAME=qgs_gate          (session 28) as query_gate, SEED=41 INIT=runs/s28/qg_slots/stage4-memory-aware/model, FLAGS=""
#   Session 29 (R=runs/s29 DATA_SEED=38 THREADS=1 EVAL=0 INIT=models/rxt-nano, 4v then; screened with held.py):
#   NAME=qt_w1             LR=1e-2 FLAGS="--pointer-weight 1 --gate-target query" (the whole gate; qt_w03: --pointer-weight 0.3)
#   NAME=gf_mix            LR=1e-2 FLAGS="--set pointer_gate=agreement+follow"; gf_query: + "--pointer-weight 1 --gate-target query"
#   NAME=gq_mix            LR=1e-2 TRAIN_ONLY="pointer.gate.query" FLAGS="--set pointer_gate=agreement+query"
#   NAME=gq_told           LR=1e-2 TRAIN_ONLY="pointer.gate.query" FLAGS="--set pointer_gate=agreement+query
#                          --pointer-weight 1 --gate-target query"; gq_told_lr3e-2: LR=3e-2;
#                          gq_told_lr1e-1 (bundled 4w): LR=1e-1; gq_told_lr5e-2: LR=5e-2 THREADS=2
#   NAME=gq_better_lr1e-1  LR=1e-1 TRAIN_ONLY="pointer.gate.query" FLAGS="--set pointer_gate=agreement+query
#                          --pointer-weight 1 --gate-target better"; gq_mix_lr1e-1: LR=1e-1, FLAGS="--set pointer_gate=agreement+query"
#   Session 30 (R=runs/s30 DATA_SEED=38 THREADS=1 EVAL=0 LR=1e-2; INIT = 4w with session 30's option set to 0 by
#   docs/results/session30/recall_priors.py, e.g. MODEL OUT source=0; screened with held.py):
#   NAME=src_from0         INIT=(4w, source=0) TRAIN_ONLY="pointer.slots.source" FLAGS="--pointer-weight 1 --gate-target query"
#                          src_from10: INIT=(4w, source=10); src_noise: as src_from0, FLAGS + "--ack-noise 0.2";
#                          src_noise05: "--ack-noise 0.5", THREADS=2
#   NAME=rec_learn         INIT=(4w, recency=0) TRAIN_ONLY="pointer.slots.recency" FLAGS="--pointer-weight 1 --gate-target query"
# INIT is the model retrained: models/rxt-nano, which was 4q when session 26 ran this, 4r when session 27 did (4s now).
# DATA_SEED (36), SEED (37) and TRAIN_ONLY ("pointer.gate."; empty: every weight) let
# docs/results/session27/continue.sh run the same steps as a continuation of the whole model.
# e.g. R=runs/s26 NAME=better FLAGS="--pointer-weight 1 --gate-target better" bash docs/results/session26/gate_retrain.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
R=${R:-runs/s26} NAME=${NAME:?} THREADS=${THREADS:-2} INIT=${INIT:-models/rxt-nano}
read -ra flags <<< "${FLAGS:-}"
read -ra only <<< "${TRAIN_ONLY-pointer.gate.}"
[ ${#only[@]} = 0 ] || only=(--train-only "${only[@]}")
export OMP_NUM_THREADS=1 RAY_AUTH_MODE=disabled
rxt() { .venv/bin/python -m rxt_cli.main "$@"; }
[ -f $R/eval/heldout.jsonl ] || rxt data synth --out $R/eval --train 0 --heldout 200 --seed 0 --min-turns 8 --max-turns 20
[ -f $R/eval1/heldout.jsonl ] || rxt data synth --out $R/eval1 --train 0 --heldout 200 --seed 1 --min-turns 8 --max-turns 20
[ -f $R/data/train.jsonl ] || rxt data synth --out $R/data --train 20000 --heldout 0 --seed ${DATA_SEED:-36} --novel-values 0.4 \
    --spliced-values 0.5 --spliced-phrases 0.5 --open-values 0.6
out=$R/$NAME model=$R/$NAME/stage4-memory-aware/model
[ -f $model/config.json ] || rxt train --stage 4 --out $out --data $R/data/train.jsonl --init $INIT \
    --tokenizer models/rxt-nano/tokenizer.json --resume --no-progress --log-every 10 --threads $THREADS \
    --batch-size 16 --lr ${LR:-1e-3} --warmup-steps 10 --bptt-turns 0 --replay-depth 12 --checkpoint-every 25 \
    --steps ${STEPS:-200} --seed ${SEED:-37} --recall-weight 4 --replay-weight 0.3 --keep-weight 1 \
    "${only[@]}" "${flags[@]}" > $out.train.log 2>&1
[ "${EVAL:-1}" = 1 ] || exit 0  # EVAL=0: train only (session 29 screened arms with held.py)
ev() { [ -f $out/eval_$2.json ] || rxt eval --model $model --data $1 --threads 1 --replay-probe \
    --out $out/eval_$2.json > $out/eval_$2.txt 2>&1; }
if [ $THREADS = 1 ]; then  # another arm runs beside this one
  ev $R/eval/heldout.jsonl heldout; ev $R/eval/valid.jsonl valid
else
  ev $R/eval/heldout.jsonl heldout & ev $R/eval/valid.jsonl valid & wait
fi
ev $R/eval1/heldout.jsonl heldout_seed1
echo "$NAME done $(date)"

#!/usr/bin/env bash
# Session 27: continue the bundled 4r (models/rxt-nano then) for STEPS (300) stage-4 steps of 4q's
# recipe at LR (3e-4) on 20,000 new dialogues (data seed 38, seed 39), with the arm's FLAGS, then
# rxt eval on the usual three sets: docs/results/session26/gate_retrain.sh with every weight free
# (TRAIN_ONLY empty) unless FLAGS name some. The arms run (docs/training.md "Session 27"):
#   NAME=all_nll   FLAGS=""   (every weight, the answers' loss alone: no pointer supervision; stopped
#                  at step 30 to free the CPU for the follow arms, not reported)
#   NAME=no_gate   FLAGS="--pointer-weight 1 --train-only decoder. encoder. memory_attention. pointer.slots.
#                  stm_init embedding"   (pointer supervision, the copy gate kept as 4r's: session 25's
#                  supervised gate copied too eagerly until shifted)
# THREADS=1 when two arms run side by side (their evals then run one by one).
# e.g. R=runs/s27 NAME=no_gate THREADS=1 FLAGS="..." bash docs/results/session27/continue.sh
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
R=${R:-runs/s27} DATA_SEED=38 SEED=39 LR=${LR:-3e-4} STEPS=${STEPS:-300} TRAIN_ONLY="" \
    exec bash docs/results/session26/gate_retrain.sh

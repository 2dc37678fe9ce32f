#!/usr/bin/env bash
# Reproduce the bundled model (models/rxt-nano) end to end on CPU, about 16 hours on 2 cores:
#   synthetic dialogues -> tokenizer -> curriculum stages 1-4 -> stateless baseline -> eval
#   -> models/rxt-nano + loss-curve PNGs under docs/.
# Every step is seeded; rerunning resumes: finished stages are skipped, interrupted ones continue
# from their last checkpoint. RUN=... changes the work folder; STAGE4A_SECONDS (stage 4 on short
# dialogues), STAGE4B_SECONDS (then on the full ones), STAGE4C_SECONDS / STAGE4D_SECONDS /
# STAGE4E_SECONDS (deep replay) and BASELINE_SECONDS the time budgets (the budgets make the step
# counts depend on the machine's speed; set them high to train for the full step counts instead).
# Stage 4f (on dialogues with made-up values) runs a fixed 600 steps; 4g (the slot write), 4h, 4i and
# 4j (the keep write) STAGE4G_SECONDS ... STAGE4J_SECONDS; 4k a fixed 1,000 steps; 4l
# STAGE4L_SECONDS; 4m (spliced values), 4n, 4o, 4p, 4q (the memory pointer), 4r (its gate and
# follow bonus alone), 4s (the follow bonus by context), 4t (the slot pointer alone), 4u (the pointer
# reads the query; its gate alone), 4v (then the slot pointer alone) and 4w (the gate's trust in the
# query's slots alone) a fixed 800, 600, 800, 800, 400, 200, 200, 200, 200, 200 and 200 steps; 4x
# sets session 30's recall priors on 4w and 4y session 31's recency prior on 4x (no training). VOCAB (2048) sets the tokenizer's size, and the model's with it (session 11: at 1024
# the held-out values stop arriving as rare fragments; session 12 trained it: unseen small-pool
# values are still not copied, so 2048 stays; docs/training.md).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-runs/bundled}
PY=${PY:-.venv/bin/python}
STAGE4A_SECONDS=${STAGE4A_SECONDS:-1500}
STAGE4B_SECONDS=${STAGE4B_SECONDS:-1200}
STAGE4C_SECONDS=${STAGE4C_SECONDS:-900}
STAGE4D_SECONDS=${STAGE4D_SECONDS:-840}
STAGE4E_SECONDS=${STAGE4E_SECONDS:-5700}
STAGE4G_SECONDS=${STAGE4G_SECONDS:-3600}
STAGE4H_SECONDS=${STAGE4H_SECONDS:-2520}
STAGE4I_SECONDS=${STAGE4I_SECONDS:-4800}
STAGE4J_SECONDS=${STAGE4J_SECONDS:-4800}
STAGE4L_SECONDS=${STAGE4L_SECONDS:-2400}
BASELINE_SECONDS=${BASELINE_SECONDS:-7800}
VOCAB=${VOCAB:-2048}
export OMP_NUM_THREADS=1 RAY_AUTH_MODE=${RAY_AUTH_MODE:-disabled}
rxt() { "$PY" -m rxt_cli.main "$@"; }

# 1. Data (seed 0): 20k training dialogues of 4-16 turns and 30k one-turn echo dialogues (copy
#    1-4 names in order); 200 held-out dialogues of 8-20 turns whose entities never occur in
#    training; 20k short dialogues (2-8 turns, seed 1) for the first half of stage 4.
#    Tokenizer: byte-level BPE, $VOCAB (2048) tokens.
[ -f "$RUN/data/echo.jsonl" ] || rxt data synth --out "$RUN/data" --train 20000 --heldout 200 --seed 0 --echo 30000
[ -f "$RUN/short/train.jsonl" ] || rxt data synth --out "$RUN/short" --train 20000 --heldout 0 --seed 1 \
    --min-turns 2 --max-turns 8
[ -f "$RUN/eval/heldout.jsonl" ] || rxt data synth --out "$RUN/eval" --train 0 --heldout 200 --seed 0 \
    --min-turns 8 --max-turns 20
#    Stage 4f and the baseline: 20k dialogues (seed 3) in which 40% of the stated values are made
#    up (random letters, syllables, other pools' values, 100-9999 for numbers): docs/data.md.
[ -f "$RUN/novel/train.jsonl" ] || rxt data synth --out "$RUN/novel" --train 20000 --heldout 200 --seed 3 \
    --novel-values 0.4
[ -f "$RUN/tokenizer.json" ] || rxt data tokenizer --data "$RUN/data/train.jsonl" --vocab-size "$VOCAB" \
    --out "$RUN/tokenizer.json"

# 2. Model: the nano preset narrowed to dim 128 (4 layers, 4 heads, 4+1 experts of 256, 64 slots,
#    128 positions, simple memory attention with linear sigmoid gates): ~3.9M parameters.
MODEL=(--preset nano --set max_seq_len=128 --set dim=128
       --set 'attention={"heads":4,"query_heads":4,"kv_heads":2}'
       --set 'moe={"experts":4,"top_k":2,"shared_experts":1,"expert_hidden":256}'
       --set encoder_ffn_hidden=384 --set stm_slots=64 --set 'memory_attention="simple"')
COMMON=(--tokenizer "$RUN/tokenizer.json" --seed 0 --resume --no-progress --log-every 10)
TRAIN=(--data "$RUN/data/train.jsonl" --out "$RUN/run" "${COMMON[@]}")
done_() { [ -f "$RUN/run/$1/model/config.json" ]; }

# 3. Stages 1-2 teach the language and, with little noise (0.2 x std) on the encoder states,
#    teach the decoder to *read* its memory cross-attention (with the paper's 150 steps and 0.5
#    noise it learned to ignore it). Stage 2 (2,500 steps) also teaches it to *copy* from its own
#    context: half its rows read another row's encoder states (--swap-prob 0.5), and its rows are
#    the 30k echo dialogues plus the first 10k training dialogues (~23% echo rows). Without this
#    the model copied 11% of held-out values from the query, with it 45-49% (docs/training.md).
#    Stage 3 is skipped: its target (the token mean of ED) makes every slot the same vector.
#    Stage 4 starts from stage 2, with the replay loss, first on short dialogues, then on the
#    full ones.
done_ stage1-joint-lm || rxt train --stage 1 "${TRAIN[@]}" "${MODEL[@]}" --threads 2 --steps 150 \
    --batch-size 32 --lr 2e-3 --warmup-steps 15 --noise-std 0.2 --checkpoint-every 50 --max-dialogues 5000
done_ stage2-interaction-sft || rxt train --stage 2 --data "$RUN/data/echo.jsonl" "$RUN/data/train.jsonl" \
    --out "$RUN/run" "${COMMON[@]}" --threads 2 --steps 2500 --batch-size 32 --lr 2e-3 --warmup-steps 10 \
    --noise-std 0.2 --swap-prob 0.5 --checkpoint-every 100 --max-dialogues 40000
STAGE4=(--stage 4 "${COMMON[@]}" --batch-size 16 --lr 2e-3 --warmup-steps 30 --bptt-turns 0
        --unfreeze-encoder-step 20 --replay-weight 1.0 --checkpoint-every 25 --steps 3000)
[ -f "$RUN/short-run/stage4-memory-aware/model/config.json" ] || rxt train "${STAGE4[@]}" \
    --data "$RUN/short/train.jsonl" --out "$RUN/short-run" --init "$RUN/run/stage2-interaction-sft/model" \
    --max-seconds "$STAGE4A_SECONDS" > "$RUN/stage4a.log" 2>&1
done_ stage4-memory-aware || rxt train "${STAGE4[@]}" --data "$RUN/data/train.jsonl" --out "$RUN/run" \
    --init "$RUN/short-run/stage4-memory-aware/model" --threads 2 --max-seconds "$STAGE4B_SECONDS" \
    > "$RUN/stage4b.log" 2>&1
# Stages 4c and 4d: the replay re-reads the interaction up to 3, then up to 7 turns back
# (--replay-depth 4, 8), which teaches the memory write to keep earlier interactions: recall 2-5
# turns back went from ~0% to 4-11% (docs/training.md).
DEEP=(--stage 4 --tokenizer "$RUN/tokenizer.json" --resume --no-progress --log-every 10 --threads 1
      --data "$RUN/data/train.jsonl" --batch-size 16 --lr 1e-3 --warmup-steps 10 --bptt-turns 0
      --replay-weight 1.0 --checkpoint-every 25 --steps 3000)
[ -f "$RUN/deep-run/stage4-memory-aware/model/config.json" ] || rxt train "${DEEP[@]}" --seed 0 \
    --out "$RUN/deep-run" --init "$RUN/run/stage4-memory-aware/model" --replay-depth 4 \
    --max-seconds "$STAGE4C_SECONDS" > "$RUN/stage4c.log" 2>&1
[ -f "$RUN/deeper-run/stage4-memory-aware/model/config.json" ] || rxt train "${DEEP[@]}" --seed 1 \
    --out "$RUN/deeper-run" --init "$RUN/deep-run/stage4-memory-aware/model" --replay-depth 8 \
    --max-seconds "$STAGE4D_SECONDS" > "$RUN/stage4d.log" 2>&1
# 4. The stateless baseline (>= 1.5x RxT's parameters, whole history in context) trains beside
#    stages 4e and 4f (one thread each), 130 minutes, on the dialogues with made-up values (the
#    data of RxT's last stage: if anything it favours the baseline on held-out values).
BASELINE_PID=
if ! done_ baseline; then
  rxt train --stage baseline --data "$RUN/novel/train.jsonl" --out "$RUN/run" "${COMMON[@]}" "${MODEL[@]}" \
    --threads 1 --steps 6000 --batch-size 16 --lr 2e-3 --warmup-steps 30 --checkpoint-every 50 \
    --max-seconds "$BASELINE_SECONDS" > "$RUN/baseline.log" 2>&1 &
  BASELINE_PID=$!
fi
# Stage 4e: 95 more minutes, the replay reaching up to 11 turns back (session 4: recall 1-8
# turns back 9.3% -> 15.2%, 9-16 turns back 0.6% -> 3.4%).
[ -f "$RUN/e-run/stage4-memory-aware/model/config.json" ] || rxt train "${DEEP[@]}" --seed 2 --out "$RUN/e-run" \
    --init "$RUN/deeper-run/stage4-memory-aware/model" --replay-depth 12 \
    --max-seconds "$STAGE4E_SECONDS" > "$RUN/stage4e.log" 2>&1
# Stage 4f: 600 steps on dialogues with made-up values (session 5: held-out PPL 5.81 -> 2.93, values
# copied into the answer 32% -> 47%, recall 1-8 turns back 15.2% -> 18.9%; the same steps on
# ordinary dialogues: 5.75, 36%, 17.3%).
[ -f "$RUN/f-run/stage4-memory-aware/model/config.json" ] || rxt train "${DEEP[@]}" --lr 7e-4 --steps 600 \
    --seed 3 --out "$RUN/f-run" --data "$RUN/novel/train.jsonl" --init "$RUN/e-run/stage4-memory-aware/model" \
    --replay-depth 12 > "$RUN/stage4f.log" 2>&1
[ -z "$BASELINE_PID" ] || wait "$BASELINE_PID"
# Stages 4g-4t each train on 20,000 new dialogues in which 40% of the stated values are made up:
# late_stage NAME DATA_SEED INIT FLAGS... synthesises "$RUN/novel$DATA_SEED" if missing (with the
# data flags in DATA_EXTRA, set before the stages that add some), trains into "$RUN/$NAME-run" from
# INIT with the flags every such stage shares plus its own, logs to stage4$NAME.log.
LATE=(--stage 4 --tokenizer "$RUN/tokenizer.json" --resume --no-progress --log-every 10 --batch-size 16
      --warmup-steps 10 --bptt-turns 0 --replay-depth 12 --checkpoint-every 25)
DATA_EXTRA=()
late_stage() {
  local name=$1 seed=$2 init=$3 data="$RUN/novel$2"
  shift 3
  [ -f "$data/train.jsonl" ] || rxt data synth --out "$data" --train 20000 --heldout 0 --seed "$seed" --novel-values 0.4 \
      "${DATA_EXTRA[@]}"
  [ -f "$RUN/$name-run/stage4-memory-aware/model/config.json" ] || rxt train "${LATE[@]}" --data "$data/train.jsonl" \
      --out "$RUN/$name-run" --init "$init" "$@" > "$RUN/stage4$name.log" 2>&1
}
# Stage 4g: the slot-allocating memory write (memory_write="slot", rxt_core/slot_write.py) replaces
# the gated one; decoder and encoder carry over from 4f, the write starts fresh. 60 minutes, two
# threads, on 20,000 new made-up-value dialogues (seed 4). Session 7 (1,586 steps): held-out recall
# 1-8 turns back 18.9% -> 27.2%, 9-16 turns back 1.7% -> 9.8% (docs/training.md "Session 7").
late_stage g 4 "$RUN/f-run/stage4-memory-aware/model" --threads 2 --lr 7e-4 --replay-weight 1.0 --steps 5000 \
    --seed 5 --set 'memory_write="slot"' --max-seconds "$STAGE4G_SECONDS"
# Stage 4h: 42 more minutes of the same on another 20,000 such dialogues (seed 6), lr 5e-4 (session 7,
# 1,094 steps: held-out recall 1-8 turns back 27.2% -> 28.1%, 9-16 9.8% -> 11.5%, PPL 2.547 -> 2.473).
late_stage h 6 "$RUN/g-run/stage4-memory-aware/model" --threads 2 --lr 5e-4 --replay-weight 1.0 --steps 5000 \
    --seed 6 --max-seconds "$STAGE4H_SECONDS"
# Stage 4i: 80 more minutes (one thread) on another 20,000 such dialogues (seed 9), the answer tokens
# only memory can supply weighted 4x and the replay loss lowered to 0.3 (session 18, 976 steps: held-out
# recall 1-8 turns back 28.1% -> 30.6%, 9-16 11.5% -> 13.2%, PPL 2.473 -> 2.315; the same with replay
# 1.0: 26.9%, 12.6%, 2.475; docs/training.md "Session 18").
RECIPE_4I=(--threads 1 --replay-weight 0.3 --recall-weight 4)
late_stage i 9 "$RUN/h-run/stage4-memory-aware/model" "${RECIPE_4I[@]}" --lr 5e-4 --steps 5000 --seed 10 \
    --max-seconds "$STAGE4I_SECONDS"
# Stage 4j: the keep write (memory_write="keep", rxt_core/keep_write.py: the salient tokens themselves,
# one per slot, newest first) replaces the slot write, with 128 slots; decoder and encoder carry over
# from 4i, and the slot write's value projection becomes the keep write's. 80 minutes (one thread) of
# 4i's recipe on another 20,000 made-up-value dialogues (seed 20), the salience head trained by
# --keep-weight 1 (session 20: see docs/training.md "Session 20").
late_stage j 20 "$RUN/i-run/stage4-memory-aware/model" "${RECIPE_4I[@]}" --lr 5e-4 --steps 5000 --seed 22 \
    --set memory_write=keep --set stm_slots=128 --keep-weight 1 --max-seconds "$STAGE4J_SECONDS"
# Stage 4k: 1,000 more steps of 4j's recipe (one thread) at lr 3e-4, cosine to 10% over them, on
# another 20,000 made-up-value dialogues (seed 21) (session 21: see docs/training.md "Session 21").
late_stage k 21 "$RUN/j-run/stage4-memory-aware/model" "${RECIPE_4I[@]}" --keep-weight 1 --lr 3e-4 --steps 1000 \
    --seed 23
# Stage 4l: 512 slots (`--set stm_slots=512`: the keep write's queue 4x longer, the learned initial
# memory tiled) and 40 minutes more (one thread) of the same recipe, lr 3e-4 cosine over the time, on
# another 20,000 made-up-value dialogues (seed 24) (session 21).
late_stage l 24 "$RUN/k-run/stage4-memory-aware/model" "${RECIPE_4I[@]}" --keep-weight 1 --lr 3e-4 --steps 5000 \
    --max-seconds "$STAGE4L_SECONDS" --seed 25 --set stm_slots=512
# Stage 4m: 800 more steps of the same recipe (one thread, lr 3e-4 cosine to 10% over them) on 20,000
# new dialogues (seed 26) in which, besides the made-up values, half of the stated pool values are
# spliced (`--spliced-values 0.5 --spliced-phrases 0.5`: a familiar head finished by another word's
# tail, or two phrases joined: only the query says how the value goes on) (session 22).
SPLICED=(--spliced-values 0.5 --spliced-phrases 0.5)
DATA_EXTRA=("${SPLICED[@]}")
late_stage m 26 "$RUN/l-run/stage4-memory-aware/model" "${RECIPE_4I[@]}" --keep-weight 1 --lr 3e-4 --steps 800 \
    --seed 27
# Stage 4n: 600 more steps of 4m (lr 3e-4 cosine to 10% over them) on another 20,000 (seed 28) with
# open values too (`--open-values 0.3`: real English words of no pool) (session 22).
DATA_EXTRA=("${SPLICED[@]}" --open-values 0.3)
late_stage n 28 "$RUN/m-run/stage4-memory-aware/model" "${RECIPE_4I[@]}" --keep-weight 1 --lr 3e-4 --steps 600 \
    --seed 29
# Stage 4o: 800 more steps of 4n's recipe and data flags on another 20,000 (seed 30) (session 23).
late_stage o 30 "$RUN/n-run/stage4-memory-aware/model" "${RECIPE_4I[@]}" --keep-weight 1 --lr 3e-4 --steps 800 \
    --seed 31
# Stage 4p: 800 more steps of the same on another 20,000 (seed 32) with twice the open values
# (`--open-values 0.6`: held-out values of the closed kinds are real words) (session 24).
DATA_EXTRA=("${SPLICED[@]}" --open-values 0.6)
late_stage p 32 "$RUN/o-run/stage4-memory-aware/model" "${RECIPE_4I[@]}" --keep-weight 1 --lr 3e-4 --steps 800 \
    --seed 33
# Stage 4q: the memory pointer (session 25: the STM also stores each slot's token id and the decoder
# may copy one; rxt_core/memory_pointer.py), 400 steps of the same recipe on another 20,000 (seed 34)
# with pointer supervision (`--set memory_pointer=true --pointer-weight 1`; the pointer starts fresh),
# then the copy gate's logit shifted by -2 (a more cautious gate: docs/training.md "Session 25").
# The bundled 4q was trained with two threads (docs/results/session22/ab.sh round 6), same flags.
late_stage q 34 "$RUN/p-run/stage4-memory-aware/model" "${RECIPE_4I[@]}" --keep-weight 1 --lr 3e-4 --steps 400 \
    --seed 35 --set memory_pointer=true --pointer-weight 1
[ -f "$RUN/q-shifted/config.json" ] || "$PY" docs/results/session25/gate_shift.py \
    "$RUN/q-run/stage4-memory-aware/model" "$RUN/q-shifted" -2
# Stage 4r: only the copy gate and a new follow bonus train (`--train-only`; every other weight is
# 4q's), 200 steps at lr 1e-2 on another 20,000 (seed 36): the gate also reads how the head rates
# the pointer's pick (`pointer_gate=agreement`) and the pointer favours the slot after the one
# holding the token just read (`pointer_follows=true`) (session 26: docs/training.md "Session 26";
# the bundled 4r is docs/results/session26/gate_retrain.sh's follow arm, same flags).
late_stage r 36 "$RUN/q-shifted" "${RECIPE_4I[@]}" --keep-weight 1 --lr 1e-2 --steps 200 --seed 37 \
    --set pointer_gate=agreement --set pointer_follows=true --train-only pointer.gate. pointer.slots.follow
# Stage 4s: only the follow bonus trains, now scaled by the decoder's state (`pointer_follow_context`:
# FOLLOW_SCALE · (β + w · h)), with pointer supervision, 200 steps at lr 1e-2 on another 20,000
# (seed 38) (session 27: docs/training.md "Session 27"; the bundled 4s is
# docs/results/session26/gate_retrain.sh's follow_ctx arm, same flags, from 4r).
late_stage s 38 "$RUN/r-run/stage4-memory-aware/model" "${RECIPE_4I[@]}" --keep-weight 1 --lr 1e-2 --steps 200 \
    --seed 37 --set pointer_follow_context=true --pointer-weight 1 --train-only pointer.slots.follow
# Stage 4t: then the whole slot pointer (its query, key and follow bonus; the rest, the gate
# included, frozen) with pointer supervision, 200 steps at lr 1e-3 on the same 20,000 (session 27:
# gate_retrain.sh's slots_sup arm, same flags, from 4s).
late_stage t 38 "$RUN/s-run/stage4-memory-aware/model" "${RECIPE_4I[@]}" --keep-weight 1 --lr 1e-3 --steps 200 \
    --seed 37 --pointer-weight 1 --train-only pointer.slots.
# Stage 4u: the pointer also reads the query being answered (`pointer_reads_query`: its slots are
# those of a copy of the STM with the query written in, so an answer can copy a value its query has
# just stated), and only the copy gate trains, 200 steps at lr 1e-2 on the same 20,000 (session 28:
# docs/training.md "Session 28"; gate_retrain.sh's query_gate arm, same flags, from 4t).
late_stage u 38 "$RUN/t-run/stage4-memory-aware/model" "${RECIPE_4I[@]}" --keep-weight 1 --lr 1e-2 --steps 200 \
    --seed 37 --set pointer_reads_query=true --train-only pointer.gate.
# Stage 4v: then the slot pointer alone with pointer supervision (which now also teaches the values a
# query states and its answer repeats), 200 steps at lr 1e-3 on the same 20,000 (session 28:
# gate_retrain.sh's qg_slots arm, same flags, from 4u).
late_stage v 38 "$RUN/u-run/stage4-memory-aware/model" "${RECIPE_4I[@]}" --keep-weight 1 --lr 1e-3 --steps 200 \
    --seed 37 --pointer-weight 1 --train-only pointer.slots.
# Stage 4w: the copy gate also reads how much of the pointer's choice went to the slots the query
# just wrote (`pointer_gate=agreement+query`), and only those two new weights train, told to open
# at the values an answer copies from its own query (`--gate-target query`), 200 steps at lr 1e-1
# on the same 20,000 (session 29: docs/training.md "Session 29"; gate_retrain.sh's gq_told_lr1e-1
# arm, same flags, from 4v).
late_stage w 38 "$RUN/v-run/stage4-memory-aware/model" "${RECIPE_4I[@]}" --keep-weight 1 --lr 1e-1 --steps 200 \
    --seed 37 --set pointer_gate=agreement+query --pointer-weight 1 --gate-target query \
    --train-only pointer.gate.query
# Stage 4x: no training. Session 30's recall priors set on 4w (docs/training.md "Session 30"): the
# keep write keeps whole words, a query's first token is stored as its space-led twin (both from the
# tokenizer's word tables), and the pointer's bonus for the slots a user's query wrote is 10.
[ -f "$RUN/x-priors/config.json" ] || "$PY" docs/results/session30/recall_priors.py \
    "$RUN/w-run/stage4-memory-aware/model" "$RUN/x-priors" twins words source=10
# Stage 4y: no training. Session 31's recency prior set on 4x (docs/training.md "Session 31"): the
# pointer prefers newer slots by 2 · -log(1 + slot index) as a tie-break where a value starts
# (weighed by σ(4 - the follow bonus) and by how torn the pointer is between tokens without it),
# so a corrected fact is recalled with its newest value.
[ -f "$RUN/y-priors/config.json" ] || "$PY" docs/results/session30/recall_priors.py \
    "$RUN/x-priors" "$RUN/y-priors" recency=2 ties
FINAL="$RUN/y-priors"

# 5. Evaluation on the held-out dialogues, the bundled folder, the curves.
rxt eval --model "$FINAL" --baseline "$RUN/run/baseline/model" \
    --data "$RUN/eval/heldout.jsonl" --out "$RUN/eval_results.json" --threads 2 | tee "$RUN/eval_table.txt"
mkdir -p models/rxt-nano
cp "$FINAL/"{config.json,model.safetensors,tokenizer.json} models/rxt-nano/
"$PY" -m rxt_core.training.report "$RUN/run" docs --eval "$RUN/eval_results.json" | tee "$RUN/stages_table.md"

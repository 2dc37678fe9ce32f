#!/usr/bin/env bash
# Reproduce the bundled model (models/rxt-nano) end to end on CPU, about an hour on 2 cores:
#   synthetic dialogues -> tokenizer -> curriculum stages 1-4 -> stateless baseline -> eval
#   -> models/rxt-nano + loss-curve PNGs under docs/.
# Every step is seeded; rerunning resumes: finished stages are skipped, interrupted ones continue
# from their last checkpoint. RUN=... changes the work folder; STAGE4_SECONDS/BASELINE_SECONDS
# the time budgets (the budgets make the step counts depend on the machine's speed; set them
# high to train for the full step counts instead).
set -euo pipefail
cd "$(dirname "$0")/.."
RUN=${RUN:-runs/bundled}
PY=${PY:-.venv/bin/python}
STAGE4_SECONDS=${STAGE4_SECONDS:-2400}
BASELINE_SECONDS=${BASELINE_SECONDS:-1500}
export OMP_NUM_THREADS=1 RAY_AUTH_MODE=${RAY_AUTH_MODE:-disabled}
rxt() { "$PY" -m rxt_cli.main "$@"; }

# 1. Data (seed 0): 20k training dialogues of 4-16 turns; 200 held-out dialogues of 8-20
#    turns whose entities never occur in training. Tokenizer: byte-level BPE, 2048 tokens.
[ -f "$RUN/data/train.jsonl" ] || rxt data synth --out "$RUN/data" --train 20000 --heldout 200 --seed 0
[ -f "$RUN/eval/heldout.jsonl" ] || rxt data synth --out "$RUN/eval" --train 0 --heldout 200 --seed 0 \
    --min-turns 8 --max-turns 20
[ -f "$RUN/tokenizer.json" ] || rxt data tokenizer --data "$RUN/data/train.jsonl" --vocab-size 2048 \
    --out "$RUN/tokenizer.json"

# 2. Model: the nano preset narrowed to dim 128 (4 layers, 4 heads, 4+1 experts of 256, 64 slots,
#    128 positions): ~4.0M parameters, sized for the 2-core CPU.
MODEL=(--preset nano --set max_seq_len=128 --set dim=128
       --set 'attention={"heads":4,"query_heads":4,"kv_heads":2}'
       --set 'moe={"experts":4,"top_k":2,"shared_experts":1,"expert_hidden":256}'
       --set encoder_ffn_hidden=384 --set stm_slots=64)
COMMON=(--data "$RUN/data/train.jsonl" --tokenizer "$RUN/tokenizer.json" --out "$RUN/run" --seed 0
        --resume --no-progress --log-every 10)
done_() { [ -f "$RUN/run/$1/model/config.json" ]; }

# 3. The curriculum. Stages 1-2 are short (the decoder and encoder only need the language of
#    the dialogues); stage 4, which back-propagates through every memory update of a dialogue
#    (--bptt-turns 0), gets most of the time, with the replay loss on (see docs/training.md:
#    without it the decoder learned to ignore memory).
done_ stage1-joint-lm || rxt train --stage 1 "${COMMON[@]}" "${MODEL[@]}" --threads 2 --steps 150 --batch-size 32 \
    --lr 2e-3 --warmup-steps 15 --checkpoint-every 50 --max-dialogues 5000
done_ stage2-interaction-sft || rxt train --stage 2 "${COMMON[@]}" --threads 2 --steps 150 --batch-size 32 \
    --lr 2e-3 --warmup-steps 10 --checkpoint-every 50 --max-dialogues 5000
done_ stage3-memory-pretrain || rxt train --stage 3 "${COMMON[@]}" --threads 2 --steps 40 --batch-size 16 \
    --lr 1e-3 --warmup-steps 5 --checkpoint-every 50 --max-dialogues 2000

# 4. Stage 4 and the stateless baseline (>= 1.5x RxT's parameters, whole history in context)
#    train side by side, one thread each.
done_ stage4-memory-aware || rxt train --stage 4 "${COMMON[@]}" --steps 1500 --batch-size 16 \
    --lr 2e-3 --warmup-steps 30 --bptt-turns 0 --unfreeze-encoder-step 20 --replay-weight 1.0 \
    --checkpoint-every 25 \
    --max-seconds "$STAGE4_SECONDS" > "$RUN/stage4.log" 2>&1 &
STAGE4=$!
done_ baseline || rxt train --stage baseline "${COMMON[@]}" "${MODEL[@]}" --steps 1500 --batch-size 16 \
    --lr 2e-3 --warmup-steps 30 --checkpoint-every 25 --max-seconds "$BASELINE_SECONDS" \
    > "$RUN/baseline.log" 2>&1
wait "$STAGE4"

# 5. Evaluation on the held-out dialogues, the bundled folder, the curves.
rxt eval --model "$RUN/run/stage4-memory-aware/model" --baseline "$RUN/run/baseline/model" \
    --data "$RUN/eval/heldout.jsonl" --out "$RUN/eval_results.json" | tee "$RUN/eval_table.txt"
mkdir -p models/rxt-nano
cp "$RUN/run/stage4-memory-aware/model/"{config.json,model.safetensors,tokenizer.json} models/rxt-nano/
"$PY" -m rxt_core.training.report "$RUN/run" docs --eval "$RUN/eval_results.json" | tee "$RUN/stages_table.md"

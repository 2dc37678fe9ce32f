#!/usr/bin/env bash
# Session 15 A/B: bundled-shape streamlined recipe, control vs spliced 0.7 + copy weight 4 at stage 2
# (+ spliced 0.5 in stage-4 data). Arms side by side as 1-thread processes.
set -euo pipefail
cd "$(dirname "$0")/../../.."  # the repository root
R=runs/s15
export OMP_NUM_THREADS=1 RAY_AUTH_MODE=disabled
rxt() { .venv/bin/python -m rxt_cli.main "$@"; }
TOK=models/rxt-nano/tokenizer.json
MODEL=(--preset nano --set max_seq_len=128 --set dim=128
       --set 'attention={"heads":4,"query_heads":4,"kv_heads":2}'
       --set 'moe={"experts":4,"top_k":2,"shared_experts":1,"expert_hidden":256}'
       --set encoder_ffn_hidden=384 --set stm_slots=64 --set 'memory_attention="simple"' --set 'memory_write="slot"')
C=(--tokenizer $TOK --resume --no-progress --log-every 10)
[ -f $R/data/echo.jsonl ] || rxt data synth --out $R/data --train 20000 --heldout 200 --seed 0 --echo 30000
[ -f $R/eval/heldout.jsonl ] || rxt data synth --out $R/eval --train 0 --heldout 200 --seed 0 --min-turns 8 --max-turns 20
[ -f $R/spliced/echo.jsonl ] || rxt data synth --out $R/spliced --train 20000 --heldout 0 --seed 0 --echo 30000 --spliced-values 0.7
[ -f $R/short/train.jsonl ] || rxt data synth --out $R/short --train 20000 --heldout 0 --seed 1 --min-turns 2 --max-turns 8 --novel-values 0.4
[ -f $R/short_s/train.jsonl ] || rxt data synth --out $R/short_s --train 20000 --heldout 0 --seed 1 --min-turns 2 --max-turns 8 --novel-values 0.4 --spliced-values 0.5
[ -f $R/novel/train.jsonl ] || rxt data synth --out $R/novel --train 20000 --heldout 0 --seed 3 --novel-values 0.4
[ -f $R/novel_s/train.jsonl ] || rxt data synth --out $R/novel_s --train 20000 --heldout 0 --seed 3 --novel-values 0.4 --spliced-values 0.5
echo "data done $(date)"
[ -f $R/s1/stage1-joint-lm/model/config.json ] || rxt train --stage 1 --data $R/data/train.jsonl --out $R/s1 "${C[@]}" --seed 0 \
    "${MODEL[@]}" --threads 2 --steps 150 --batch-size 32 --lr 2e-3 --warmup-steps 15 --noise-std 0.2 --max-dialogues 5000 > $R/s1.log 2>&1
echo "stage 1 done $(date)"
S2=(--stage 2 "${C[@]}" --seed 0 --threads 1 --steps 2500 --batch-size 32 --lr 2e-3 --warmup-steps 10 --noise-std 0.2
    --swap-prob 0.5 --max-dialogues 40000 --checkpoint-every 100 --init $R/s1/stage1-joint-lm/model)
arm() {  # arm NAME STAGE2_DATA_DIR SHORT NOVEL [stage-2 extra flags]
  local name=$1 d2=$2 short=$3 novel=$4; shift 4
  local out=$R/$name
  [ -f $out/s2/stage2-interaction-sft/model/config.json ] || rxt train "${S2[@]}" --data $d2/echo.jsonl $d2/train.jsonl \
      --out $out/s2 "$@" > $out.s2.log 2>&1
  S4=(--stage 4 "${C[@]}" --threads 1 --batch-size 16 --warmup-steps 30 --bptt-turns 0 --unfreeze-encoder-step 20
      --replay-weight 1.0 --checkpoint-every 25 --steps 3000)
  [ -f $out/s4a/stage4-memory-aware/model/config.json ] || rxt train "${S4[@]}" --seed 0 --lr 2e-3 --replay-depth 4 \
      --data $short/train.jsonl --out $out/s4a --init $out/s2/stage2-interaction-sft/model --max-seconds 900 > $out.s4a.log 2>&1
  [ -f $out/s4b/stage4-memory-aware/model/config.json ] || rxt train "${S4[@]}" --seed 1 --lr 1e-3 --replay-depth 12 \
      --data $novel/train.jsonl --out $out/s4b --init $out/s4a/stage4-memory-aware/model --max-seconds 3000 > $out.s4b.log 2>&1
  for split in heldout valid; do
    [ -f $out/eval_$split.json ] || rxt eval --model $out/s4b/stage4-memory-aware/model --data $R/eval/$split.jsonl \
        --threads 1 --out $out/eval_$split.json > $out/eval_$split.txt 2>&1
  done
  echo "arm $name done $(date)"
}
mkdir -p $R/control $R/spliced_cw
arm control $R/data $R/short $R/novel &
arm spliced_cw $R/spliced $R/short_s $R/novel_s --copy-weight 4 &
wait
echo "all done $(date)"

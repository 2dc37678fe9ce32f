"""The model on a CUDA GPU: the same answers as on the CPU, no leaks between sessions, training
and checkpoints that move between devices. Skipped where no GPU is present (CI); run them on a
GPU machine with `scripts/gpu_check.sh` (docs/benchmarks.md, "On a GPU")."""

from __future__ import annotations

import json
import random
from pathlib import Path

import pytest
import torch

from rxt_cli.train import main as train_main
from rxt_core import ReactiveTransformer, SamplingParams
from rxt_core.bundled import bundled_model_dir
from rxt_core.data.synth import SynthConfig, generate
from rxt_core.tokenizer import RxTTokenizer
from rxt_core.training.batching import tokenize_dialogues
from rxt_core.training.config import STAGE_DIRS
from rxt_core.training.evaluate import evaluate
from rxt_core.training.pipeline import load_tokenizer

from .conftest import random_stm
from .test_decoding import assert_incremental_decoding_matches_full_forward

pytestmark = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU")
CUDA = torch.device("cuda")
BUNDLED = bundled_model_dir()


def _on_cuda(model: ReactiveTransformer) -> ReactiveTransformer:
    gpu = ReactiveTransformer(model.config).to(CUDA).eval()
    gpu.load_state_dict(model.state_dict())
    return gpu


def test_forward_on_cuda_matches_cpu(model):
    gpu = _on_cuda(model)
    stm = random_stm(model, 2)
    ids = torch.tensor([[3, 10, 11, 12, 4, 20, 21, 2], [3, 9, 8, 7, 6, 4, 30, 2]])
    with torch.no_grad():
        cpu_logits, _ = model(ids, stm)
        gpu_logits, _ = gpu(ids.to(CUDA), stm.to(CUDA))
    assert gpu_logits.device.type == "cuda"
    torch.testing.assert_close(gpu_logits.cpu(), cpu_logits, atol=1e-4, rtol=1e-4)


def test_incremental_decoding_on_cuda_matches_full_forward(model):
    """The KV cache and the right-padding masks with CUDA kernels, rows of different lengths."""
    assert_incremental_decoding_matches_full_forward(_on_cuda(model), random_stm(model, 3).to(CUDA))


def test_batched_generation_on_cuda_keeps_sessions_apart(model):
    """bf16 autocast, one batch: changing session 1's memory and query never changes session 0's
    or 2's tokens (the same batch shape both times, so the same kernels)."""
    gpu = _on_cuda(model)
    params = SamplingParams(max_new_tokens=12)
    stm = random_stm(model, 3).to(CUDA)
    queries = [[10, 11, 12], [20, 21], [30, 31, 32, 33, 34]]
    first = gpu.generate(queries, stm, params)
    other = stm.clone()
    other[1] = random_stm(model, 1, seed=7)[0].to(CUDA)
    second = gpu.generate([queries[0], [40, 41, 42, 43], queries[2]], other, params)
    assert [first[0], first[2]] == [second[0], second[2]]
    assert first[1] != second[1], "session 1's new memory and query changed nothing"
    assert all(len(answer) == 12 for answer in first)


def test_memory_update_on_cuda_close_to_cpu(model):
    """update_memory runs under bf16 autocast on CUDA: the written STM must stay the CPU's (fp32)."""
    gpu = _on_cuda(model)
    stm = random_stm(model, 2)
    queries, answers = [[10, 11, 12], [20, 21, 22, 23]], [[30, 31], [40, 41, 42]]
    cpu_new = model.update_memory(stm, queries, answers)
    gpu_new = gpu.update_memory(stm.to(CUDA), queries, answers)
    assert gpu_new.dtype == torch.float32 and gpu_new.device.type == "cuda"
    cosine = torch.nn.functional.cosine_similarity(gpu_new.cpu().flatten(1), cpu_new.flatten(1), dim=-1)
    assert cosine.min() > 0.999, cosine


def test_save_on_cuda_load_on_cpu(model, tmp_path):
    gpu = _on_cuda(model)
    gpu.save_pretrained(tmp_path / "m")
    loaded = ReactiveTransformer.from_pretrained(tmp_path / "m", device="cpu")
    for name, tensor in loaded.state_dict().items():
        assert tensor.device.type == "cpu"
        assert torch.equal(tensor, model.state_dict()[name]), name


def test_training_on_cuda_lowers_the_loss_and_checkpoints_load_on_cpu(tmp_path):
    history = train_tiny_model(tmp_path, "cuda")
    losses = [row["loss"] for row in history]
    assert sum(losses[-5:]) / 5 < 0.7 * sum(losses[:5]) / 5, losses
    loaded = ReactiveTransformer.from_pretrained(tmp_path / "run" / STAGE_DIRS["4"] / "model", device="cpu")
    assert next(loaded.parameters()).device.type == "cpu"


def train_tiny_model(tmp_path: Path, device: str) -> list[dict]:
    """`rxt train --stage all` (60 steps a stage) on two-turn name dialogues; returns the loss history."""
    rng, dialogues = random.Random(0), []
    for _ in range(64):
        name = rng.choice(["Ann", "Bob", "Cid", "Dee"])
        turns = [{"query": f"I am {name}.", "answer": f"Hi {name}."}]
        turns.append({"query": "Who am I?", "answer": f"You are {name}."})
        dialogues.append(json.dumps({"turns": turns}))
    (tmp_path / "dialogues.jsonl").write_text("\n".join(dialogues) + "\n")
    RxTTokenizer.train(dialogues, vocab_size=300).save(tmp_path / "tokenizer.json")
    argv = ["--stage", "all", "--data", str(tmp_path / "dialogues.jsonl")]
    argv += ["--tokenizer", str(tmp_path / "tokenizer.json"), "--out", str(tmp_path / "run")]
    argv += ["--preset", "tiny", "--steps", "60", "--batch-size", "8", "--lr", "3e-3"]
    argv += ["--warmup-steps", "5", "--device", device, "--no-progress"]
    assert train_main(argv) == 0
    return json.loads((tmp_path / "run" / STAGE_DIRS["4"] / "history.json").read_text())["history"]


@pytest.mark.skipif(not (BUNDLED / "config.json").is_file(), reason="the bundled model is not built yet")
def test_bundled_model_scores_the_same_on_cuda():
    """Teacher-forced perplexity (fp32 both) within 1%, and greedy answers (bf16 autocast on the
    GPU, fp32 on the CPU) mostly the same tokens: the GPU serves the model the CPU was measured on."""
    tokenizer = load_tokenizer(str(BUNDLED / "tokenizer.json"))
    cpu = ReactiveTransformer.from_pretrained(BUNDLED)
    gpu = ReactiveTransformer.from_pretrained(BUNDLED, device="cuda")
    dialogues = list(generate("heldout", 16, seed=5, config=SynthConfig(min_turns=6, max_turns=10)))
    tokens = tokenize_dialogues(dialogues, tokenizer, cpu.config)
    on_cpu = evaluate(cpu, tokenizer, tokens, "cpu", batch_size=16, samples=0)
    on_gpu = evaluate(gpu, tokenizer, tokens, "gpu", batch_size=16, samples=0)
    assert on_gpu.answer_tokens == on_cpu.answer_tokens
    assert abs(on_gpu.ppl / on_cpu.ppl - 1) < 0.01, (on_cpu.ppl, on_gpu.ppl)
    assert abs(on_gpu.recall.overall() - on_cpu.recall.overall()) <= 0.1

"""`rxt data`: make synthetic dialogues, train a tokenizer, check a dataset.

rxt data synth --out DIR --train N --heldout M --seed S [--valid K] [--max-turns T] [--echo E] ...
rxt data tokenizer --data FILE... --vocab-size 8192 --out tokenizer.json
rxt data check FILE [--tokenizer tokenizer.json --max-tokens 256]
"""

from __future__ import annotations

import argparse
import collections
import dataclasses
import json
import sys
import time
from collections.abc import Iterable
from pathlib import Path

from rxt_core.data.dialogue import Dialogue, write_jsonl
from rxt_core.data.sources import load_dialogues, load_texts
from rxt_core.data.synth import SynthConfig, SynthSplit, generate, generate_echo
from rxt_core.tokenizer import RxTTokenizer


def main(argv: list[str]) -> int:
    args = _parser().parse_args(argv)
    try:
        return args.run(args)
    except (ValueError, FileNotFoundError, ImportError) as e:
        print(f"rxt data: error: {e}", file=sys.stderr)
        return 1


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rxt data", description="Dialogue data and tokenizers for RxT.")
    sub = parser.add_subparsers(required=True, metavar="COMMAND")

    synth = sub.add_parser("synth", help="write synthetic train/valid/heldout dialogues (JSONL)")
    synth.add_argument("--out", type=Path, required=True, help="output folder")
    synth.add_argument("--train", type=int, required=True, help="training dialogues")
    synth.add_argument("--heldout", type=int, required=True, help="dialogues with held-out entities")
    synth.add_argument("--valid", type=int, default=None, help="validation dialogues (default: --heldout)")
    synth.add_argument("--seed", type=int, default=0)
    synth.add_argument("--min-turns", type=int, default=SynthConfig.min_turns)
    synth.add_argument("--max-turns", type=int, default=SynthConfig.max_turns)
    synth.add_argument("--max-distance", type=int, default=None, help="longest recall distance in turns")
    synth.add_argument(
        "--echo", type=int, default=0, help="also write echo.jsonl: this many one-turn copy dialogues"
    )
    synth.add_argument(
        "--novel-values",
        type=float,
        default=0.0,
        metavar="P",
        help="train/valid/echo only: each stated value is made up (random letters, syllables, another "
        "pool's value) with probability P, so models learn to copy any string (default 0)",
    )
    synth.add_argument(
        "--novel-phrases",
        type=float,
        default=0.0,
        metavar="P",
        help="a made-up plan, food, drink, job, sport or colour is a phrase mixing made-up and real words "
        "('restore the old vorblin', 'zintu juice') with probability P (default 0)",
    )
    synth.add_argument(
        "--open-values",
        type=float,
        default=0.0,
        metavar="P",
        help="train/valid/echo only: a stated city, colour, drink, food, job, language, plan or sport is "
        "one or two real words of no pool ('velvet lantern') with probability P (default 0)",
    )
    synth.add_argument(
        "--spliced-values",
        type=float,
        default=0.0,
        metavar="P",
        help="train/valid/echo only: a stated city, colour, drink, food, job, language, plan or sport has "
        "one word spliced from two ('Rottergreb': a familiar head, another word's tail) with probability P "
        "(default 0)",
    )
    synth.add_argument(
        "--spliced-phrases",
        type=float,
        default=0.0,
        metavar="P",
        help="with --spliced-values, in dialogues: a spliced plan, food, drink, job, colour or city "
        "phrase is the first words of one pool phrase and the last of another ('learn to' + 'a marathon') "
        "with probability P (default 0)",
    )
    synth.set_defaults(run=_synth)

    tok = sub.add_parser("tokenizer", help="train a byte-level BPE tokenizer")
    tok.add_argument("--data", type=Path, nargs="+", required=True, help=".jsonl, .parquet, HF folders, .txt")
    tok.add_argument("--vocab-size", type=int, default=8192)
    tok.add_argument("--min-frequency", type=int, default=2)
    tok.add_argument(
        "--text-by", choices=("line", "paragraph"), default="line", help="documents in .txt files"
    )
    tok.add_argument("--out", type=Path, default=Path("tokenizer.json"))
    tok.set_defaults(run=_tokenizer)

    check = sub.add_parser("check", help="validate a dialogue file and print statistics")
    check.add_argument("data", type=Path)
    check.add_argument("--split", default=None, help="split of a saved DatasetDict")
    check.add_argument("--tokenizer", type=Path, default=None)
    check.add_argument(
        "--max-tokens", type=int, default=None, help="longest interaction allowed (with --tokenizer)"
    )
    check.set_defaults(run=_check)
    return parser


def _synth(args: argparse.Namespace) -> int:
    config = SynthConfig(
        min_turns=args.min_turns,
        max_turns=args.max_turns,
        max_distance=args.max_distance,
        novel_value_prob=args.novel_values,
        novel_phrase_prob=args.novel_phrases,
        open_value_prob=args.open_values,
        spliced_value_prob=args.spliced_values,
        spliced_phrase_prob=args.spliced_phrases,
    )
    counts: dict[SynthSplit, int] = {
        "train": args.train,
        "valid": args.heldout if args.valid is None else args.valid,
        "heldout": args.heldout,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    for split, n in counts.items():
        start = time.perf_counter()
        path = args.out / f"{split}.jsonl"
        made_up = {"novel_value_prob": 0.0, "open_value_prob": 0.0, "spliced_value_prob": 0.0}
        split_config = dataclasses.replace(config, **made_up) if split == "heldout" else config
        write_jsonl(path, generate(split, n, args.seed, split_config))
        seconds = time.perf_counter() - start
        print(f"{path}: {n} dialogues in {seconds:.1f} s ({n / max(seconds, 1e-9):,.0f} dialogues/s)")
    if args.echo:
        path = args.out / "echo.jsonl"
        write_jsonl(
            path,
            generate_echo(args.echo, args.seed, args.novel_values, args.open_values, args.spliced_values),
        )
        print(f"{path}: {args.echo} one-turn echo dialogues")
    meta = {"seed": args.seed, "counts": counts, "echo": args.echo, "config": dataclasses.asdict(config)}
    (args.out / "synth.json").write_text(json.dumps(meta, indent=2) + "\n")
    return 0


def _tokenizer(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    tokenizer = RxTTokenizer.train(
        load_texts(args.data, by=args.text_by), args.vocab_size, args.min_frequency
    )
    path = tokenizer.save(args.out)
    seconds = time.perf_counter() - start
    print(f"{path}: vocabulary of {tokenizer.vocab_size} tokens trained in {seconds:.1f} s")
    return 0


def _check(args: argparse.Namespace) -> int:
    tokenizer = RxTTokenizer.load(args.tokenizer) if args.tokenizer else None
    if (tokenizer is None) != (args.max_tokens is None):
        raise ValueError("--tokenizer and --max-tokens go together")
    dialogues = load_dialogues(args.data, args.split, tokenizer, args.max_tokens)
    stats = _stats(dialogues, tokenizer)
    print(f"{args.data}: OK")
    for key, value in stats.items():
        print(f"  {key}: {value}")
    return 0


def _stats(dialogues: Iterable[Dialogue], tokenizer: RxTTokenizer | None) -> dict[str, object]:
    n = turns = longest = 0
    distances: collections.Counter[int] = collections.Counter()
    for d in dialogues:
        n += 1
        turns += len(d.turns)
        distances.update(t.recall.distance for t in d.turns if t.recall)
        if tokenizer is not None:
            longest = max(longest, *(len(tokenizer.encode_interaction(t.query, t.answer)) for t in d.turns))
    stats: dict[str, object] = {
        "dialogues": n,
        "turns": turns,
        "turns per dialogue": f"{turns / max(n, 1):.2f}",
    }
    if distances:
        stats["recall turns by distance"] = dict(sorted(distances.items()))
    if tokenizer is not None:
        stats["longest interaction (tokens)"] = longest
    return stats

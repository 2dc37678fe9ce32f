"""The RxT training curriculum in plain PyTorch (no Ray): one module per stage, sharing one loop.

joint.py            stages 1 and 2: joint LM pre-training / interaction SFT
memory_pretrain.py  stage 3: self-supervised memory-attention pre-training
memory_aware.py     stage 4: supervised memory-aware training over whole dialogues
baseline.py         the stateless baseline on the same dialogues with the full history
loop.py             the shared loop: seeding, resume, progress, throughput, data parallelism
pipeline.py         run a stage from files (what `rxt train` and the Ray workers call)
"""

from .config import LoopConfig, StageName, TrainJob
from .pipeline import run_job

__all__ = ["LoopConfig", "StageName", "TrainJob", "run_job"]

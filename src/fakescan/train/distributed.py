"""Data-parallel training across processes: joining the group ``torchrun`` describes, and merging
what each rank computed.

``torchrun --nproc_per_node N -m fakescan train ...`` starts N copies of the command and gives each
``RANK``, ``LOCAL_RANK``, ``WORLD_SIZE`` and the rendezvous address in its environment;
:func:`init_distributed` joins them into one process group (NCCL between GPUs, gloo on CPUs) and
picks this rank's device. The engine then wraps the model in ``DistributedDataParallel``, splits the
training data with a distributed sampler, and splits the validation data with :class:`RankSlice`,
which, unlike ``DistributedSampler``, pads nothing: rank ``r`` scores items ``r, r + W, …`` and
:func:`merge_rank_predictions` puts the ranks' scores back in dataset order, so that validation metrics
are those of one process scoring every crop once.

Multi-node runs use the same command on every node with ``--nnodes``, ``--node_rank`` and a
reachable ``--rdzv_endpoint``; the run folder must be on storage that every node sees, since rank 0
writes it and every rank reads ``--resume`` state from it.
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

import numpy as np
import torch
import torch.distributed as dist
from torch.utils.data import Sampler

from fakescan.errors import ConfigError

__all__ = [
    "DistributedContext",
    "RankSlice",
    "all_gather_objects",
    "init_distributed",
    "launched_rank",
    "merge_rank_predictions",
    "shutdown_distributed",
    "sum_across_ranks",
    "sync_buffers",
]

T = TypeVar("T")


@dataclass(frozen=True)
class DistributedContext:
    """Where this process stands among the training processes.

    Attributes:
        rank, world_size: this process's index and the number of processes (0 of 1 alone).
        local_rank: its index on this machine (which GPU it drives).
        owns_group: whether :func:`init_distributed` created the process group (and so must end it).
    """

    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    owns_group: bool = False

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes files and reports progress."""
        return self.rank == 0


def launched_rank() -> int:
    """This process's rank as its launcher (``torchrun``) set it; 0 when started alone."""
    return int(os.environ.get("RANK", "0"))


def _env_int(name: str) -> int:
    value = os.environ.get(name, "")
    try:
        return int(value)
    except ValueError:
        raise ConfigError(
            f"environment variable {name}={value!r} is not a number (torchrun sets it)"
        ) from None


def init_distributed(
    device: torch.device, timeout_s: float = 1800.0
) -> tuple[DistributedContext, torch.device]:
    """Join the process group of a ``torchrun`` launch, or stay alone when there is none.

    Alone (no ``WORLD_SIZE`` above 1 in the environment): ``DistributedContext()`` and ``device``
    unchanged. Launched by ``torchrun``: CUDA ranks use NCCL and GPU ``LOCAL_RANK``; CPU ranks use
    gloo. A group that already exists (the caller made it) is used as it is.

    Raises:
        ConfigError: the launcher's variables are malformed, or CUDA ranks outnumber this node's GPUs.
    """
    if dist.is_available() and dist.is_initialized():
        rank, world = dist.get_rank(), dist.get_world_size()
        local = int(os.environ.get("LOCAL_RANK", rank))
        return DistributedContext(rank, world, local, owns_group=False), _rank_device(device, local)
    if int(os.environ.get("WORLD_SIZE", "1") or 1) <= 1:
        return DistributedContext(), device
    rank, world, local = _env_int("RANK"), _env_int("WORLD_SIZE"), _env_int("LOCAL_RANK")
    device = _rank_device(device, local)
    backend = "nccl" if device.type == "cuda" else "gloo"
    if device.type == "cuda":
        torch.cuda.set_device(device)
    dist.init_process_group(backend, timeout=dt.timedelta(seconds=timeout_s))
    return DistributedContext(rank, world, local, owns_group=True), device


def _rank_device(device: torch.device, local_rank: int) -> torch.device:
    if device.type != "cuda":
        return device
    if local_rank >= torch.cuda.device_count():
        raise ConfigError(
            f"local rank {local_rank} needs GPU {local_rank}, but this node has "
            f"{torch.cuda.device_count()}; start at most that many processes per node"
        )
    return torch.device("cuda", local_rank)


def shutdown_distributed(context: DistributedContext) -> None:
    """Wait for every rank, then end the group if :func:`init_distributed` made it."""
    if context.enabled and dist.is_initialized():
        dist.barrier()
        if context.owns_group:
            dist.destroy_process_group()


def all_gather_objects(value: T, context: DistributedContext) -> list[T]:
    """Every rank's ``value``, in rank order (``[value]`` alone). A collective: all ranks call it."""
    if not context.enabled:
        return [value]
    parts: list[Any] = [None] * context.world_size
    dist.all_gather_object(parts, value)
    return parts


def sum_across_ranks(values: Sequence[float], context: DistributedContext) -> list[float]:
    """Element-wise sums of ``values`` over all ranks (the values alone)."""
    if not context.enabled:
        return [float(v) for v in values]
    return [float(sum(column)) for column in zip(*all_gather_objects(list(values), context), strict=True)]


def sync_buffers(module: torch.nn.Module, context: DistributedContext) -> None:
    """Give every rank rank 0's buffers (batch-norm running statistics).

    ``DistributedDataParallel`` averages gradients, so weights agree across ranks, but each rank's
    last training forward updates its own running statistics. Before validation every rank must hold
    the model that rank 0 will save, or the merged scores would not be that checkpoint's.
    """
    if not context.enabled:
        return
    for buffer in module.buffers():
        dist.broadcast(buffer, src=0)


class RankSlice(Sampler[int]):
    """Items ``rank, rank + world_size, …`` of ``range(size)``, in order, with no padding.

    Ranks may get one item more or less than each other, so this is for evaluation, where no
    collective runs per batch; :func:`merge_rank_predictions` undoes the interleaving.

    >>> [list(RankSlice(5, rank, 2)) for rank in (0, 1)]
    [[0, 2, 4], [1, 3]]
    """

    def __init__(self, size: int, rank: int, world_size: int) -> None:
        if not 0 <= rank < world_size:
            raise ConfigError(f"rank must be in 0..{world_size - 1}, got {rank}")
        self.size, self.rank, self.world_size = size, rank, world_size

    def __iter__(self) -> Iterator[int]:
        return iter(range(self.rank, self.size, self.world_size))

    def __len__(self) -> int:
        return len(range(self.rank, self.size, self.world_size))


def merge_rank_predictions(parts: Sequence[dict[str, Any]]) -> dict[str, Any]:
    """Interleave per-rank columns (rank ``r`` holding items ``r, r + W, …``, as :class:`RankSlice`
    deals them) back into dataset order.

    Each part maps column names to equal-length arrays or lists (``None`` columns stay ``None``);
    every part must have the same columns.

    >>> merge_rank_predictions([{"s": np.array([0, 2, 4])}, {"s": np.array([1, 3])}])["s"].tolist()
    [0, 1, 2, 3, 4]
    """
    world = len(parts)
    if world == 1:
        return dict(parts[0])
    names = list(parts[0])
    if any(list(part) != names for part in parts):
        raise ValueError("ranks returned different prediction columns")
    merged: dict[str, Any] = {}
    for name in names:
        columns = [part[name] for part in parts]
        if all(column is None for column in columns):
            merged[name] = None
            continue
        lengths = [len(column) for column in columns]
        total = sum(lengths)
        expected = [len(range(rank, total, world)) for rank in range(world)]
        if lengths != expected:
            raise ValueError(
                f"column {name!r}: rank lengths {lengths} do not interleave ({expected} expected)"
            )
        if isinstance(columns[0], np.ndarray):
            out = np.empty((total, *columns[0].shape[1:]), dtype=columns[0].dtype)
            for rank, column in enumerate(columns):
                out[rank::world] = column
            merged[name] = out
        else:
            items: list[Any] = [None] * total
            for rank, column in enumerate(columns):
                items[rank::world] = list(column)
            merged[name] = items
    return merged

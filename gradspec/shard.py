"""Splitting one run's items into N shards, one per CI job.

Every process of every job computes the same split from the same collected
node ids, with no coordination: each xdist worker of the job that runs shard 2,
and the jobs that run the other shards, agree on where every item goes.

- Without durations an item's shard is a hash of its node id, so adding a case
  moves no other item, and the split is the same on every machine (sha256,
  not Python's salted ``hash``).
- With the durations of a previous record, the items it timed are packed
  greedily, longest first, each into the least loaded shard (the LPT rule:
  within 4/3 of the best possible longest shard); items it did not time (new
  cases) are hashed as above.
"""
from __future__ import annotations

import hashlib
import heapq
import re
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Iterable, Mapping, Sequence

if TYPE_CHECKING:
    from .record_model import RunRecord

SPEC = re.compile(r"\s*(\d+)\s*/\s*(\d+)\s*")


class ShardError(ValueError):
    """A shard specification or durations record that cannot be used."""


@dataclass(frozen=True)
class Shard:
    """Shard ``index`` (1-based) of ``count``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


def parse(text: str) -> Shard:
    """``"K/N"`` as a Shard, with 1 <= K <= N; anything else is refused with the reason."""
    match = SPEC.fullmatch(text)
    if match is None:
        raise ShardError(f"--gradspec-shard: '{text}' is not K/N (for example 2/3: the second of three shards)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1:
        raise ShardError(f"--gradspec-shard: '{text}': N must be at least 1")
    if not 1 <= index <= count:
        raise ShardError(f"--gradspec-shard: '{text}': K must be between 1 and N ({count})")
    return Shard(index, count)


def hashed(nodeid: str, count: int) -> int:
    """The 0-based shard of an item that has no recorded duration."""
    digest = hashlib.sha256(nodeid.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def assign(nodeids: Iterable[str], count: int, durations: Mapping[str, float] | None = None) -> dict[str, int]:
    """Each node id's 0-based shard: recorded ones packed longest first, the others hashed."""
    durations = durations or {}
    ids = list(dict.fromkeys(nodeids))
    timed = sorted((n for n in ids if n in durations), key=lambda n: (-durations[n], n))
    loads = [(0.0, b) for b in range(count)]  # already a heap
    out: dict[str, int] = {}
    for nodeid in timed:
        load, b = heapq.heappop(loads)
        out[nodeid] = b
        heapq.heappush(loads, (load + durations[nodeid], b))
    for nodeid in ids:
        if nodeid not in out:
            out[nodeid] = hashed(nodeid, count)
    return out


def select(nodeids: Sequence[str], shard: Shard, durations: Mapping[str, float] | None = None) -> list[bool]:
    """Per node id, in order: whether it belongs to ``shard``."""
    where = assign(nodeids, shard.count, durations)
    return [where[n] == shard.index - 1 for n in nodeids]


def load_durations(path: Path | str) -> dict[str, float]:
    """Seconds per node id from a run record (merged ones included: an id timed under
    several framework versions takes its longest time; MISSING cells are not timed)."""
    from .schema import RecordError, read_record

    try:
        record = read_record(path)
    except RecordError as exc:
        raise ShardError(f"--gradspec-shard-durations: {exc}") from None
    out: dict[str, float] = {}
    for r in record.results:
        if r.status == "MISSING":  # never ran: no time to go by
            continue
        out[r.nodeid] = max(out.get(r.nodeid, 0.0), r.duration_s)
    return out


def from_options(spec: str | None, durations_path: str | None,
                 loaded: dict[str, float] | None = None) -> tuple[Shard | None, dict[str, float] | None]:
    """The shard and durations a run was given (--gradspec-shard, --gradspec-shard-durations);
    ``loaded``: the durations as another process already read them from that file."""
    if spec is None:
        if durations_path is not None:
            raise ShardError("--gradspec-shard-durations balances a split run: give --gradspec-shard K/N with it")
        return None, None
    if durations_path is None:
        return parse(spec), None
    return parse(spec), loaded if loaded is not None else load_durations(durations_path)


def missing_shards(records: Sequence[tuple[str, RunRecord]]) -> list[str]:
    """For records being merged: the shards of each split run that are not among them.
    A split run is known by what its jobs were asked for and the framework versions
    they ran; its shards' records have every option alike but the shard index."""
    runs: dict[tuple[object, ...], tuple[int, set[int], list[str]]] = {}
    for name, rec in records:
        info, o = rec.options.shard, rec.options
        if info is None:
            continue
        key = (info.count, tuple(o.adapters), tuple(o.modes or ()), tuple(o.devices), tuple(o.dtypes or ()),
               tuple(sorted((a, i.version) for a, i in rec.adapters.items())))
        _, indices, names = runs.setdefault(key, (info.count, set(), []))
        indices.add(info.index)
        names.append(name)
    out = []
    for count, indices, names in runs.values():
        lacking = [f"{k}/{count}" for k in range(1, count + 1) if k not in indices]
        if lacking:
            many = len(lacking) > 1
            out.append(f"shard{'s' if many else ''} {', '.join(lacking)} of the split run of {', '.join(names)} "
                       f"{'are' if many else 'is'} not merged: this record lacks {'their' if many else 'its'} items")
    return out

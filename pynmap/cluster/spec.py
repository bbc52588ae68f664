"""What one shard's task carries, and how the client cuts a scan into them (no Dask).

A shard's task is a `ShardSpec`: the user's command line as the worker is
to run it, which is the user's options and targets

* less what the client does itself: the output files and their options
  (-oN/-oG/-oX/-oS/-oA/-oJ/--json-lines, --append-output, the stylesheet
  options: the client writes the outputs), --stats-every (the client prints
  the status lines), --cluster and its companions, --shard/--seed (the
  client chooses them), -iL and --excludefile (read by the client, their
  words travel in the spec: a worker need not have the files);
* plus `--shard I/N --seed S`, --noninteractive, and the rate options
  divided among the shards that run at once (`shard_rates`);

the pynmap version of the client (a worker with another one refuses the
task), and the output formats the client needs back.  Everything in it is a
plain value: the spec is the whole task, so running it again gives the same
scan (Dask re-runs the task of a worker that died).
"""

from __future__ import annotations

from collections.abc import Sequence

from pynmap.getopt import OPTIONAL_ARG, Lexer
from pynmap.plain import FrozenData

# The options a worker does not get (token names, as pynmap.getopt yields them).
CLIENT_ONLY = frozenset({
    # outputs: written by the client
    "o", "m", "oA", "oN", "oM", "oG", "oS", "oX", "oJ", "json-lines", "append-output",
    "stylesheet", "no-stylesheet", "webxml",
    # the status lines are the client's
    "stats-every", "noninteractive",
    # the cluster and the shards are the client's choice
    "cluster", "cluster-ca", "cluster-cert", "cluster-key", "cluster-shards", "shard", "seed",
    # read by the client, sent as words
    "iL", "i", "excludefile",
    # divided among the shards (shard_rates)
    "min-rate", "max-rate",
})

# How many shards a cluster run makes, per worker thread, unless --cluster-shards says:
# more than one each, so a slow shard or a worker that dies costs part of a thread's
# share, not all of it; few, because each shard expands the whole target list.
SHARDS_PER_THREAD = 2


class ShardSpec(FrozenData):
    """One shard's task (see the module docstring).  `run` names the cluster run
    (its tasks' keys and progress topic); `attempt`-free: nothing in it changes
    when the task runs again."""

    __match_args__ = ("run", "index", "count", "seed", "args", "formats", "version",
                      "input_words", "exclude_words")
    __slots__ = __match_args__

    def __init__(self, run: str, index: int, count: int, seed: int, args: tuple[str, ...],
                 formats: tuple[str, ...], version: str, input_words: str | None = None,
                 exclude_words: str | None = None) -> None:
        self.run = run
        self.index = index
        self.count = count
        self.seed = seed
        self.args = args  # the worker's command line, without the program name
        self.formats = formats  # pynmap.api.scan_outputs' formats the client needs
        self.version = version  # the client's pynmap.__version__
        self.input_words = input_words  # -iL's file (or stdin), as the client read it
        self.exclude_words = exclude_words  # --excludefile's file

    @property
    def name(self) -> str:
        """The shard as the messages name it: `shard 2/4` (numbered from 0, as --shard)."""
        return f"shard {self.index}/{self.count}"

    @property
    def key(self) -> str:
        """The Dask key of the shard's task: unique to the run, the same on a re-run."""
        return f"pynmap-{self.run}-shard-{self.index}-of-{self.count}"

    @property
    def topic(self) -> str:
        """The Dask event topic its progress goes to."""
        return f"pynmap-{self.run}-progress"


def shard_count(threads: int, requested: int | None) -> int:
    """--cluster-shards, or SHARDS_PER_THREAD per worker thread."""
    if requested is not None:
        return requested
    return max(1, SHARDS_PER_THREAD * threads)


def shard_rates(min_rate: float, max_rate: float, shards: int, threads: int) -> list[str]:
    """--min-rate/--max-rate for each shard: the global rate divided among the
    shards that run at once (one per worker thread, at most one per shard).
    0 means not set.  While fewer shards run (the last ones), the scan stays
    below the global maximum rather than above it."""
    running = max(1, min(shards, threads))
    words: list[str] = []
    for option, rate in (("--min-rate", min_rate), ("--max-rate", max_rate)):
        if rate:
            words += [option, repr(rate / running)]
    return words


def worker_args(args: Sequence[str], extra: Sequence[str] = ()) -> list[str]:
    """The logged command line `args` (program name first, as Options.args) less
    the CLIENT_ONLY options, each remaining option written out in one canonical
    form, then the options `extra`, `--` and the targets."""
    from pynmap.options import GRAMMAR

    lexer = Lexer(list(args), GRAMMAR)
    words: list[str] = []
    for token in lexer:
        if token.name in CLIENT_ONLY:
            continue
        if len(token.name) == 1:
            kind = GRAMMAR.short_kind(token.name)
            if token.value is None:
                words.append(f"-{token.name}")
            elif kind == OPTIONAL_ARG:
                words.append(f"-{token.name}{token.value}")
            else:
                words += [f"-{token.name}", token.value]
        elif token.value is None:
            words.append(f"--{token.name}")
        else:
            words.append(f"--{token.name}={token.value}")
    return [*words, *extra, "--", *lexer.targets]

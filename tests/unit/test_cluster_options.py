"""--cluster without a cluster: its options, how a scan is cut into shard tasks,
and that a run without --cluster never imports Dask (pynmap.cluster)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from pynmap.cluster.spec import ShardSpec, shard_count, shard_rates, worker_args
from pynmap.cluster.where import Where, parse_where, warning_for
from pynmap.errors import Fatal, NmapError
from pynmap.options import Options, parse_options


def parse(*args: str) -> Options:
    return parse_options(["pynmap", *args], warn=lambda _: None, say=lambda _: None,
                         usage=lambda: "", version=lambda: "")


def refused(*args: str) -> str:
    with pytest.raises(NmapError) as info:
        parse(*args)
    return str(getattr(info.value, "message", info.value))


@pytest.mark.parametrize(("text", "where"), [
    ("local:2", Where("local", workers=2)),
    ("tls://scheduler.example:8786", Where("tls", "scheduler.example", 8786)),
    ("tcp://198.18.0.5:1", Where("tcp", "198.18.0.5", 1)),
    ("tls://[fd00:18::5]:8786", Where("tls", "fd00:18::5", 8786)),
])
def test_cluster_addresses(text: str, where: Where) -> None:
    assert parse_where(text) == where


@pytest.mark.parametrize("text", [
    "local:0", "local:257", "local:", "local:x", "tcp://host", "tcp://host:0",
    "tcp://host:65536", "udp://host:1", "host:8786", "tcp://:8786", "tcp://a:b:1",
    "tls://[::1:8786", "tls://[nothex]:1", "tcp://user@host:1",
])
def test_bad_cluster_addresses(text: str) -> None:
    with pytest.raises(Fatal, match="Bogus --cluster argument"):
        parse_where(text)


@pytest.mark.parametrize(("text", "warned"), [
    ("tcp://198.18.0.5:8786", True), ("tcp://scheduler.example:8786", True),
    ("tcp://127.0.0.1:8786", False), ("tcp://127.9.9.9:8786", False),
    ("tcp://[::1]:8786", False), ("tcp://localhost:8786", False),
    ("tls://198.18.0.5:8786", False), ("local:2", False),
])
def test_only_tcp_off_loopback_is_warned_about(text: str, warned: bool) -> None:
    warning = warning_for(parse_where(text))
    assert (warning is not None) == warned
    if warning is not None:
        assert text in warning and "tls://" in warning


def test_the_cluster_options() -> None:
    o = parse("--cluster", "tls://198.18.0.5:8786", "--cluster-ca", "ca.pem",
              "--cluster-cert", "me.pem", "--cluster-key", "me.key", "--cluster-shards", "8",
              "--seed", "7", "-p", "22", "198.18.0.0/24")
    assert o.cluster is not None
    assert (o.cluster.where.address, o.cluster.ca, o.cluster.cert, o.cluster.key,
            o.cluster.shards, o.cluster.seed) == ("tls://198.18.0.5:8786", "ca.pem", "me.pem",
                                                  "me.key", 8, 7)
    assert o.shard is None  # the client runs no shard itself
    assert parse("--cluster", "local:2", "127.0.0.1").cluster.seed == 0  # type: ignore[union-attr]
    assert parse("127.0.0.1").cluster is None


@pytest.mark.parametrize(("args", "message"), [
    (["--cluster-ca", "ca.pem"], "--cluster-ca only applies with --cluster"),
    (["--cluster-shards", "4"], "--cluster-shards only applies with --cluster"),
    (["--cluster", "local:2", "--shard", "0/2"], "--shard cannot be used with --cluster"),
    (["--cluster", "tcp://127.0.0.1:1", "--cluster-ca", "ca.pem", "--cluster-cert", "c"],
     "need a tls:// scheduler"),
    (["--cluster", "tls://h:1", "--cluster-ca", "ca.pem"], "--cluster-ca needs --cluster-cert"),
    (["--cluster", "tls://h:1", "--cluster-cert", "c.pem"], "--cluster-cert needs --cluster-ca"),
    (["--cluster", "tls://h:1", "--cluster-ca", "a", "--cluster-key", "k"],
     "--cluster-key needs --cluster-cert"),
    (["--cluster", "local:2", "--cluster-shards", "0"], "Bogus --cluster-shards"),
    (["--seed", "3"], "--seed only applies with --shard"),
])
def test_cluster_options_nmap_style_refusals(args: list[str], message: str) -> None:
    assert message in refused(*args, "127.0.0.1")


def test_a_shard_gets_the_scan_and_not_what_the_client_does(tmp_path: Path) -> None:
    targets = tmp_path / "targets"
    targets.write_text("198.18.0.1\n")
    o = parse("-sT", "-p22,80", "-v2", "-n", "--reason", "-oA", "out", "-oJ", "o.json",
              "--stats-every", "5s", "--cluster", "local:2", "--cluster-shards", "3",
              "-iL", str(targets), "--excludefile", "/x", "--max-rate", "90", "-T4",
              "--top-ports", "5", "--webxml", "-d", "198.18.0.2", "--", "-odd")
    args = worker_args(o.args, ["--shard", "1/3"])
    assert args == ["-sT", "-p", "22,80", "-v2", "-n", "--reason", "-T", "4",
                    "--top-ports=5", "-d", "--shard", "1/3", "--", "198.18.0.2", "-odd"]
    # what the client gave out is what a shard reads back: the same scan
    shard = parse(*args)
    assert (shard.port_spec, shard.verbosity, shard.no_resolve, shard.reason, shard.debugging,
            shard.top_port_level, shard.timing.level, shard.targets) == \
        (o.port_spec, o.verbosity, o.no_resolve, o.reason, o.debugging, o.top_port_level,
         o.timing.level, ("198.18.0.2", "-odd"))
    assert (shard.xml_file, shard.normal_file, shard.json_file, shard.stats_every,
            shard.input_name, shard.exclude_file, shard.cluster) == \
        (None, None, None, 0.0, None, None, None)
    assert shard.shard is not None and (shard.shard.index, shard.shard.count) == (1, 3)


def test_rates_are_divided_among_the_shards_that_run_at_once() -> None:
    # 8 shards on 4 worker threads: 4 run at once, each with a quarter of the rate
    assert shard_rates(0.0, 1000.0, 8, 4) == ["--max-rate", "250.0"]
    assert shard_rates(100.0, 0.0, 8, 4) == ["--min-rate", "25.0"]
    # 2 shards on 4 threads: 2 run at once
    assert shard_rates(10.0, 300.0, 2, 4) == ["--min-rate", "5.0", "--max-rate", "150.0"]
    assert shard_rates(0.0, 0.0, 8, 4) == []
    parsed = parse(*shard_rates(0.0, 1.0, 3, 3), "127.0.0.1")
    assert parsed.timing.max_rate * 3 == pytest.approx(1.0)


def test_shard_counts_and_names() -> None:
    assert shard_count(2, None) == 4
    assert shard_count(2, 7) == 7
    spec = ShardSpec("abc", 2, 4, 0, (), (), "0.1.0")
    assert (spec.name, spec.key, spec.topic) == ("shard 2/4", "pynmap-abc-shard-2-of-4",
                                                 "pynmap-abc-progress")


DASK_MODULES = ("dask", "distributed", "tornado", "cloudpickle", "msgpack", "cryptography")


def _modules_after(args: list[str], tmp_path: Path, prelude: str = "") -> tuple[int, str, set[str]]:
    code = (f"{prelude}import io, sys\nfrom pynmap.cli.app import run_cli\n"
            "err = io.StringIO()\n"
            "status = run_cli(['pynmap', *sys.argv[1:]], io.StringIO(), err, {})\n"
            "print(status); print(repr(err.getvalue())); print(' '.join(sys.modules))\n")
    done = subprocess.run([sys.executable, "-c", code, *args], capture_output=True, text=True,
                          check=True, cwd=tmp_path)
    status, stderr, modules = done.stdout.split("\n", 2)
    return int(status), eval(stderr), set(modules.split())


def test_no_dask_without_cluster(tmp_path: Path) -> None:
    """A run without --cluster (a list scan: nothing sent) loads none of Dask."""
    status, _, loaded = _modules_after(["-sL", "-n", "-oX", "x.xml", "127.0.0.1"], tmp_path)
    assert status == 0
    assert sorted(m for m in loaded if m.split(".")[0] in DASK_MODULES) == []
    assert "pynmap.session" in loaded


# A meta path finder that makes Dask look uninstalled.
NO_DASK = ("import sys, importlib.abc\n"
           "class Gone(importlib.abc.MetaPathFinder):\n"
           "    def find_spec(self, name, path=None, target=None):\n"
           "        if name.split('.')[0] in ('dask', 'distributed'):\n"
           "            raise ModuleNotFoundError(name)\n"
           "sys.meta_path.insert(0, Gone())\n")


def test_cluster_without_dask_says_how_to_install_it(tmp_path: Path) -> None:
    status, stderr, loaded = _modules_after(
        ["--cluster", "local:2", "-oX", "x.xml", "127.0.0.1"], tmp_path, NO_DASK)
    assert status == 1
    assert stderr == ("pynmap: --cluster needs Dask's distributed scheduler, which is not "
                      "installed: pip install 'pynmap[cluster]'\n")
    assert not (tmp_path / "x.xml").exists()  # before any output file is opened
    assert "distributed" not in loaded

"""Profile throughput on Dask: a LocalCluster of 2 workers vs 1 worker, MiniLM, same corpus, same run.

Fair comparison: every worker is one process with one torch thread (Dask sets
``OMP_NUM_THREADS=1`` in its workers; the worker sets ``torch.set_num_threads(1)`` too), so on
2 cores 2 workers can at best double 1 worker's rate.  Both clusters are started, and every
worker loads the model and runs one warm-up partition (``client.run`` on each worker, not left
to the scheduler), *before* the clock: the rates are steady-state throughput; cluster start-up
and model loading are reported apart (``startup_s_*``) and excluded.  Rounds alternate between
the 1-worker and the 2-worker cluster (ABBA order), ``--repeats`` of each; the speed-up is the
ratio of the median rates, with the per-pair ratios beside it.

Where the time goes, per round: every partition reports its worker thread's seconds
(``profile(timings=...)``, from ``/proc/thread-self/schedstat``): ``run`` (on a CPU) and
``runqueue wait`` (ready, but another process held the CPU — the machine's other load);
``idle`` = n_workers x wall - the partitions' wall seconds: workers waiting for work (the serial
part: scheduling, shipping partitions and summaries, merging on the client, the last partition's
tail).  ``cpu_ms_per_input`` compares the work per input with 1 and 2 workers busy;
``client_cpu_ms`` is this process's CPU per round (client, merging and the LocalCluster
schedulers, all threads).  ``speedup_without_runqueue_wait`` is an estimate: the rate ratio with
each round's runqueue wait (per worker) taken out of its wall time.  ``padding_waste`` is the
share of padded token slots that are padding.

Prints one JSON line (``benchmark: "profile"``); ``--inputs N --repeats R --partitions P``
make it longer (default 256 inputs, 5 repeats, 16 partitions: about a minute on an idle machine).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import time

import numpy as np


def _corpus(n: int) -> list[str]:
    rng = np.random.default_rng(0)
    words = ("the cat dog river city old new quiet garden letter train bird teacher doctor window "
             "street morning painted found followed ignored repaired visited described").split()
    return [" ".join(rng.choice(words, size=int(rng.integers(8, 24)))) + "." for _ in range(n)]


def _process_cpu() -> float:
    """CPU seconds of this process, all threads (the client and the LocalCluster schedulers)."""
    return time.process_time()


def _warm(texts: list[str]) -> int:
    """Load the model and run one partition in this worker (before the clock)."""
    from multiattn._profile_worker import load_once, profile_partition

    load_once("minilm")
    profile_partition(texts, "minilm", {"statistics": None, "batch_size": 8, "threads": 1})
    return os.getpid()


class _Cluster:
    """A LocalCluster of ``n`` one-thread worker processes, warmed up."""

    def __init__(self, n: int, warm: list[str]) -> None:
        from distributed import Client, LocalCluster

        start = time.perf_counter()
        self.n = n
        self.cluster = LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None)
        self.client = Client(self.cluster)
        self.client.run(_warm, warm)
        self.startup_s = time.perf_counter() - start

    def round(self, texts: list[str], partitions: int):
        import multiattn

        timings: list[dict] = []
        cpu, start = _process_cpu(), time.perf_counter()
        prof = multiattn.profile("minilm", texts, scheduler=self.client, partitions=partitions,
                                 progress=False, timings=timings)
        wall = time.perf_counter() - start
        total = {key: sum(t[key] for t in timings) for key in timings[0]}
        return {"wall": wall, "run": total["cpu_s"], "wait": total["wait_s"],
                "idle": max(0.0, self.n * wall - total["wall_s"]), "client_cpu": _process_cpu() - cpu,
                "padding": 1 - total["tokens"] / total["padded_tokens"], "load": os.getloadavg()[0]}, prof

    def close(self) -> None:
        self.client.close()
        self.cluster.close()


def _summary(rounds: list[dict], n_workers: int, n_inputs: int) -> dict:
    med = statistics.median
    busy = [n_workers * r["wall"] for r in rounds]
    return {"rate": med(n_inputs / r["wall"] for r in rounds),
            "rate_no_wait": med(n_inputs / max(1e-9, r["wall"] - r["wait"] / n_workers) for r in rounds),
            "run_share": med(r["run"] / b for r, b in zip(rounds, busy)),
            "wait_share": med(r["wait"] / b for r, b in zip(rounds, busy)),
            "idle_share": med(r["idle"] / b for r, b in zip(rounds, busy)),
            "cpu_ms_per_input": med(1e3 * r["run"] / n_inputs for r in rounds),
            "client_cpu_ms": med(1e3 * r["client_cpu"] for r in rounds),
            "padding_waste": med(r["padding"] for r in rounds)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--partitions", type=int, default=16)
    args = parser.parse_args(argv)
    texts = _corpus(args.inputs)
    load_start = os.getloadavg()
    one, two = _Cluster(1, texts[:8]), _Cluster(2, texts[:8])
    rounds: dict[int, list[dict]] = {1: [], 2: []}
    profiles = {}
    try:
        for r in range(args.repeats):
            for cluster in ((one, two) if r % 2 == 0 else (two, one)):
                result, profiles[cluster.n] = cluster.round(texts, args.partitions)
                rounds[cluster.n].append(result)
    finally:
        startup = {f"startup_s_{c.n}_worker{'s' * (c.n > 1)}": round(c.startup_s, 2) for c in (one, two)}
        one.close()
        two.close()
    p1, p2 = profiles[1], profiles[2]
    agree = bool((p1.count == p2.count).all() and np.allclose(p1.mean, p2.mean, rtol=1e-5, atol=1e-6))
    s1, s2 = _summary(rounds[1], 1, args.inputs), _summary(rounds[2], 2, args.inputs)
    pairs = [round(rounds[1][i]["wall"] / rounds[2][i]["wall"], 3) for i in range(args.repeats)]
    loads = [round(r["load"], 2) for i in range(args.repeats) for r in (rounds[1][i], rounds[2][i])]
    print(json.dumps({
        "benchmark": "profile", "model": "minilm", "inputs": args.inputs, "partitions": args.partitions,
        "repeats": args.repeats, "threads_per_worker": 1, "startup": "excluded", **startup,
        "inputs_per_s_1_worker": round(s1["rate"], 2), "inputs_per_s_2_workers": round(s2["rate"], 2),
        "speedup_2_vs_1": round(s2["rate"] / s1["rate"], 3), "speedup_pairs": pairs, "target": 1.6,
        "speedup_without_runqueue_wait": round(s2["rate_no_wait"] / s1["rate_no_wait"], 3),
        **{f"{key}_{n}w": round(s[key], 3) for n, s in ((1, s1), (2, s2))
           for key in ("run_share", "wait_share", "idle_share", "cpu_ms_per_input", "client_cpu_ms")},
        "padding_waste": round(s1["padding_waste"], 3),
        "profiles_agree": agree, "cpus": os.cpu_count(), "load_avg_1min_start": round(load_start[0], 2),
        "load_avg_1min_rounds": loads, "load_avg_1min_end": round(os.getloadavg()[0], 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

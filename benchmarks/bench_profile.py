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
share of padded token slots that are padding; ``blocked_share`` the partitions' seconds neither
on a CPU nor in the runqueue (the task thread asleep, e.g. on the GIL held by the worker's event loop).

The machine's ceiling, measured in the same run: next to every pair of rounds, 1 and then 2
busy-loop processes spin for ``--spin`` seconds and the CPU-seconds they obtain are compared
(``machine_ceiling_2_vs_1``; 2.0 on an idle 2-core machine).  On a shared Linux machine the
scheduler's autogroups share the CPUs between *sessions* first, so when other sessions keep the
cores busy, a second process of this session adds far less than a core — whatever the code
does.  ``efficiency_vs_ceiling`` = speed-up / ceiling is the part the code controls.

Prints one JSON line (``benchmark: "profile"``); ``--inputs N --repeats R --partitions P``
make it longer (default 256 inputs, 5 repeats, 16 partitions: about 1.5 minutes on an idle machine).
The clusters are the one ``profile(scheduler="local")`` starts (lean Dask settings: the workers'
statistical profiler off, slower monitors); ``--dask-defaults`` times a third, 2-worker cluster
with Dask's default settings in the same alternation (``lean_vs_dask_defaults_2w``).
"""

from __future__ import annotations

import argparse
import contextlib
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


def _spin(seconds: float, out) -> None:
    """Busy-loop for ``seconds`` of wall time; put the CPU-seconds this process obtained."""
    wall, cpu = time.perf_counter(), time.process_time()
    while time.perf_counter() - wall < seconds:
        pass
    out.put(time.process_time() - cpu)


def _ceiling(seconds: float) -> float:
    """CPU-seconds 2 concurrent busy processes obtain over what 1 obtains (2.0 on an idle 2-core box)."""
    import multiprocessing

    ctx = multiprocessing.get_context("spawn")
    got = {}
    for n in (1, 2):
        out = ctx.Queue()
        procs = [ctx.Process(target=_spin, args=(seconds, out)) for _ in range(n)]
        for proc in procs:
            proc.start()
        got[n] = sum(out.get() for _ in procs)
        for proc in procs:
            proc.join()
    return got[2] / max(got[1], 1e-9)


def _autogroup() -> bool | None:
    """Whether Linux shares the CPUs between sessions first (``kernel.sched_autogroup_enabled``)."""
    try:
        with open("/proc/sys/kernel/sched_autogroup_enabled", encoding="ascii") as f:
            return f.read().strip() == "1"
    except OSError:
        return None


def _process_cpu() -> float:
    """CPU seconds of this process, all threads (the client and the LocalCluster schedulers)."""
    return time.process_time()


def _warm(texts: list[str]) -> int:
    """Load the model and run one partition in this worker (before the clock)."""
    from multiattn._profile_worker import load_once, profile_partition

    load_once("minilm")
    profile_partition(texts, "minilm", {"statistics": None, "batch_size": 8, "threads": 1})
    return os.getpid()


@contextlib.contextmanager
def _default_cluster(n: int):
    """A LocalCluster with Dask's default settings (the baseline of ``--dask-defaults``)."""
    from distributed import Client, LocalCluster

    with LocalCluster(n_workers=n, threads_per_worker=1, processes=True, dashboard_address=None) as cluster, \
            Client(cluster) as client:
        yield client


class _Cluster:
    """A LocalCluster of ``n`` one-thread worker processes, warmed up (lean: the one profile() starts)."""

    def __init__(self, n: int, warm: list[str], lean: bool = True) -> None:
        from multiattn.profile import _local_cluster

        start = time.perf_counter()
        self.n, self.name = n, f"{n}w" if lean else f"{n}w_dask_defaults"
        self._context = (_local_cluster if lean else _default_cluster)(n)
        self.client = self._context.__enter__()
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
                "blocked": total["wall_s"] - total["cpu_s"] - total["wait_s"],
                "idle": max(0.0, self.n * wall - total["wall_s"]), "client_cpu": _process_cpu() - cpu,
                "padding": 1 - total["tokens"] / total["padded_tokens"], "load": os.getloadavg()[0]}, prof

    def close(self) -> None:
        self._context.__exit__(None, None, None)


def _summary(rounds: list[dict], n_workers: int, n_inputs: int) -> dict:
    med = statistics.median
    busy = [n_workers * r["wall"] for r in rounds]
    return {"rate": med(n_inputs / r["wall"] for r in rounds),
            "rate_no_wait": med(n_inputs / max(1e-9, r["wall"] - r["wait"] / n_workers) for r in rounds),
            "run_share": med(r["run"] / b for r, b in zip(rounds, busy)),
            "wait_share": med(r["wait"] / b for r, b in zip(rounds, busy)),
            "idle_share": med(r["idle"] / b for r, b in zip(rounds, busy)),
            "blocked_share": med(r["blocked"] / b for r, b in zip(rounds, busy)),
            "cpu_ms_per_input": med(1e3 * r["run"] / n_inputs for r in rounds),
            "client_cpu_ms": med(1e3 * r["client_cpu"] for r in rounds),
            "padding_waste": med(r["padding"] for r in rounds)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--inputs", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--partitions", type=int, default=16)
    parser.add_argument("--spin", type=float, default=2.0, help="seconds of each ceiling measurement")
    parser.add_argument("--dask-defaults", action="store_true",
                        help="also time 2 workers on a LocalCluster with Dask's default settings")
    args = parser.parse_args(argv)
    texts = _corpus(args.inputs)
    load_start = os.getloadavg()
    clusters = [_Cluster(1, texts[:8]), _Cluster(2, texts[:8])]
    if args.dask_defaults:
        clusters.append(_Cluster(2, texts[:8], lean=False))
    rounds: dict[str, list[dict]] = {c.name: [] for c in clusters}
    profiles, ceilings = {}, []
    try:
        for r in range(args.repeats):
            ceilings.append(_ceiling(args.spin))
            for cluster in (clusters if r % 2 == 0 else clusters[::-1]):
                result, profiles[cluster.name] = cluster.round(texts, args.partitions)
                rounds[cluster.name].append(result)
    finally:
        startup = {f"startup_s_{c.name}": round(c.startup_s, 2) for c in clusters}
        for cluster in clusters:
            cluster.close()
    p1, p2 = profiles["1w"], profiles["2w"]
    agree = bool((p1.count == p2.count).all() and np.allclose(p1.mean, p2.mean, rtol=1e-5, atol=1e-6))
    s1, s2 = _summary(rounds["1w"], 1, args.inputs), _summary(rounds["2w"], 2, args.inputs)
    pairs = [round(rounds["1w"][i]["wall"] / rounds["2w"][i]["wall"], 3) for i in range(args.repeats)]
    loads = [round(r["load"], 2) for i in range(args.repeats) for r in (rounds["1w"][i], rounds["2w"][i])]
    extra = {}
    if args.dask_defaults:
        sd = _summary(rounds["2w_dask_defaults"], 2, args.inputs)
        extra = {"inputs_per_s_2w_dask_defaults": round(sd["rate"], 2),
                 "lean_vs_dask_defaults_2w": round(s2["rate"] / sd["rate"], 3),
                 **{f"{key}_2w_dask_defaults": round(sd[key], 3)
                    for key in ("idle_share", "blocked_share", "cpu_ms_per_input", "client_cpu_ms")}}
    print(json.dumps({
        "benchmark": "profile", "model": "minilm", "inputs": args.inputs, "partitions": args.partitions,
        "repeats": args.repeats, "threads_per_worker": 1, "startup": "excluded", **startup,
        "inputs_per_s_1_worker": round(s1["rate"], 2), "inputs_per_s_2_workers": round(s2["rate"], 2),
        "speedup_2_vs_1": round(s2["rate"] / s1["rate"], 3), "speedup_pairs": pairs, "target": 1.6,
        "machine_ceiling_2_vs_1": round(statistics.median(ceilings), 3),
        "machine_ceilings": [round(c, 3) for c in ceilings],
        "efficiency_vs_ceiling": round(s2["rate"] / s1["rate"] / statistics.median(ceilings), 3),
        "speedup_without_runqueue_wait": round(s2["rate_no_wait"] / s1["rate_no_wait"], 3),
        **{f"{key}_{n}w": round(s[key], 3) for n, s in ((1, s1), (2, s2))
           for key in ("run_share", "wait_share", "idle_share", "blocked_share", "cpu_ms_per_input",
                       "client_cpu_ms")},
        "padding_waste": round(s1["padding_waste"], 3),
        **extra, "profiles_agree": agree, "cpus": os.cpu_count(), "sched_autogroup": _autogroup(),
        "load_avg_1min_start": round(load_start[0], 2),
        "load_avg_1min_rounds": loads, "load_avg_1min_end": round(os.getloadavg()[0], 2)}))
    return 0


if __name__ == "__main__":
    sys.exit(main())

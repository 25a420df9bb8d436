"""Profile throughput on Dask: a LocalCluster of 2 workers vs 1 worker, MiniLM, same corpus, same run.

Each cluster is started and every worker loads the model (a warm-up partition per worker)
before the clock starts, so the figure is steady-state throughput, not start-up.  One
thread per worker: on a 2-core machine 2 workers can at best double 1 worker's rate.
Other processes on the machine slow both alike only if the load is steady; the JSON line
records ``os.getloadavg()`` so a reader can tell.

Prints one JSON line: ``speedup_2_vs_1`` (inputs/s with 2 workers over 1 worker), both rates,
the corpus size, and whether the two profiles agree (counts equal, means within float32 noise).
"""

from __future__ import annotations

import json
import os
import sys
import time

import numpy as np

N_INPUTS, PARTITIONS = 256, 16


def _corpus(n: int) -> list[str]:
    rng = np.random.default_rng(0)
    words = ("the cat dog river city old new quiet garden letter train bird teacher doctor window "
             "street morning painted found followed ignored repaired visited described").split()
    return [" ".join(rng.choice(words, size=int(rng.integers(8, 24)))) + "." for _ in range(n)]


def _rate(n_workers: int, texts: list[str]):
    from distributed import Client, LocalCluster

    import multiattn
    from multiattn._profile_worker import load_once

    with LocalCluster(n_workers=n_workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        client.run(load_once, "minilm")  # every worker loads the model once, before the clock
        multiattn.profile("minilm", texts[:n_workers * 4], scheduler=client, partitions=n_workers,
                          progress=False)
        start = time.perf_counter()
        prof = multiattn.profile("minilm", texts, scheduler=client, partitions=PARTITIONS, progress=False)
        elapsed = time.perf_counter() - start
    return len(texts) / elapsed, prof


def main() -> None:
    texts = _corpus(N_INPUTS)
    load_before = os.getloadavg()[0]
    one, p1 = _rate(1, texts)
    two, p2 = _rate(2, texts)
    agree = bool((p1.count == p2.count).all() and np.allclose(p1.mean, p2.mean, rtol=1e-5, atol=1e-6))
    print(json.dumps({"benchmark": "profile", "model": "minilm", "inputs": N_INPUTS, "partitions": PARTITIONS,
                      "inputs_per_s_1_worker": round(one, 2), "inputs_per_s_2_workers": round(two, 2),
                      "speedup_2_vs_1": round(two / one, 3), "target": 1.6, "profiles_agree": agree,
                      "cpus": os.cpu_count(), "load_avg_before": round(load_before, 2),
                      "load_avg_after": round(os.getloadavg()[0], 2)}))


if __name__ == "__main__":
    sys.exit(main())

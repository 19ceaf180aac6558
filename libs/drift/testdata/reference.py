"""Reference values of libs/drift's statistics, computed with scipy and numpy.

Run from the repository root with the pinned environment (scipy==1.18.1,
numpy==2.5.5, see deploy/local/python/requirements.txt):

    python libs/drift/testdata/reference.py > libs/drift/testdata/reference.json

The cases are deterministic (fixed seeds); the Go tests in libs/drift read
the JSON and match the values to 1e-9 where the computation is exact.
"""
import json
import sys

import numpy as np
import scipy
from scipy import stats
from scipy.spatial import distance
from scipy.stats._ksstats import _kolmogn_PelzGood

rng = np.random.default_rng(20261201)


def floats(a):
    return [float(x) for x in a]


def ks_case(name, a, b):
    a, b = np.asarray(a, float), np.asarray(b, float)
    asymp = stats.ks_2samp(a, b, method="asymp")
    auto = stats.ks_2samp(a, b, method="auto")
    m, n = sorted([float(len(a)), float(len(b))], reverse=True)
    return {
        "name": name, "a": floats(a), "b": floats(b),
        "statistic": float(asymp.statistic),
        "p_asymp": float(asymp.pvalue), "p_auto": float(auto.pvalue),
        "n": int(np.round(m * n / (m + n))),
    }


def ks_cases():
    out = []
    for n1, n2 in [(8, 11), (40, 60), (120, 95), (500, 700), (3000, 2000)]:
        out.append(ks_case(f"normal_same_{n1}_{n2}", rng.normal(0, 1, n1), rng.normal(0, 1, n2)))
        out.append(ks_case(f"normal_shift_{n1}_{n2}", rng.normal(0, 1, n1), rng.normal(0.3, 1, n2)))
        out.append(ks_case(f"ties_{n1}_{n2}", rng.integers(0, 5, n1), rng.integers(0, 6, n2)))
    out.append(ks_case("identical", [1, 2, 3, 4, 5], [1, 2, 3, 4, 5]))
    out.append(ks_case("disjoint", [1, 2, 3], [10, 11, 12, 13]))
    out.append(ks_case("scale_1000_800", rng.normal(0, 1, 1000), rng.normal(0, 1.5, 800)))
    return out


def ks_binned_cases():
    """KS on bin counts: ks_2samp of the samples with each value replaced by
    its bin's lower edge, which is the CDF difference at the edges."""
    out = []
    for k, na, nb, shift in [(10, 5000, 800, 0.0), (10, 5000, 800, 0.2), (4, 300, 150, 0.5), (20, 20000, 3000, 0.05)]:
        ref = rng.normal(0, 1, na)
        edges = np.quantile(ref, np.linspace(0, 1, k + 1))
        win = rng.normal(shift, 1, nb)
        ca = np.histogram(np.clip(ref, edges[0], edges[-1]), edges)[0]
        cb = np.histogram(np.clip(win, edges[0], edges[-1]), edges)[0]
        ra, rb = np.repeat(edges[:-1], ca), np.repeat(edges[:-1], cb)
        r = stats.ks_2samp(ra, rb, method="asymp")
        mids = (edges[:-1] + edges[1:]) / 2
        lo, hi = min(edges[0], ref.min(), win.min()), max(edges[-1], ref.max(), win.max())
        mids[0] = lo + (edges[1] - lo) / 2
        mids[-1] = edges[-2] + (hi - edges[-2]) / 2
        w = stats.wasserstein_distance(mids, mids, ca, cb)
        out.append({"a": [int(x) for x in ca], "b": [int(x) for x in cb],
                    "statistic": float(r.statistic), "p_asymp": float(r.pvalue),
                    "mids": floats(mids), "wasserstein": float(w)})
    return out


def pelz_good_cases():
    out = []
    for n in [10, 50, 141, 1000, 20000, 10**6]:
        for lam in [0.2, 0.5, 0.8, 1.0, 1.36, 1.8, 2.5, 4.0]:
            x = lam / np.sqrt(n)
            if not (1 < n * x < n - 1):
                continue
            out.append({"n": n, "x": float(x),
                        "pelz_good_sf": float(_kolmogn_PelzGood(n, x, cdf=False)),
                        "kstwo_sf": float(stats.kstwo.sf(x, n))})
    return out


def chi2_cases():
    out = []
    tables = [
        ([50, 30, 20], [45, 35, 20]),
        ([500, 300, 200, 0], [400, 350, 200, 50]),          # a new category
        ([100, 0, 50, 0], [90, 0, 70, 5]),                   # empty in both
        ([60, 40], [30, 70]),                                # dof 1: Yates
        ([60, 40], [59, 41]),                                # dof 1, tiny diff
        ([1000, 10, 10, 10, 5], [900, 40, 20, 10, 30]),
        ([7, 0], [3, 0]),                                    # one column left
    ]
    for a, b in tables:
        t = np.array([a, b])
        keep = t.sum(axis=0) > 0
        if keep.sum() < 2:
            stat, p, dof = 0.0, 1.0, 0
        else:
            r = stats.chi2_contingency(t[:, keep])
            stat, p, dof = float(r.statistic), float(r.pvalue), int(r.dof)
        out.append({"a": a, "b": b, "statistic": stat, "p_value": p, "dof": dof})
    return out


def chisquare_cases():
    out = []
    for obs, exp in [([16, 18, 16, 14, 12, 12], [16, 16, 16, 16, 16, 8]),
                     ([10, 20, 30], [20, 20, 20]),
                     ([120, 80], [100.5, 99.5])]:
        r = stats.chisquare(obs, exp)
        out.append({"obs": floats(obs), "exp": floats(exp), "statistic": float(r.statistic), "p_value": float(r.pvalue)})
    return out


def js_cases():
    out = []
    for p, q in [([0.2, 0.3, 0.5], [0.1, 0.4, 0.5]),
                 ([10, 20, 30, 0], [12, 18, 25, 5]),       # counts, a new category
                 ([1, 0], [0, 1]),                          # disjoint: sqrt(ln 2)
                 ([5, 5, 5], [5, 5, 5]),
                 ([1000, 1, 1], [1, 1000, 1])]:
        out.append({"p": floats(p), "q": floats(q), "distance": float(distance.jensenshannon(p, q))})
    return out


def psi_numpy(e, a, eps=1e-4):
    e = np.where(np.asarray(e, float) == 0, eps, np.asarray(e, float))
    a = np.where(np.asarray(a, float) == 0, eps, np.asarray(a, float))
    return float(np.sum((a - e) * np.log(a / e)))


def psi_cases():
    out = []
    for e, a in [([0.1] * 10, [0.1] * 10),
                 ([0.25, 0.25, 0.25, 0.25], [0.1, 0.2, 0.3, 0.4]),
                 ([0.5, 0.5, 0.0], [0.4, 0.4, 0.2]),      # empty reference bin
                 ([0.3, 0.3, 0.4], [0.0, 0.5, 0.5])]:     # empty window bin
        out.append({"expected": floats(e), "actual": floats(a), "epsilon": 1e-4, "psi": psi_numpy(e, a)})
    return out


def wasserstein_cases():
    out = []
    for u, v in [(rng.normal(0, 1, 50), rng.normal(0.5, 1, 70)),
                 (rng.integers(0, 4, 30).astype(float), rng.integers(1, 5, 40).astype(float)),
                 ([0.0, 1.0, 3.0], [5.0, 6.0, 8.0]),
                 (rng.exponential(2, 1000), rng.exponential(2.5, 900))]:
        out.append({"u": floats(u), "v": floats(v), "distance": float(stats.wasserstein_distance(u, v))})
    for u, v, uw, vw in [([0, 1, 3], [5, 6, 8], [0.4, 0.4, 0.2], [1, 1, 1]),
                         ([3.4, 3.9, 7.5, 7.8], [4.5, 1.4], [1.4, 0.9, 3.1, 7.2], [3.2, 3.5])]:
        out.append({"u": floats(u), "v": floats(v), "u_weights": floats(uw), "v_weights": floats(vw),
                    "distance": float(stats.wasserstein_distance(u, v, uw, vw))})
    return out


json.dump({
    "scipy": scipy.__version__, "numpy": np.__version__,
    "ks": ks_cases(), "ks_binned": ks_binned_cases(), "pelz_good": pelz_good_cases(),
    "chi2": chi2_cases(), "chisquare": chisquare_cases(), "jensenshannon": js_cases(),
    "psi": psi_cases(), "wasserstein": wasserstein_cases(),
}, sys.stdout, separators=(",", ":"))
sys.stdout.write("\n")

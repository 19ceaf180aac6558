"""Reference figures of the monitor's performance and fairness metrics.

Writes reference.json: cases of (prediction, label[, group]) with what
scikit-learn 1.9 computes for them (accuracy_score, precision_score,
recall_score, f1_score, roc_auc_score, log_loss, mean_absolute_error,
root_mean_squared_error), and the demographic-parity and equalized-odds
differences as fairlearn defines them (max minus min over the groups of the
selection rate; the larger of the spreads of the true and false positive
rates), written out in numpy. Run from this directory with the tests'
Python (deploy/local/pyenv.sh ensure):

    python reference.py
"""
import json

import numpy as np
from sklearn import metrics

rng = np.random.default_rng(11)
cases = []


def classification(name, scores, labels, cut=0.5, groups=None):
    scores = np.asarray(scores, dtype=float)
    labels = np.asarray(labels, dtype=float)
    pred = (scores >= cut).astype(int)
    case = {"name": name, "task": "classification", "cut": cut,
            "predictions": scores.tolist(), "labels": labels.tolist()}
    want = {"accuracy": metrics.accuracy_score(labels, pred)}
    if pred.sum() > 0:
        want["precision"] = metrics.precision_score(labels, pred)
    if labels.sum() > 0:
        want["recall"] = metrics.recall_score(labels, pred)
    if "precision" in want and "recall" in want:
        want["f1"] = metrics.f1_score(labels, pred, zero_division=0.0)
    if 0 < labels.sum() < len(labels):
        want["auc"] = metrics.roc_auc_score(labels, scores)
    want["log_loss"] = metrics.log_loss(labels, scores, labels=[0, 1])
    case["want"] = want
    if groups is not None:
        groups = [str(g) for g in groups]
        case["groups"] = groups
        g = np.asarray(groups)
        rates, tprs, fprs = [], [], []
        for v in sorted(set(groups)):
            m = g == v
            rates.append(pred[m].mean())
            pos, neg = m & (labels == 1), m & (labels == 0)
            if pos.sum() > 0:
                tprs.append(pred[pos].mean())
            if neg.sum() > 0:
                fprs.append(pred[neg].mean())
        spread = lambda xs: (max(xs) - min(xs)) if len(xs) >= 2 else 0.0
        case["fairness"] = {"demographic_parity_difference": spread(rates),
                            "equalized_odds_difference": max(spread(tprs), spread(fprs))}
    cases.append(case)


def regression(name, preds, labels):
    preds = np.asarray(preds, dtype=float)
    labels = np.asarray(labels, dtype=float)
    cases.append({"name": name, "task": "regression", "cut": 0.5,
                  "predictions": preds.tolist(), "labels": labels.tolist(),
                  "want": {"mae": metrics.mean_absolute_error(labels, preds),
                           "rmse": metrics.root_mean_squared_error(labels, preds)}})


# Scores with many ties (two decimals), labels correlated with them.
n = 500
s = np.round(rng.uniform(0, 1, n), 2)
y = (rng.uniform(0, 1, n) < s).astype(int)
classification("ties", s, y, groups=rng.integers(0, 3, n))
classification("cut 0.3", s, y, cut=0.3, groups=rng.integers(0, 2, n))
# Scores at exactly 0 and 1: log loss clipped.
classification("extremes", [0.0, 1.0, 1.0, 0.0, 0.7, 0.2], [0, 1, 0, 1, 1, 0])
# One class only: no AUC, no recall.
classification("negatives only", [0.1, 0.6, 0.3], [0, 0, 0])
# Nothing predicted positive: no precision, no F1.
classification("no positive prediction", [0.1, 0.2, 0.3, 0.4], [0, 1, 0, 1])
regression("regression", rng.normal(10, 3, 300), rng.normal(10, 3, 300))

with open("reference.json", "w") as f:
    json.dump({"cases": cases}, f, indent=1)
    f.write("\n")

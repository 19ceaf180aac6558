// Package learntest loads the committed reference fixtures of the built-in
// learners (libs/learn/testdata, written once by testdata/export.py with
// scikit-learn) as learn.Datasets split into train and holdout, and the
// scikit-learn figures measured on the very same split, so that every
// learner's tests compare against the same numbers. Synthetic generates
// the benchmark data, bit for bit as libs/learn/bench/sklearn_bench.py
// generates it for scikit-learn.
package learntest

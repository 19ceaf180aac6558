package gbdt

import (
	"math"

	"github.com/tributary-ml/tributary/libs/learn"
)

// EarlyStopping says when training holds out a validation split and stops
// once its loss stops improving.
type EarlyStopping string

// Early-stopping modes.
const (
	EarlyStoppingAuto EarlyStopping = "auto" // on when the set has more than 10,000 rows (scikit-learn's rule)
	EarlyStoppingOn   EarlyStopping = "on"
	EarlyStoppingOff  EarlyStopping = "off"
)

// autoEarlyStoppingRows is the row count above which EarlyStoppingAuto
// turns early stopping on.
const autoEarlyStoppingRows = 10000

// Params are the hyper-parameters of Train. The zero value of a field means
// its default (see DefaultParams); the JSON names are the ones a train
// request carries.
type Params struct {
	Task learn.Task `json:"task"`
	// MaxIter is the number of boosting iterations (one tree per
	// iteration, one per class and iteration for multiclass). Default 100.
	MaxIter int `json:"max_iter,omitempty"`
	// LearningRate shrinks every tree's leaf values. Default 0.1.
	LearningRate float64 `json:"learning_rate,omitempty"`
	// MaxLeaves bounds the leaves of a tree, grown best-first. Default 31.
	MaxLeaves int `json:"max_leaves,omitempty"`
	// MaxDepth bounds the depth of a tree (the root is depth 0); 0 means
	// no bound.
	MaxDepth int `json:"max_depth,omitempty"`
	// MinSamplesLeaf is the fewest training rows a leaf may hold. Default 20.
	MinSamplesLeaf int `json:"min_samples_leaf,omitempty"`
	// L2 is the L2 penalty on leaf values (added to the hessian sum).
	// Default 0, like scikit-learn.
	L2 float64 `json:"l2,omitempty"`
	// MaxBins is the number of quantile bins per feature for non-missing
	// values, at most 255 (one more bin is reserved for missing values).
	// Default 255.
	MaxBins int `json:"max_bins,omitempty"`
	// EarlyStopping: auto (default), on or off.
	EarlyStopping EarlyStopping `json:"early_stopping,omitempty"`
	// ValidationFraction is the share of rows held out (stratified by
	// class for classification) to decide early stopping. Default 0.1.
	ValidationFraction float64 `json:"validation_fraction,omitempty"`
	// NIterNoChange: stop when the validation loss has not improved by
	// more than Tol over the last NIterNoChange iterations. Default 10.
	NIterNoChange int `json:"n_iter_no_change,omitempty"`
	// Tol is the least improvement of the validation loss that counts.
	// Default 1e-7.
	Tol float64 `json:"tol,omitempty"`
	// Seed drives the validation split and the sample the bin edges are
	// computed from: the same data, parameters and seed give a
	// byte-identical model.
	Seed uint64 `json:"seed,omitempty"`
	// Workers is the number of goroutines that build histograms; 0 means
	// GOMAXPROCS. The model does not depend on it.
	Workers int `json:"-"`
}

// DefaultParams returns the defaults for task.
func DefaultParams(task learn.Task) Params {
	return Params{
		Task:               task,
		MaxIter:            100,
		LearningRate:       0.1,
		MaxLeaves:          31,
		MinSamplesLeaf:     20,
		MaxBins:            maxBins,
		EarlyStopping:      EarlyStoppingAuto,
		ValidationFraction: 0.1,
		NIterNoChange:      10,
		Tol:                1e-7,
	}
}

// withDefaults fills the zero fields with the defaults.
func (p Params) withDefaults() Params {
	d := DefaultParams(p.Task)
	if p.MaxIter == 0 {
		p.MaxIter = d.MaxIter
	}
	if p.LearningRate == 0 {
		p.LearningRate = d.LearningRate
	}
	if p.MaxLeaves == 0 {
		p.MaxLeaves = d.MaxLeaves
	}
	if p.MinSamplesLeaf == 0 {
		p.MinSamplesLeaf = d.MinSamplesLeaf
	}
	if p.MaxBins == 0 {
		p.MaxBins = d.MaxBins
	}
	if p.EarlyStopping == "" {
		p.EarlyStopping = d.EarlyStopping
	}
	if p.ValidationFraction == 0 {
		p.ValidationFraction = d.ValidationFraction
	}
	if p.NIterNoChange == 0 {
		p.NIterNoChange = d.NIterNoChange
	}
	if p.Tol == 0 {
		p.Tol = d.Tol
	}
	return p
}

// Validate checks the parameters, zero fields taking their defaults, as
// Train does; an error is a *learn.DataError of reason bad_param
// (unknown_task for the task).
func (p Params) Validate() error {
	p = p.withDefaults()
	bad := badParam
	switch {
	case p.Task != learn.TaskBinary && p.Task != learn.TaskMulticlass && p.Task != learn.TaskRegression:
		return learn.NewDataError(learn.ReasonBadTask, "gbdt task %q, want binary, multiclass or regression", p.Task)
	case p.MaxIter < 1:
		return bad("max_iter %d, want at least 1", p.MaxIter)
	case !(p.LearningRate > 0) || math.IsInf(p.LearningRate, 0):
		return bad("learning_rate %v, want a positive number", p.LearningRate)
	case p.MaxLeaves < 2:
		return bad("max_leaves %d, want at least 2", p.MaxLeaves)
	case p.MaxDepth < 0:
		return bad("max_depth %d, want 0 (no bound) or more", p.MaxDepth)
	case p.MinSamplesLeaf < 1:
		return bad("min_samples_leaf %d, want at least 1", p.MinSamplesLeaf)
	case !(p.L2 >= 0) || math.IsInf(p.L2, 0):
		return bad("l2 %v, want 0 or more", p.L2)
	case p.MaxBins < 2 || p.MaxBins > maxBins:
		return bad("max_bins %d, want 2..%d", p.MaxBins, maxBins)
	case p.EarlyStopping != EarlyStoppingAuto && p.EarlyStopping != EarlyStoppingOn && p.EarlyStopping != EarlyStoppingOff:
		return bad("early_stopping %q, want auto, on or off", p.EarlyStopping)
	case !(p.ValidationFraction > 0 && p.ValidationFraction < 1):
		return bad("validation_fraction %v, want a number between 0 and 1", p.ValidationFraction)
	case p.NIterNoChange < 1:
		return bad("n_iter_no_change %d, want at least 1", p.NIterNoChange)
	case !(p.Tol >= 0) || math.IsInf(p.Tol, 0):
		return bad("tol %v, want 0 or more", p.Tol)
	case p.Workers < 0:
		return bad("workers %d, want 0 (GOMAXPROCS) or more", p.Workers)
	}
	return nil
}

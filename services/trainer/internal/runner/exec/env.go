package exec

import (
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/services/trainer/internal/runner"
)

// Environment variables of the training code contract.
const (
	EnvTrainPath   = "TRIBUTARY_TRAIN_PATH"
	EnvHoldoutPath = "TRIBUTARY_HOLDOUT_PATH"
	EnvOutputDir   = "TRIBUTARY_OUTPUT_DIR"
	EnvFeatures    = "TRIBUTARY_FEATURES"
	EnvLabel       = "TRIBUTARY_LABEL"
	EnvTask        = "TRIBUTARY_TASK"
	EnvClasses     = "TRIBUTARY_CLASSES"
	EnvSeed        = "TRIBUTARY_SEED"
	EnvModel       = "TRIBUTARY_MODEL"
	EnvJobID       = "TRIBUTARY_JOB_ID"
	EnvRunID       = "TRIBUTARY_RUN_ID"
	EnvTrainer     = "TRIBUTARY_TRAINER"
	EnvParams      = "TRIBUTARY_PARAMS"
	// EnvParamPrefix starts one variable per parameter: the name upper-cased,
	// with '.' and '-' turned into '_'.
	EnvParamPrefix = "TRIBUTARY_PARAM_"
)

// ParamEnvName is the environment variable that carries parameter name.
func ParamEnvName(name string) string {
	return EnvParamPrefix + strings.Map(func(r rune) rune {
		switch {
		case r >= 'a' && r <= 'z':
			return r - 'a' + 'A'
		case r >= 'A' && r <= 'Z', r >= '0' && r <= '9', r == '_':
			return r
		}
		return '_'
	}, name)
}

// Paths are where the command finds its input and writes its output; the
// kubernetes runner's pod has other paths than the trainer.
type Paths struct {
	Train, Holdout, Output string
}

// Env returns the contract's variables for req (KEY=value, sorted), with
// the input and output paths given. It refuses, with runner.ErrBadInput, a
// request whose features cannot be listed with commas or whose parameters
// map to one variable twice.
func Env(req runner.Request, p Paths) ([]string, error) {
	for _, f := range req.Features {
		if f == "" || strings.ContainsAny(f, ",\n") {
			return nil, fmt.Errorf("%w: feature name %q cannot be passed in %s", runner.ErrBadInput, f, EnvFeatures)
		}
	}
	classes := req.Classes
	switch req.Task {
	case learn.TaskBinary:
		classes = 2
	case learn.TaskRegression:
		classes = 0
	}
	env := map[string]string{
		EnvTrainPath:   p.Train,
		EnvHoldoutPath: p.Holdout,
		EnvOutputDir:   p.Output,
		EnvFeatures:    strings.Join(req.Features, ","),
		EnvLabel:       req.Label,
		EnvTask:        string(req.Task),
		EnvClasses:     strconv.Itoa(classes),
		EnvSeed:        strconv.FormatInt(req.Seed, 10),
		EnvModel:       req.Model,
		EnvJobID:       req.JobID,
		EnvRunID:       req.RunID,
		EnvTrainer:     req.Trainer,
	}
	params := req.Params
	if params == nil {
		params = map[string]string{}
	}
	js, err := json.Marshal(params)
	if err != nil {
		return nil, fmt.Errorf("encode parameters: %w", err)
	}
	env[EnvParams] = string(js)
	from := map[string]string{}
	for _, k := range slices.Sorted(maps.Keys(params)) {
		name := ParamEnvName(k)
		if other, ok := from[name]; ok {
			return nil, fmt.Errorf("%w: parameters %q and %q are both %s", runner.ErrBadInput, other, k, name)
		}
		from[name] = k
		env[name] = params[k]
	}
	out := make([]string, 0, len(env))
	for _, k := range slices.Sorted(maps.Keys(env)) {
		out = append(out, k+"="+env[k])
	}
	return out, nil
}

// merge returns the variables of the lists, later lists winning over
// earlier ones for the same name, in first-seen order.
func merge(lists ...[]string) []string {
	idx := map[string]int{}
	var out []string
	for _, l := range lists {
		for _, kv := range l {
			k, _, _ := strings.Cut(kv, "=")
			if i, ok := idx[k]; ok {
				out[i] = kv
				continue
			}
			idx[k] = len(out)
			out = append(out, kv)
		}
	}
	return out
}

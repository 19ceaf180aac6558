package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/tributary-ml/tributary/libs/service"
)

const predictUsage = `Usage: tributary predict [flags] MODEL ENTITY...

Asks serving for predictions by entity key: POST /v1/predict/MODEL on
-serving.url (TRIBUTARY_SERVING_URL). Serving reads the model's features for
each entity from the online store, routes it by the model's aliases
(production, canary weight, shadow, A/B) and logs every prediction. A
request-time feature (-f view:feature=value, repeatable) is sent with every
entity and taken instead of the online value. Prints one row per entity: the
prediction, the version and route that answered, the age of the stalest
online feature used and the features the entity had no value for. Flags go
before or after the arguments.

Example: tributary predict fraud c01 c02 -f req:amount=950
`

type predictOptions struct {
	url      string
	output   string
	timeout  time.Duration
	features featureFlags
	model    string
	entities []string
}

// featureFlags collects repeated -f view:feature=value flags.
type featureFlags map[string]float64

func (f featureFlags) String() string { return fmt.Sprint(map[string]float64(f)) }

func (f featureFlags) Set(s string) error {
	k, v, ok := strings.Cut(s, "=")
	if !ok || k == "" {
		return fmt.Errorf("%q: want view:feature=number", s)
	}
	x, err := strconv.ParseFloat(v, 64)
	if err != nil {
		return fmt.Errorf("%q: %q is not a number", s, v)
	}
	f[k] = x
	return nil
}

// parseInterleaved parses flags and positional arguments in any order
// ("--" ends the flags), then applies the environment to the flags not
// given.
func parseInterleaved(fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) ([]string, error) {
	var positional []string
	rest := args
	for {
		if err := fs.Parse(rest); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			break
		}
		if len(rest) > 0 && len(fs.Args()) < len(rest) && rest[len(rest)-len(fs.Args())-1] == "--" {
			positional = append(positional, fs.Args()...)
			break
		}
		positional = append(positional, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	return positional, service.ParseFlags(fs, nil, lookupEnv)
}

func parsePredictFlags(args []string, lookupEnv func(string) (string, bool), output io.Writer) (predictOptions, error) {
	o := predictOptions{features: featureFlags{}}
	fs := flag.NewFlagSet("predict", flag.ContinueOnError)
	fs.SetOutput(output)
	fs.Usage = func() {
		fmt.Fprint(output, predictUsage)
		fmt.Fprintln(output)
		fs.PrintDefaults()
	}
	registerServiceURL(fs, &o.url, "serving")
	fs.Var(o.features, "f", "A request-time feature sent with every entity, view:feature=number (repeatable).")
	fs.StringVar(&o.output, "o", "table", "Output: table or json (the service's answer).")
	fs.DurationVar(&o.timeout, "timeout", 10*time.Second, "Give up after this long.")
	pos, err := parseInterleaved(fs, args, lookupEnv)
	if err != nil {
		return o, err
	}
	if o.url, err = checkServiceURL("serving", o.url); err != nil {
		return o, err
	}
	switch {
	case len(pos) < 2:
		fs.Usage()
		return o, errors.New("want MODEL and at least one ENTITY")
	case o.output != "table" && o.output != "json":
		return o, fmt.Errorf("-o %q: want table or json", o.output)
	case o.timeout <= 0:
		return o, errors.New("-timeout: must be positive")
	}
	o.model, o.entities = pos[0], pos[1:]
	return o, nil
}

// predictAnswer is the part of serving's answer the table shows
// (services/serving/README.md; -o json prints all of it).
type predictAnswer struct {
	Model   string    `json:"model"`
	AsOf    time.Time `json:"as_of"`
	Results []struct {
		Entity        string    `json:"entity"`
		PredictionID  string    `json:"prediction_id"`
		Version       int       `json:"version"`
		Route         string    `json:"route"`
		Prediction    float64   `json:"prediction"`
		Probabilities []float64 `json:"probabilities"`
		StalestAge    *float64  `json:"stalest_feature_age_seconds"`
		Missing       []string  `json:"missing_features"`
	} `json:"results"`
}

func runPredict(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return predict(ctx, args, os.LookupEnv, http.DefaultClient, stdout, stderr)
}

func predict(ctx context.Context, args []string, lookupEnv func(string) (string, bool), hc *http.Client, stdout, stderr io.Writer) error {
	o, err := parsePredictFlags(args, lookupEnv, stderr)
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(ctx, o.timeout)
	defer cancel()
	entities := make([]any, len(o.entities))
	for i, e := range o.entities {
		if len(o.features) == 0 {
			entities[i] = e
			continue
		}
		entities[i] = map[string]any{"key": e, "features": o.features}
	}
	c := serviceHTTP{name: "serving", base: o.url, hc: hc}
	var a predictAnswer
	raw, err := c.call(ctx, http.MethodPost, "/v1/predict/"+url.PathEscape(o.model), map[string]any{"entities": entities}, &a)
	if err != nil {
		return err
	}
	return renderRaw(stdout, o.output, raw, func(w *tabwriter.Writer) {
		fmt.Fprintln(w, "ENTITY\tPREDICTION\tVERSION\tROUTE\tSTALEST FEATURE\tMISSING\tPREDICTION ID")
		for _, r := range a.Results {
			age := "-"
			if r.StalestAge != nil {
				age = seconds(*r.StalestAge)
			}
			missing := "-"
			if len(r.Missing) > 0 {
				missing = strings.Join(r.Missing, ",")
			}
			fmt.Fprintf(w, "%s\t%.6g\t%d\t%s\t%s\t%s\t%s\n", r.Entity, r.Prediction, r.Version, dash(r.Route), age, missing, r.PredictionID)
		}
	})
}

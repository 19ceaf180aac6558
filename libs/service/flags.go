package service

import (
	"flag"
	"fmt"
	"strings"
)

// EnvPrefix starts the name of every environment variable that can set a flag.
const EnvPrefix = "TRIBUTARY_"

// EnvName returns the environment variable that sets the flag with the given
// name: "kafka.brokers" is read from TRIBUTARY_KAFKA_BROKERS.
func EnvName(flagName string) string {
	r := strings.NewReplacer(".", "_", "-", "_")
	return EnvPrefix + strings.ToUpper(r.Replace(flagName))
}

// ParseFlags parses args into fs, then sets every flag that was not given on
// the command line from its environment variable (see EnvName), when that
// variable is set. lookupEnv is os.LookupEnv outside tests. A bad value names
// both the flag and the variable, so that the operator knows which to fix.
func ParseFlags(fs *flag.FlagSet, args []string, lookupEnv func(string) (string, bool)) error {
	if err := fs.Parse(args); err != nil {
		return err
	}
	given := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { given[f.Name] = true })
	var firstErr error
	fs.VisitAll(func(f *flag.Flag) {
		if firstErr != nil || given[f.Name] {
			return
		}
		env := EnvName(f.Name)
		v, ok := lookupEnv(env)
		if !ok {
			return
		}
		if err := fs.Set(f.Name, v); err != nil {
			firstErr = fmt.Errorf("invalid value %q for flag -%s (from %s): %w", v, f.Name, env, err)
		}
	})
	return firstErr
}

package exec

import (
	"errors"
	"flag"
	"time"
)

// RegisterFlags registers the exec runner's flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.DurationVar(&c.Grace, "exec.grace", 10*time.Second, "Exec runner: how long a training command has between SIGTERM and SIGKILL at its deadline.")
	fs.StringVar(&c.Dir, "exec.dir", "", "Exec runner: the directory a relative command path (./train.sh) is taken from (default: the trainer's working directory).")
}

// Validate checks the configuration.
func (c *Config) Validate() error {
	if c.Grace < 0 {
		return errors.New("exec.grace must not be negative")
	}
	return nil
}

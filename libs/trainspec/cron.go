package trainspec

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Cron is a parsed 5-field cron expression: minute (0-59), hour (0-23),
// day of month (1-31), month (1-12), day of week (0-6, Sunday 0; 7 is also
// Sunday). A field is *, a number, a range a-b, any of them with a step
// /n, or a comma-separated list of those. As in Vixie cron, when both
// day fields are restricted a day matches either.
type Cron struct {
	minute, hour, dom, month, dow uint64 // bit i set: value i matches
	domStar, dowStar              bool
}

// ParseCron parses a 5-field cron expression.
func ParseCron(expr string) (Cron, error) {
	fields := strings.Fields(expr)
	if len(fields) != 5 {
		return Cron{}, fmt.Errorf("cron %q: want 5 fields (minute hour day-of-month month day-of-week), got %d", expr, len(fields))
	}
	var c Cron
	var err error
	specs := []struct {
		name     string
		lo, hi   int
		dst      *uint64
		wildcard *bool
	}{
		{"minute", 0, 59, &c.minute, nil},
		{"hour", 0, 23, &c.hour, nil},
		{"day-of-month", 1, 31, &c.dom, &c.domStar},
		{"month", 1, 12, &c.month, nil},
		{"day-of-week", 0, 7, &c.dow, &c.dowStar},
	}
	for i, s := range specs {
		if *s.dst, err = parseField(fields[i], s.lo, s.hi); err != nil {
			return Cron{}, fmt.Errorf("cron %q: %s: %v", expr, s.name, err)
		}
		if s.wildcard != nil {
			*s.wildcard = strings.HasPrefix(fields[i], "*")
		}
	}
	if c.dow&(1<<7) != 0 {
		c.dow |= 1
	}
	return c, nil
}

func parseField(f string, lo, hi int) (uint64, error) {
	var bits uint64
	for _, part := range strings.Split(f, ",") {
		rng, stepStr, hasStep := strings.Cut(part, "/")
		step := 1
		if hasStep {
			n, err := strconv.Atoi(stepStr)
			if err != nil || n < 1 || n > hi {
				return 0, fmt.Errorf("step %q: want 1 to %d", stepStr, hi)
			}
			step = n
		}
		a, b := lo, hi
		switch {
		case rng == "*":
		case strings.Contains(rng, "-"):
			as, bs, _ := strings.Cut(rng, "-")
			var err1, err2 error
			a, err1 = strconv.Atoi(as)
			b, err2 = strconv.Atoi(bs)
			if err1 != nil || err2 != nil || a > b {
				return 0, fmt.Errorf("range %q: want a-b with a <= b", rng)
			}
		default:
			n, err := strconv.Atoi(rng)
			if err != nil {
				return 0, fmt.Errorf("%q is not a number, range or *", rng)
			}
			a, b = n, n
			if hasStep {
				b = hi
			}
		}
		if a < lo || b > hi {
			return 0, fmt.Errorf("%q: values must be %d to %d", part, lo, hi)
		}
		for v := a; v <= b; v += step {
			bits |= 1 << uint(v)
		}
	}
	return bits, nil
}

func (c Cron) dayMatches(t time.Time) bool {
	dom := c.dom&(1<<uint(t.Day())) != 0
	dow := c.dow&(1<<uint(t.Weekday())) != 0
	switch {
	case c.domStar && c.dowStar:
		return true
	case c.domStar:
		return dow
	case c.dowStar:
		return dom
	}
	return dom || dow
}

// Next returns the first minute strictly after t (in t's location) that the
// expression matches, or the zero time if none comes within five years.
func (c Cron) Next(t time.Time) time.Time {
	t = t.Truncate(time.Minute).Add(time.Minute)
	end := t.AddDate(5, 0, 0)
	for t.Before(end) {
		if c.month&(1<<uint(t.Month())) == 0 {
			t = time.Date(t.Year(), t.Month()+1, 1, 0, 0, 0, 0, t.Location())
			continue
		}
		if !c.dayMatches(t) {
			t = time.Date(t.Year(), t.Month(), t.Day()+1, 0, 0, 0, 0, t.Location())
			continue
		}
		if c.hour&(1<<uint(t.Hour())) == 0 {
			t = t.Truncate(time.Hour).Add(time.Hour)
			continue
		}
		if c.minute&(1<<uint(t.Minute())) == 0 {
			t = t.Add(time.Minute)
			continue
		}
		return t
	}
	return time.Time{}
}

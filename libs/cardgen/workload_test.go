package cardgen

import (
	"math"
	"slices"
	"sort"
	"testing"
	"time"
)

func TestWorkloadDeterministic(t *testing.T) {
	at := time.Date(2026, 12, 1, 10, 0, 0, 0, time.UTC)
	make3 := func(seed uint64, clock time.Time) []Transaction {
		cfg := DefaultConfig()
		cfg.Seed = seed
		w, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		var out []Transaction
		for i := range 2000 {
			tx := w.Next(clock.Add(time.Duration(i)*time.Millisecond), i >= 1000)
			tx.At = time.Time{} // the clock is not part of the draws
			out = append(out, tx)
		}
		return out
	}
	a, b := make3(7, at), make3(7, at.Add(time.Hour))
	if !slices.Equal(a, b) {
		t.Fatal("the same seed made different transactions")
	}
	if c := make3(8, at); slices.Equal(a, c) {
		t.Fatal("another seed made the same transactions")
	}
	if a[0].ID != "txn-7-1" || a[1999].ID != "txn-7-2000" {
		t.Errorf("ids %s .. %s", a[0].ID, a[1999].ID)
	}
}

func TestWorkloadShape(t *testing.T) {
	cfg := DefaultConfig()
	w, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	const n = 60000
	var (
		before, after           []float64 // log amounts
		fraudBy                 = map[string][2]int{}
		cards                   = map[string]int{}
		unlabelled, fraud       int
		minDelay, maxDelay      = time.Hour, time.Duration(0)
		foreignFraud, foreignN  int
		homeFraud, homeN        int
		homeCountry             = map[string]string{}
		seenDriftCategoryBefore bool
		driftCategory           int
	)
	for i := range 2 * n {
		drift := i >= n
		tx := w.Next(time.Now(), drift)
		if tx.Amount <= 0 {
			t.Fatalf("amount %g", tx.Amount)
		}
		if drift {
			after = append(after, math.Log(tx.Amount))
			if tx.Category == DriftCategory {
				driftCategory++
			}
			continue
		}
		if tx.Category == DriftCategory {
			seenDriftCategoryBefore = true
		}
		before = append(before, math.Log(tx.Amount))
		c := fraudBy[tx.Category]
		c[1]++
		if tx.Fraud {
			c[0]++
			fraud++
		}
		fraudBy[tx.Category] = c
		cards[tx.Card]++
		if tx.Unlabelled {
			unlabelled++
		}
		minDelay, maxDelay = min(minDelay, tx.LabelAfter), max(maxDelay, tx.LabelAfter)
		if h, ok := homeCountry[tx.Card]; !ok {
			homeCountry[tx.Card] = tx.Country
		} else if tx.Country != h {
			foreignN++
			if tx.Fraud {
				foreignFraud++
			}
		} else {
			homeN++
			if tx.Fraud {
				homeFraud++
			}
		}
	}
	median := func(x []float64) float64 { s := slices.Clone(x); sort.Float64s(s); return s[len(s)/2] }
	// Log-normal: the log amount's median near mu plus the mean category
	// offset; drift shifts it by DriftAmountShift (or more: the new
	// category spends more).
	if m := median(before); math.Abs(m-cfg.AmountMu) > 0.3 {
		t.Errorf("median log amount %.2f, want about %.2f", m, cfg.AmountMu)
	}
	if shift := median(after) - median(before); shift < cfg.DriftAmountShift || shift > cfg.DriftAmountShift+0.5 {
		t.Errorf("drift shifted the median log amount by %.2f, want about %.2f", shift, cfg.DriftAmountShift)
	}
	if seenDriftCategoryBefore || float64(driftCategory)/n < 0.1 {
		t.Errorf("drift category before drift: %v; after: %d of %d", seenDriftCategoryBefore, driftCategory, n)
	}
	rate := func(c string) float64 { return float64(fraudBy[c][0]) / float64(fraudBy[c][1]) }
	if total := float64(fraud) / n; total < 0.01 || total > 0.08 {
		t.Errorf("fraud rate %.3f, want 1%% to 8%%", total)
	}
	if !(rate("gambling") > 3*rate("grocery")) || !(rate("electronics") > 2*rate("restaurant")) {
		t.Errorf("fraud rates by category %v", fraudBy)
	}
	if f, h := float64(foreignFraud)/float64(foreignN), float64(homeFraud)/float64(homeN); !(f > 2*h) {
		t.Errorf("fraud abroad %.3f, at home %.3f", f, h)
	}
	if u := float64(unlabelled) / n; math.Abs(u-cfg.Unlabelled) > 0.01 {
		t.Errorf("unlabelled share %.3f, want %.2f", u, cfg.Unlabelled)
	}
	if minDelay < cfg.LabelDelay/2 || maxDelay > 3*cfg.LabelDelay/2 || maxDelay-minDelay < cfg.LabelDelay*9/10 {
		t.Errorf("label delays %v .. %v around %v", minDelay, maxDelay, cfg.LabelDelay)
	}
	// A few busy cards, most of them seen.
	counts := make([]int, 0, len(cards))
	for _, c := range cards {
		counts = append(counts, c)
	}
	sort.Sort(sort.Reverse(sort.IntSlice(counts)))
	if len(cards) < cfg.Cards*9/10 || counts[0] < 10*counts[len(counts)/2] {
		t.Errorf("%d cards seen, busiest %d, median %d", len(cards), counts[0], counts[len(counts)/2])
	}
}

func TestConfigValidate(t *testing.T) {
	for name, change := range map[string]func(*Config){
		"no cards":          func(c *Config) { c.Cards = 0 },
		"sigma":             func(c *Config) { c.AmountSigma = 0 },
		"negative delay":    func(c *Config) { c.LabelDelay = -time.Second },
		"unlabelled over 1": func(c *Config) { c.Unlabelled = 1.5 },
		"no prefix":         func(c *Config) { c.IDPrefix = "" },
	} {
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			change(&cfg)
			if _, err := New(cfg); err == nil {
				t.Fatal("no error")
			}
		})
	}
}

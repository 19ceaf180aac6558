package cardgen

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// Categories are the merchant categories before drift; DriftCategory is
// the one that opens with drift.
var (
	Categories    = []string{"grocery", "restaurant", "fuel", "online_retail", "electronics", "travel", "gambling"}
	DriftCategory = "crypto"
	Countries     = []string{"US", "GB", "DE", "FR", "NL", "ES", "BR", "IN", "NG"}
	Devices       = []string{"pos", "ios", "android", "web"}
)

// category is one merchant category's share of transactions, its amount
// offset (log scale) and its fraud weight (log odds).
type category struct {
	share, amount, fraud float64
}

var categories = map[string]category{
	"grocery":       {0.30, -0.4, -0.8},
	"restaurant":    {0.20, -0.1, -0.6},
	"fuel":          {0.12, 0.0, -0.3},
	"online_retail": {0.18, 0.3, 0.6},
	"electronics":   {0.08, 1.0, 1.2},
	"travel":        {0.07, 1.3, 0.9},
	"gambling":      {0.05, 0.6, 1.6},
	"crypto":        {0.18, 1.4, 2.2}, // only after drift, share of all transactions
}

// Config is what the workload looks like.
type Config struct {
	Seed  uint64
	Cards int // distinct cards (entities)
	// BaseFraud is the log odds of fraud before the category, country,
	// device and amount terms (-4.6: about 1%).
	BaseFraud float64
	// AmountMu and AmountSigma are the log-normal amount's parameters
	// (amount = exp(N(mu + card + category, sigma))).
	AmountMu, AmountSigma float64
	// DriftAmountShift is added to mu when drift is on.
	DriftAmountShift float64
	// LabelDelay is the mean delay of a label; each is drawn uniformly in
	// [LabelDelay/2, 3*LabelDelay/2].
	LabelDelay time.Duration
	// Unlabelled is the share of transactions whose label never arrives.
	Unlabelled float64
	// IDPrefix starts every event id (ids must be unique across runs:
	// ingest drops an id it saw lately as a duplicate).
	IDPrefix string
}

// DefaultConfig is the workload of the demo.
func DefaultConfig() Config {
	return Config{Seed: 1, Cards: 500, BaseFraud: -4.2, AmountMu: 3.4, AmountSigma: 0.8, DriftAmountShift: 1.0,
		LabelDelay: 2 * time.Minute, Unlabelled: 0.1, IDPrefix: "txn"}
}

// Validate says what is wrong with the config.
func (c Config) Validate() error {
	var errs []error
	if c.Cards < 1 {
		errs = append(errs, fmt.Errorf("cards %d: want at least 1", c.Cards))
	}
	if !(c.AmountSigma > 0) || math.IsInf(c.AmountSigma, 0) {
		errs = append(errs, fmt.Errorf("amount sigma %g: want a positive number", c.AmountSigma))
	}
	if c.LabelDelay < 0 {
		errs = append(errs, fmt.Errorf("label delay %v: want 0 or more", c.LabelDelay))
	}
	if !(c.Unlabelled >= 0 && c.Unlabelled <= 1) {
		errs = append(errs, fmt.Errorf("unlabelled share %g: want 0 to 1", c.Unlabelled))
	}
	if c.IDPrefix == "" {
		errs = append(errs, errors.New("id prefix: want one"))
	}
	return errors.Join(errs...)
}

// card is a card's habits: where it is used, on what, how much it spends.
type card struct {
	id      string
	country string
	device  string
	spend   float64 // offset of the log amount
}

// Transaction is one card payment.
type Transaction struct {
	ID       string    `json:"-"`
	Seq      uint64    `json:"-"`
	Card     string    `json:"card_id"`
	Amount   float64   `json:"amount"`
	Category string    `json:"merchant_category"`
	Country  string    `json:"country"`
	Device   string    `json:"device"`
	At       time.Time `json:"at"`
	// Fraud is the truth the label reports; Drifted says whether drift
	// was on when it was made. Neither is sent with the transaction.
	Fraud   bool `json:"-"`
	Drifted bool `json:"-"`
	// LabelAfter is when after At the label arrives; Unlabelled says it
	// never does.
	LabelAfter time.Duration `json:"-"`
	Unlabelled bool          `json:"-"`
}

// Workload makes transactions. It is not safe for concurrent use.
type Workload struct {
	cfg   Config
	rng   *rand.Rand
	cards []card
	seq   uint64
}

// New makes the cards of the workload from the seed.
func New(cfg Config) (*Workload, error) {
	if err := cfg.Validate(); err != nil {
		return nil, fmt.Errorf("card workload: %w", err)
	}
	rng := rand.New(rand.NewPCG(cfg.Seed, 0x7472696275746172))
	w := &Workload{cfg: cfg, rng: rng, cards: make([]card, cfg.Cards)}
	for i := range w.cards {
		c := card{id: fmt.Sprintf("card-%05d", i), spend: rng.NormFloat64() * 0.5}
		// Most cards are used at home; a few countries dominate.
		c.country = Countries[pick(rng, []float64{0.35, 0.15, 0.12, 0.1, 0.08, 0.07, 0.05, 0.05, 0.03})]
		c.device = Devices[pick(rng, []float64{0.35, 0.25, 0.2, 0.2})]
		w.cards[i] = c
	}
	return w, nil
}

// Cards are the entity keys of the workload.
func (w *Workload) Cards() []string {
	ids := make([]string, len(w.cards))
	for i, c := range w.cards {
		ids[i] = c.id
	}
	return ids
}

// Next makes the next transaction at the instant given; drift says whether
// the drifted distribution applies. The draws do not depend on at, so a
// seed gives the same sequence whatever the clock.
func (w *Workload) Next(at time.Time, drift bool) Transaction {
	r := w.rng
	w.seq++
	c := w.cards[zipf(r, len(w.cards))]
	t := Transaction{Seq: w.seq, ID: fmt.Sprintf("%s-%d-%d", w.cfg.IDPrefix, w.cfg.Seed, w.seq), Card: c.id, At: at.UTC(), Drifted: drift}

	catName := Categories[pick(r, shares(Categories))]
	if drift && r.Float64() < categories[DriftCategory].share {
		catName = DriftCategory
	}
	cat := categories[catName]
	t.Category = catName

	foreign := r.Float64() < 0.08
	t.Country = c.country
	if foreign {
		t.Country = Countries[r.IntN(len(Countries))]
		foreign = t.Country != c.country
	}
	newDevice := r.Float64() < 0.1
	t.Device = c.device
	if newDevice {
		t.Device = Devices[r.IntN(len(Devices))]
		newDevice = t.Device != c.device
	}

	mu := w.cfg.AmountMu + c.spend + cat.amount
	if drift {
		mu += w.cfg.DriftAmountShift
	}
	z := r.NormFloat64()
	t.Amount = math.Round(math.Exp(mu+z*w.cfg.AmountSigma)*100) / 100
	if t.Amount < 0.01 {
		t.Amount = 0.01
	}

	// Fraud: log odds from the category, a foreign country, a new device
	// and an amount high for the card.
	logit := w.cfg.BaseFraud + cat.fraud + 1.8*b2f(foreign) + 1.2*b2f(newDevice) + 1.1*z
	t.Fraud = r.Float64() < 1/(1+math.Exp(-logit))

	t.Unlabelled = r.Float64() < w.cfg.Unlabelled
	t.LabelAfter = time.Duration((0.5 + r.Float64()) * float64(w.cfg.LabelDelay))
	return t
}

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

func shares(names []string) []float64 {
	s := make([]float64, len(names))
	for i, n := range names {
		s[i] = categories[n].share
	}
	return s
}

// pick draws an index with the weights given.
func pick(r *rand.Rand, weights []float64) int {
	total := 0.0
	for _, w := range weights {
		total += w
	}
	x := r.Float64() * total
	for i, w := range weights {
		if x < w {
			return i
		}
		x -= w
	}
	return len(weights) - 1
}

// zipf draws a card index, a few cards far busier than most (s = 0.7 over
// the ranks).
func zipf(r *rand.Rand, n int) int {
	// Inverse transform on the continuous approximation: cheap and
	// deterministic.
	const s = 0.7
	u := r.Float64()
	hn := (math.Pow(float64(n)+1, 1-s) - 1) / (1 - s)
	x := math.Pow(u*hn*(1-s)+1, 1/(1-s)) - 1
	i := int(x)
	if i < 0 {
		i = 0
	}
	if i >= n {
		i = n - 1
	}
	return i
}

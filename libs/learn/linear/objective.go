package linear

import (
	"context"
	"math"
	"slices"
)

// logisticObjective is the mean penalized log loss over standardized rows
// and its gradient. Parameters are laid out output after output, each as
// cols coefficients and then the intercept.
type logisticObjective struct {
	z       []float64 // standardized rows, row-major
	y       []float64
	rows    int
	cols    int
	outputs int     // 1 (binary, sigmoid) or K (multinomial, softmax)
	l2      float64 // 1/(C·rows): the penalty weight of the mean objective
	workers int
	ctx     context.Context

	// The last evaluation: gonum asks for the value and the gradient at
	// the same point separately; both come from one pass.
	atX   []float64
	value float64
	grad  []float64
}

// start is the initial point: zero coefficients and the intercepts of the
// class frequencies.
func (o *logisticObjective) start() []float64 {
	x := make([]float64, o.outputs*(o.cols+1))
	counts := make([]float64, max(2, o.outputs))
	for _, y := range o.y {
		counts[int(y)]++
	}
	n := float64(o.rows)
	if o.outputs == 1 {
		x[o.cols] = math.Log(counts[1] / counts[0])
		return x
	}
	var mean float64
	for k := range o.outputs {
		mean += math.Log(max(counts[k], 0.5)/n) / float64(o.outputs)
	}
	for k := range o.outputs {
		x[k*(o.cols+1)+o.cols] = math.Log(max(counts[k], 0.5)/n) - mean
	}
	return x
}

func (o *logisticObjective) f(x []float64) float64 {
	o.evaluate(x)
	return o.value
}

func (o *logisticObjective) g(grad, x []float64) {
	o.evaluate(x)
	copy(grad, o.grad)
}

func (o *logisticObjective) evaluate(x []float64) {
	if o.atX != nil && slices.Equal(o.atX, x) {
		return
	}
	if o.ctx.Err() != nil {
		// Minimize checks the context after this evaluation and stops.
		o.value = math.NaN()
		return
	}
	width := len(x) + 1 // the gradient and then the summed loss
	total := make([]float64, width)
	if o.outputs == 1 {
		blockSums(o.rows, width, o.workers, total, func(lo, hi int, acc []float64) { o.binaryBlock(x, lo, hi, acc) })
	} else {
		blockSums(o.rows, width, o.workers, total, func(lo, hi int, acc []float64) { o.multinomialBlock(x, lo, hi, acc) })
	}
	n := float64(o.rows)
	grad := total[:len(x)]
	value := total[len(x)] / n
	for k := range o.outputs {
		base := k * (o.cols + 1)
		for j := range o.cols {
			w := x[base+j]
			value += 0.5 * o.l2 * w * w
			grad[base+j] = grad[base+j]/n + o.l2*w
		}
		grad[base+o.cols] /= n
	}
	o.atX = append(o.atX[:0], x...)
	o.value = value
	o.grad = grad
}

// binaryBlock adds the summed log loss and its gradient over rows [lo, hi).
func (o *logisticObjective) binaryBlock(x []float64, lo, hi int, acc []float64) {
	d := o.cols
	w, b := x[:d], x[d]
	g := acc[:d]
	var gb, loss float64
	for i := lo; i < hi; i++ {
		z := o.z[i*d : (i+1)*d]
		eta := b
		for j, v := range z {
			eta += w[j] * v
		}
		y := o.y[i]
		// log(1+e^η) - yη and σ(η) from one exponential. log(1+e) is
		// faster than log1p(e) and off by at most e·2⁻⁵³ for tiny e,
		// which the mean over the rows does not see.
		e := math.Exp(-math.Abs(eta))
		opl := 1 + e
		var p float64
		if eta >= 0 {
			p = 1 / opl
			loss += eta - y*eta + math.Log(opl)
		} else {
			p = e / opl
			loss += -y*eta + math.Log(opl)
		}
		r := p - y
		gb += r
		for j, v := range z {
			g[j] += r * v
		}
	}
	acc[d] += gb
	acc[d+1] += loss
}

// multinomialBlock adds the summed cross-entropy and its gradient over rows
// [lo, hi).
func (o *logisticObjective) multinomialBlock(x []float64, lo, hi int, acc []float64) {
	d, k := o.cols, o.outputs
	eta := make([]float64, k)
	var loss float64
	for i := lo; i < hi; i++ {
		z := o.z[i*d : (i+1)*d]
		top := math.Inf(-1)
		for c := range k {
			base := c * (d + 1)
			w := x[base : base+d]
			s := x[base+d]
			for j, v := range z {
				s += w[j] * v
			}
			eta[c] = s
			top = max(top, s)
		}
		var sum float64
		for c := range k {
			sum += math.Exp(eta[c] - top)
		}
		lse := top + math.Log(sum)
		y := int(o.y[i])
		loss += lse - eta[y]
		for c := range k {
			r := math.Exp(eta[c] - lse)
			if c == y {
				r--
			}
			base := c * (d + 1)
			g := acc[base : base+d]
			for j, v := range z {
				g[j] += r * v
			}
			acc[base+d] += r
		}
	}
	acc[len(x)] += loss
}

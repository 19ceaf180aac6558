package gbdt_test

import (
	"context"
	"fmt"
	"math"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/gbdt"
)

func Example() {
	// y = 1 when x0 > 0.5, or when x0 is missing.
	ds := &learn.Dataset{Cols: 1, Features: []string{"x0"}}
	for i := range 1000 {
		x, y := float64(i%100)/100, 0.0
		if x > 0.5 {
			y = 1
		}
		if i%10 == 0 {
			x, y = math.NaN(), 1
		}
		ds.X, ds.Y = append(ds.X, x), append(ds.Y, y)
		ds.Rows++
	}
	p := gbdt.DefaultParams(learn.TaskBinary)
	p.MaxIter = 20
	m, err := gbdt.Train(context.Background(), ds, p)
	if err != nil {
		fmt.Println(err)
		return
	}
	out := make([]float64, m.Outputs())
	for _, x := range []float64{0.2, 0.9, math.NaN()} {
		m.Predict([]float64{x}, out)
		fmt.Printf("P(y=1 | x0=%v) > 0.5: %v\n", x, out[0] > 0.5)
	}
	// Output:
	// P(y=1 | x0=0.2) > 0.5: false
	// P(y=1 | x0=0.9) > 0.5: true
	// P(y=1 | x0=NaN) > 0.5: true
}

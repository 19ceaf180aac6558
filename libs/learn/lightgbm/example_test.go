package lightgbm_test

import (
	"fmt"
	"log"
	"math"
	"os"

	"github.com/tributary-ml/tributary/libs/learn/lightgbm"
)

func Example() {
	f, err := os.Open("testdata/binary.txt")
	if err != nil {
		log.Fatal(err)
	}
	defer f.Close()
	m, err := lightgbm.Parse(f)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Version(), m.Task(), m.Outputs(), m.Trees(), m.Features())

	// One row in Features order; NaN is a missing value.
	row := []float64{0.3, -1.2, math.NaN(), 0.8, 0.1, 0, 3, 17}
	out := make([]float64, m.Outputs())
	m.Predict(row, out)
	fmt.Printf("P(y=1) = %.6f\n", out[0]) // as lightgbm 4.7.0 predicts
	// Output:
	// v4 binary 1 60 [f0 f1 f2 f3 no_nan_in_train zeros cat10 cat40]
	// P(y=1) = 0.803688
}

package xgboost_test

import (
	"fmt"
	"log"
	"math"
	"os"

	"github.com/tributary-ml/tributary/libs/learn/xgboost"
)

func Example() {
	b, err := os.ReadFile("testdata/binary.json")
	if err != nil {
		log.Fatal(err)
	}
	m, err := xgboost.ParseBytes(b)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Version(), m.Objective(), m.Task(), m.Outputs(), m.Trees(), m.Features(), m.FeatureTypes())

	// One row in Features order; NaN is a missing value, a categorical
	// feature holds the category's code.
	row := []float64{0.3, -1.2, math.NaN(), 0.8, 0.1, 0, 3, 17}
	out := make([]float64, m.Outputs())
	m.Predict(row, out)
	fmt.Printf("P(y=1) = %.6f\n", out[0]) // as xgboost 3.4.1 predicts
	// Output:
	// 3.4.1 binary:logistic binary 1 60 [f0 f1 f2 f3 no_nan_in_train zeros cat10 cat40] [q q q q q q c c]
	// P(y=1) = 0.889526
}

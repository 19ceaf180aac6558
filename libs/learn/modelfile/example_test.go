package modelfile_test

import (
	"bytes"
	"context"
	"fmt"

	"github.com/tributary-ml/tributary/libs/learn"
	"github.com/tributary-ml/tributary/libs/learn/linear"
	"github.com/tributary-ml/tributary/libs/learn/modelfile"
)

// The trainer saves a model; serving loads it and predicts raw rows.
func Example() {
	d := &learn.Dataset{
		X:        []float64{1, 20, 2, 25, 3, 21, 4, 30, 5, 28, 6, 35},
		Y:        []float64{0, 0, 1, 0, 1, 1},
		Rows:     6,
		Cols:     2,
		Features: []string{"visits", "age"},
	}
	m, err := linear.TrainLogistic(context.Background(), d, learn.TaskBinary, linear.LogisticConfig{})
	if err != nil {
		fmt.Println(err)
		return
	}
	var file bytes.Buffer
	if err := modelfile.Save(&file, m); err != nil {
		fmt.Println(err)
		return
	}

	p, h, err := modelfile.Load(&file)
	if err != nil {
		fmt.Println(err)
		return
	}
	out := make([]float64, p.Outputs())
	p.Predict([]float64{6, 30}, out)
	fmt.Printf("%s %s model of %v: P(y=1) = %.3f\n", h.Kind, h.Task, h.Features, out[0])
	// Output: logistic binary model of [visits age]: P(y=1) = 0.781
}

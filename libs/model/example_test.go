package model_test

import (
	"fmt"

	"github.com/tributary-ml/tributary/libs/model"
)

// The trainer records a reference distribution per feature; the monitor bins
// a window of served values on the same edges and compares proportions.
func ExampleNumericWindow() {
	ref := model.NewNumeric([]float64{1, 2, 3, 4, 5, 6, 7, 8}, 4)
	window := model.NumericWindow(ref.Edges, []float64{7, 8, 9, 10})
	fmt.Println("edges", ref.Edges)
	fmt.Println("reference", ref.Proportions())
	fmt.Println("window   ", window.Proportions())
	// Output:
	// edges [1 2 4 6 8]
	// reference [0.125 0.25 0.25 0.375]
	// window    [0 0 0 1]
}

// KV keys of the registry's bucket.
func ExampleAliasKey() {
	fmt.Println(model.VersionKey("fraud", 3))
	fmt.Println(model.AliasKey("fraud", model.AliasProduction))
	fmt.Println(model.FeatureViewKey("txn"))
	// Output:
	// model.fraud.v.3
	// model.fraud.alias.production
	// view.txn
}

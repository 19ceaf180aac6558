package gbdt

import (
	"context"
	"encoding/json"
	"math"
	"testing"

	"github.com/tributary-ml/tributary/libs/learn"
)

// FuzzDecode: whatever the model object, Decode either refuses it or
// returns a model that predicts finite values without panicking, on rows
// with missing and extreme values.
func FuzzDecode(f *testing.F) {
	for _, task := range []learn.Task{learn.TaskBinary, learn.TaskMulticlass, learn.TaskRegression} {
		ds := synth(task, 300, 5, 1, 0.2)
		p := DefaultParams(task)
		p.MaxIter, p.MaxLeaves, p.MinSamplesLeaf = 2, 4, 5
		m, err := Train(context.Background(), ds, p)
		if err != nil {
			f.Fatal(err)
		}
		b, err := json.Marshal(m)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, uint8(0))
	}
	f.Add([]byte(`{"num_features":5,"iterations":1,"baseline":[0],"trees":[{"feature":[0,-1,-1],"threshold":[1e308,0,0],"left":[1,-1,-1],"right":[2,-1,-1],"default_left":[true,false,false],"value":[0,1,2]}]}`), uint8(2))
	huge := `{"feature":[-1],"threshold":[0],"left":[-1],"right":[-1],"default_left":[false],"value":[1.7e308]}`
	f.Add([]byte(`{"num_features":5,"iterations":2,"baseline":[1.7e308,0,0],"trees":[`+huge+`,`+huge+`,`+huge+`,`+huge+`,`+huge+`,`+huge+`]}`), uint8(1))
	infos := []learn.ModelInfo{
		{Kind: Kind, Task: learn.TaskBinary, Features: []string{"a", "b", "c", "d", "e"}, Classes: 2},
		{Kind: Kind, Task: learn.TaskMulticlass, Features: []string{"a", "b", "c", "d", "e"}, Classes: 3},
		{Kind: Kind, Task: learn.TaskRegression, Features: []string{"a", "b", "c", "d", "e"}},
	}
	rows := [][]float64{
		{0, 0, 0, 0, 0},
		{math.NaN(), math.NaN(), math.NaN(), math.NaN(), math.NaN()},
		{math.Inf(1), math.Inf(-1), math.MaxFloat64, -math.MaxFloat64, 1e-300},
	}
	f.Fuzz(func(t *testing.T, data []byte, which uint8) {
		info := infos[int(which)%len(infos)]
		m, err := Decode(info, data)
		if err != nil {
			return
		}
		out := make([]float64, m.Outputs())
		for _, r := range rows {
			m.Predict(r, out)
			for _, v := range out {
				if math.IsNaN(v) {
					t.Fatalf("prediction NaN for row %v", r)
				}
			}
		}
	})
}

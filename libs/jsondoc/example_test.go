package jsondoc_test

import (
	"errors"
	"fmt"

	"github.com/tributary-ml/tributary/libs/jsondoc"
)

func ExampleParse() {
	for _, doc := range []string{`{"price":1.5,"tags":["a"]}`, `{"price":1e400}`, `{"user":"a","user":"b"}`, `{"price":`} {
		v, err := jsondoc.Parse([]byte(doc))
		var refused *jsondoc.Error
		switch {
		case errors.As(err, &refused):
			fmt.Printf("refused at %s: %v (number: %t)\n", refused.Pointer, err, errors.Is(err, jsondoc.ErrNumberRange))
		case err != nil:
			fmt.Println("malformed:", err)
		default:
			fmt.Println("ok:", v)
		}
	}
	// Output:
	// ok: map[price:1.5 tags:[a]]
	// refused at /price: /price: number 1e400 is beyond float64's range (about ±1.8e308) (number: true)
	// refused at /user: /user: key "user" appears more than once in its object (number: false)
	// malformed: unexpected end of JSON input
}

package featurespec_test

import (
	"fmt"

	"github.com/tributary-ml/tributary/libs/featurespec"
)

func ExampleParse() {
	views, err := featurespec.Parse([]byte(`
entities: [{name: user}]
sources:
  - {name: clicks, stream: clicks, entity_key: /user_id, event_time: /clicked_at, fields: {price: number}}
views:
  - name: user_clicks
    entity: user
    source: clicks
    features:
      - {name: spend, agg: sum, field: price, windows: [1h, 7d]}
`))
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, f := range views[0].Features {
		fmt.Println(views[0].Ref(f), f.Type)
	}
	_, err = featurespec.Parse([]byte(`
entities: [{name: user}]
sources: [{name: clicks, stream: clicks, entity_key: /user_id, fields: {page: string}}]
views: [{name: v, entity: user, source: clicks, features: [{name: s, agg: sum, field: page, windows: [1h]}]}]
`))
	fmt.Println(err)
	// Output:
	// user_clicks:spend_1h float
	// user_clicks:spend_7d float
	// invalid feature definition: views[0].features[0].field: aggregation sum needs a number or integer field, "page" is string
}

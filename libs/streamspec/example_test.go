package streamspec_test

import (
	"errors"
	"fmt"

	"github.com/tributary-ml/tributary/libs/streamspec"
)

func ExampleParse() {
	s, err := streamspec.Parse([]byte(`{
	  "name": "clicks",
	  "type": "com.example.shop.click.v1",
	  "entity_key": "/user_id",
	  "event_time": "/clicked_at",
	  "schema": {"type": "object", "required": ["user_id", "clicked_at"],
	    "properties": {"clicked_at": {"type": "string", "format": "date-time"}}}
	}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(s.Topic)

	f, err := s.Check([]byte(`{"user_id": "u-42", "clicked_at": "2026-11-26T10:00:00Z"}`))
	fmt.Println(f.EntityKey, f.EventTime, err)

	_, err = s.Check([]byte(`{"user_id": "u-42", "clicked_at": "yesterday"}`))
	var se *streamspec.Error
	if errors.As(err, &se) {
		fmt.Println(se.Violations[0])
	}
	// Output:
	// tributary.events.clicks
	// u-42 2026-11-26 10:00:00 +0000 UTC <nil>
	// /clicked_at: format: 'yesterday' is not valid date-time: less than 20 characters long
}

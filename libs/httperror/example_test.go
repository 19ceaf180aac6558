package httperror_test

import (
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"

	"github.com/tributary-ml/tributary/libs/httperror"
)

func Example() {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/events", func(w http.ResponseWriter, _ *http.Request) {
		httperror.Write(w, http.StatusBadRequest, "schema_violation", "data breaks the stream's schema",
			httperror.Detail{Field: "data.amount", Message: "must be >= 0"})
	})
	srv := httptest.NewServer(httperror.Unmatched(mux))
	defer srv.Close()

	for _, c := range []struct{ method, path string }{{"POST", "/v1/events"}, {"GET", "/v1/events"}, {"GET", "/v2"}} {
		req, _ := http.NewRequest(c.method, srv.URL+c.path, nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			fmt.Println(err)
			return
		}
		err = httperror.Check(resp)
		resp.Body.Close()
		fmt.Println(err)
		if errors.Is(err, &httperror.Error{Body: httperror.Body{Reason: "schema_violation"}}) {
			fmt.Println("  details:", httperror.ReasonOf(err), err.(*httperror.Error).Details)
		}
	}
	// Output:
	// 400 Bad Request (schema_violation): data breaks the stream's schema
	//   details: schema_violation [{data.amount  must be >= 0}]
	// 405 Method Not Allowed (method_not_allowed): method GET not allowed on /v1/events (allowed: POST)
	// 404 Not Found (not_found): no route for GET /v2
}

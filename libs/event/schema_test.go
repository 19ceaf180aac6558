package event_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"reflect"
	"slices"
	"strings"
	"testing"

	"github.com/santhosh-tekuri/jsonschema/v6"

	"github.com/tributary-ml/tributary/libs/event"
	"github.com/tributary-ml/tributary/libs/jsondoc"
	"github.com/tributary-ml/tributary/schemas"
)

const draft202012 = "https://json-schema.org/draft/2020-12/schema"

func readFile(t *testing.T, name string) []byte {
	t.Helper()
	b, err := fs.ReadFile(schemas.Events(), name)
	if err != nil {
		t.Fatalf("read %s: %v", name, err)
	}
	return b
}

// TestSchemaFilesMatchTypes: every type has exactly one schema and two
// examples, and every file belongs to a type.
func TestSchemaFilesMatchTypes(t *testing.T) {
	var want []string
	for _, typ := range event.Types() {
		want = append(want, typ+".json", "examples/"+typ+".valid.json", "examples/"+typ+".invalid.json")
	}
	slices.Sort(want)
	var got []string
	err := fs.WalkDir(schemas.Events(), ".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() {
			got = append(got, path)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("files in schemas/events:\n got %q\nwant %q", got, want)
	}
	if n := len(event.Types()); n != 17 {
		t.Errorf("Types() has %d types, want the 17 platform event types", n)
	}
}

// TestSchemasCompile compiles every schema on its own as draft 2020-12.
func TestSchemasCompile(t *testing.T) {
	for _, typ := range event.Types() {
		t.Run(typ, func(t *testing.T) {
			b := readFile(t, typ+".json")
			doc, err := jsonschema.UnmarshalJSON(bytes.NewReader(b))
			if err != nil {
				t.Fatalf("parse: %v", err)
			}
			m, ok := doc.(map[string]any)
			if !ok {
				t.Fatalf("schema is %T, want an object", doc)
			}
			if m["$schema"] != draft202012 {
				t.Errorf("$schema = %v, want %s", m["$schema"], draft202012)
			}
			if id, _ := m["$id"].(string); !strings.HasSuffix(id, "/"+typ+".json") {
				t.Errorf("$id = %q, want it to end in /%s.json", id, typ)
			}
			if m["title"] != typ {
				t.Errorf("title = %v, want %s", m["title"], typ)
			}
			if m["additionalProperties"] != false {
				t.Errorf("additionalProperties = %v, want false", m["additionalProperties"])
			}
			c := jsonschema.NewCompiler()
			c.DefaultDraft(jsonschema.Draft2020)
			if err := c.AddResource(typ+".json", doc); err != nil {
				t.Fatal(err)
			}
			sch, err := c.Compile(typ + ".json")
			if err != nil {
				t.Fatalf("compile: %v", err)
			}
			if sch.DraftVersion != 2020 {
				t.Errorf("draft = %d, want 2020", sch.DraftVersion)
			}
		})
	}
}

// TestSchemasMatchPayloads: the properties of each schema are the JSON fields
// of its payload struct, and the required ones are exactly the fields
// without omitempty or omitzero.
func TestSchemasMatchPayloads(t *testing.T) {
	for _, typ := range event.Types() {
		t.Run(typ, func(t *testing.T) {
			var sch struct {
				Required   []string                   `json:"required"`
				Properties map[string]json.RawMessage `json:"properties"`
			}
			if err := json.Unmarshal(readFile(t, typ+".json"), &sch); err != nil {
				t.Fatal(err)
			}
			p, err := event.NewPayload(typ)
			if err != nil {
				t.Fatal(err)
			}
			var fields, required []string
			rt := reflect.TypeOf(p).Elem()
			for i := range rt.NumField() {
				name, opts, _ := strings.Cut(rt.Field(i).Tag.Get("json"), ",")
				fields = append(fields, name)
				if !strings.Contains(opts, "omitempty") && !strings.Contains(opts, "omitzero") {
					required = append(required, name)
				}
			}
			var props []string
			for k := range sch.Properties {
				props = append(props, k)
			}
			slices.Sort(fields)
			slices.Sort(props)
			slices.Sort(required)
			slices.Sort(sch.Required)
			if !slices.Equal(fields, props) {
				t.Errorf("struct %s fields %q, schema properties %q", rt.Name(), fields, props)
			}
			if !slices.Equal(required, sch.Required) {
				t.Errorf("struct %s fields without omitempty %q, schema required %q", rt.Name(), required, sch.Required)
			}
		})
	}
}

// TestValidExamples: each valid example passes its schema, unmarshals into
// its payload struct with no unknown field, and marshals back to the same
// JSON value.
func TestValidExamples(t *testing.T) {
	v, err := event.NewValidator()
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	for _, typ := range event.Types() {
		t.Run(typ, func(t *testing.T) {
			b := readFile(t, "examples/"+typ+".valid.json")
			if err := v.Validate(typ, b); err != nil {
				t.Fatalf("valid example fails: %v", err)
			}
			p, err := event.NewPayload(typ)
			if err != nil {
				t.Fatal(err)
			}
			dec := json.NewDecoder(bytes.NewReader(b))
			dec.DisallowUnknownFields()
			if err := dec.Decode(p); err != nil {
				t.Fatalf("decode into %T: %v", p, err)
			}
			out, err := json.Marshal(p)
			if err != nil {
				t.Fatal(err)
			}
			var want, got any
			if err := json.Unmarshal(b, &want); err != nil {
				t.Fatal(err)
			}
			if err := json.Unmarshal(out, &got); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(want, got) {
				t.Errorf("re-marshalled %T differs:\n got %s\nwant %s", p, out, bytes.TrimSpace(b))
			}
			// What Go marshals must pass the schema too.
			if err := v.Validate(typ, out); err != nil {
				t.Errorf("re-marshalled example fails: %v", err)
			}
		})
	}
}

// TestInvalidExamples: each invalid example fails, for the reason it was
// written for.
func TestInvalidExamples(t *testing.T) {
	want := map[string]event.Violation{
		event.TypeLabelRecorded:       {Field: "/value", Rule: "type"},
		event.TypePredictionLogged:    {Field: "/version", Rule: "minimum"},
		event.TypeModelRegistered:     {Field: "/artifact_sha256", Rule: "pattern"},
		event.TypeModelAliasMoved:     {Field: "/weight", Rule: "maximum"},
		event.TypeModelAliasDeleted:   {Field: "/from_version", Rule: "minimum"},
		event.TypeModelArchived:       {Field: "/model", Rule: "pattern"},
		event.TypeTrainRequested:      {Field: "/trigger", Rule: "enum"},
		event.TypeTrainStarted:        {Field: "/runner", Rule: "required"},
		event.TypeTrainCompleted:      {Field: "/metrics/auc", Rule: "type"},
		event.TypeTrainFailed:         {Field: "/error", Rule: "minLength"},
		event.TypeDatasetRequested:    {Field: "/features", Rule: "minItems"},
		event.TypeDatasetReady:        {Field: "/start", Rule: "format"},
		event.TypeDatasetFailed:       {Field: "/reason", Rule: "enum"},
		event.TypeDriftDetected:       {Field: "/feature", Rule: "required"},
		event.TypeDataQualityBreached: {Field: "/check", Rule: "enum"},
		event.TypePerformanceDegraded: {Field: "/baseline", Rule: "required"},
		event.TypeFairnessBreached:    {Field: "/metric", Rule: "enum"},
	}
	v, err := event.NewValidator()
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	for _, typ := range event.Types() {
		t.Run(typ, func(t *testing.T) {
			w, ok := want[typ]
			if !ok {
				t.Fatalf("no expected violation listed for %s", typ)
			}
			err := v.Validate(typ, readFile(t, "examples/"+typ+".invalid.json"))
			var ve *event.ValidationError
			if !errors.As(err, &ve) {
				t.Fatalf("Validate = %v, want a *ValidationError", err)
			}
			found := false
			for _, got := range ve.Violations {
				if got.Field == w.Field && got.Rule == w.Rule {
					found = true
				}
			}
			if !found {
				t.Errorf("violations %+v, want one at %s for rule %s", ve.Violations, w.Field, w.Rule)
			}
			if msg := err.Error(); !strings.Contains(msg, w.Field) || !strings.Contains(msg, w.Rule) || !strings.Contains(msg, typ) {
				t.Errorf("error %q does not name type, field and rule", msg)
			}
		})
	}
}

func TestValidatorErrors(t *testing.T) {
	v, err := event.NewValidator()
	if err != nil {
		t.Fatalf("NewValidator: %v", err)
	}
	valid := readFile(t, "examples/"+event.TypeModelArchived+".valid.json")
	tests := []struct {
		name    string
		typ     string
		data    string
		wantErr error
		want    []event.Violation // when a *ValidationError
	}{
		{name: "unknown type", typ: "tributary.model.exploded.v1", data: string(valid), wantErr: event.ErrUnknownType},
		{name: "malformed", typ: event.TypeModelArchived, data: `{"model":`, wantErr: event.ErrMalformedData},
		{name: "trailing data", typ: event.TypeModelArchived, data: string(valid) + `{}`, wantErr: event.ErrMalformedData},
		{name: "not an object", typ: event.TypeModelArchived, data: `[1]`, want: []event.Violation{{Field: "", Rule: "type"}}},
		// A number float64 cannot hold under "minimum" made the validator panic.
		{name: "huge exponent", typ: event.TypeDriftDetected, data: `{"model":"m","version":1,"target":"prediction","metric":"ks","value":1e1000000000}`, wantErr: jsondoc.ErrNumberRange},
		{name: "key twice", typ: event.TypeModelArchived, data: `{"model":"a","model":"b"}`, wantErr: jsondoc.ErrDuplicateKey},
		{
			name: "several violations",
			typ:  event.TypeModelArchived,
			data: `{"model":"fraud","version":"3","colour":"red"}`,
			want: []event.Violation{
				{Field: "/actor", Rule: "required"},
				{Field: "/colour", Rule: "additionalProperties"},
				{Field: "/version", Rule: "type"},
			},
		},
		{
			name: "prediction drift with a feature",
			typ:  event.TypeDriftDetected,
			data: `{"model":"m","version":1,"target":"prediction","feature":"a:b","metric":"ks","value":0.2,"threshold":0.1,` +
				`"window_start":"2026-11-26T08:00:00Z","window_end":"2026-11-26T09:00:00Z","sample_size":10}`,
			want: []event.Violation{{Field: "/feature", Rule: "false"}},
		},
		{name: "valid", typ: event.TypeModelArchived, data: string(valid)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := v.Validate(tt.typ, []byte(tt.data))
			switch {
			case tt.wantErr != nil:
				if !errors.Is(err, tt.wantErr) {
					t.Fatalf("Validate = %v, want %v", err, tt.wantErr)
				}
			case tt.want != nil:
				var ve *event.ValidationError
				if !errors.As(err, &ve) {
					t.Fatalf("Validate = %v, want a *ValidationError", err)
				}
				var got []event.Violation
				for _, vi := range ve.Violations {
					got = append(got, event.Violation{Field: vi.Field, Rule: vi.Rule})
					if vi.Message == "" {
						t.Errorf("violation %+v has no message", vi)
					}
				}
				slices.SortFunc(got, func(a, b event.Violation) int { return strings.Compare(a.Field, b.Field) })
				if !slices.Equal(got, tt.want) {
					t.Errorf("violations %+v, want %+v", got, tt.want)
				}
			default:
				if err != nil {
					t.Fatalf("Validate = %v, want nil", err)
				}
			}
		})
	}
}

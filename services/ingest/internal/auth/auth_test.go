package auth

import (
	"errors"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestAuthenticate(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "keys")
	if err := os.WriteFile(file, []byte("# producers\nshop:"+Hash("s3cret-2")+":*\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	keys, err := New(Config{Keys: "clicks:" + Hash("s3cret-1") + ":com.example.click.v1, com.example.view.v1", KeysFile: file})
	if err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name, header, value string
		want                string // key name, or error
	}{
		{"bearer", "Authorization", "Bearer s3cret-1", "clicks"},
		{"bearer lowercase scheme", "Authorization", "bearer s3cret-1", "clicks"},
		{"x-api-key", "X-API-Key", "s3cret-2", "shop"},
		{"none", "", "", ErrNoKey.Error()},
		{"basic scheme", "Authorization", "Basic czNjcmV0LTE=", ErrNoKey.Error()},
		{"wrong key", "Authorization", "Bearer s3cret-3", ErrBadKey.Error()},
		{"the hash itself", "X-API-Key", Hash("s3cret-1"), ErrBadKey.Error()},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := httptest.NewRequest("POST", "/v1/events", nil)
			if tc.header != "" {
				r.Header.Set(tc.header, tc.value)
			}
			k, err := keys.Authenticate(r)
			got := ""
			if err != nil {
				got = err.Error()
			} else {
				got = k.Name
			}
			if got != tc.want {
				t.Fatalf("got %q, want %q", got, tc.want)
			}
		})
	}
	r := httptest.NewRequest("POST", "/v1/events", nil)
	r.Header.Set("X-API-Key", "s3cret-1")
	k, _ := keys.Authenticate(r)
	if !k.Allows("com.example.view.v1") || k.Allows("com.example.other.v1") {
		t.Fatal("clicks key types wrong")
	}
	r.Header.Set("X-API-Key", "s3cret-2")
	if k, _ := keys.Authenticate(r); !k.Allows("anything") {
		t.Fatal("* key does not allow every type")
	}
}

func TestDisabledAndNoKeys(t *testing.T) {
	off, _ := New(Config{Disabled: true})
	if k, err := off.Authenticate(httptest.NewRequest("POST", "/", nil)); k != nil || err != nil {
		t.Fatalf("disabled: %v %v", k, err)
	}
	none, _ := New(Config{})
	r := httptest.NewRequest("POST", "/", nil)
	r.Header.Set("X-API-Key", "x")
	if _, err := none.Authenticate(r); !errors.Is(err, ErrBadKey) {
		t.Fatalf("no keys configured must refuse every key: %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	for _, tc := range []struct{ keys, want string }{
		{"a:b", "name:sha256"},
		{"a b:" + Hash("k") + ":*", "key name"},
		{"a:abcd:*", "64 hex"},
		{"a:" + Hash("k") + ":", "no event types"},
		{"a:" + Hash("k") + ":*;a:" + Hash("j") + ":*", "twice"},
	} {
		err := Config{Keys: tc.keys}.Validate()
		if err == nil || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%q: want an error with %q, got %v", tc.keys, tc.want, err)
		}
	}
	if err := (Config{KeysFile: "/nonexistent"}).Validate(); err == nil || !strings.Contains(err.Error(), "auth.keys-file") {
		t.Errorf("missing file: %v", err)
	}
}

package auth

import (
	"bufio"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"net/http"
	"os"
	"regexp"
	"strings"
)

// Config configures the keys.
type Config struct {
	Disabled bool
	Keys     string
	KeysFile string
}

// RegisterFlags registers the auth.* flags.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.BoolVar(&c.Disabled, "auth.disabled", false, "Accept events without an API key (local use only).")
	fs.StringVar(&c.Keys, "auth.keys", "", "API keys, ';'-separated, each name:sha256-hex-of-key:type[,type...] ('*': every type).")
	fs.StringVar(&c.KeysFile, "auth.keys-file", "", "File of API keys, one name:sha256-hex-of-key:type[,type...] a line ('#' starts a comment).")
}

// Validate checks the configuration, reading the keys file.
func (c Config) Validate() error {
	_, err := c.load()
	return err
}

// Key is one stored key.
type Key struct {
	Name  string
	hash  [sha256.Size]byte
	types map[string]bool // "*": every type
}

// Allows reports whether the key may send eventType.
func (k *Key) Allows(eventType string) bool { return k.types["*"] || k.types[eventType] }

// Keys is the set of keys; nil keys with Disabled accept every request.
type Keys struct {
	disabled bool
	keys     []*Key
}

// Errors of Authenticate.
var (
	ErrNoKey  = errors.New("no api key: send Authorization: Bearer <key> or X-API-Key")
	ErrBadKey = errors.New("api key not valid")
)

var nameRE = regexp.MustCompile(`^[A-Za-z0-9_.-]{1,64}$`)

// New loads the keys.
func New(c Config) (*Keys, error) {
	keys, err := c.load()
	if err != nil {
		return nil, err
	}
	return &Keys{disabled: c.Disabled, keys: keys}, nil
}

// Disabled reports whether every request is accepted without a key.
func (k *Keys) Disabled() bool { return k.disabled }

// Len returns the number of keys.
func (k *Keys) Len() int { return len(k.keys) }

func (c Config) load() ([]*Key, error) {
	var keys []*Key
	seen := map[string]bool{}
	add := func(where, line string) error {
		k, err := ParseKey(line)
		if err != nil {
			return fmt.Errorf("%s: %w", where, err)
		}
		if seen[k.Name] {
			return fmt.Errorf("%s: key name %q given twice", where, k.Name)
		}
		seen[k.Name] = true
		keys = append(keys, k)
		return nil
	}
	for _, e := range strings.Split(c.Keys, ";") {
		if e = strings.TrimSpace(e); e != "" {
			if err := add("auth.keys", e); err != nil {
				return nil, err
			}
		}
	}
	if c.KeysFile != "" {
		f, err := os.Open(c.KeysFile)
		if err != nil {
			return nil, fmt.Errorf("auth.keys-file: %w", err)
		}
		defer f.Close()
		sc := bufio.NewScanner(f)
		for n := 1; sc.Scan(); n++ {
			line := strings.TrimSpace(sc.Text())
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			if err := add(fmt.Sprintf("auth.keys-file %s:%d", c.KeysFile, n), line); err != nil {
				return nil, err
			}
		}
		if err := sc.Err(); err != nil {
			return nil, fmt.Errorf("auth.keys-file: %w", err)
		}
	}
	return keys, nil
}

// ParseKey parses name:sha256-hex:type[,type...].
func ParseKey(s string) (*Key, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 3 {
		return nil, errors.New("a key is name:sha256-hex-of-key:type[,type...]")
	}
	k := &Key{Name: parts[0], types: map[string]bool{}}
	if !nameRE.MatchString(k.Name) {
		return nil, fmt.Errorf("key name %q: 1 to 64 letters, digits, '_', '.' or '-'", k.Name)
	}
	h, err := hex.DecodeString(parts[1])
	if err != nil || len(h) != sha256.Size {
		return nil, fmt.Errorf("key %s: the hash is not 64 hex digits (sha256 of the key)", k.Name)
	}
	copy(k.hash[:], h)
	for _, t := range strings.Split(parts[2], ",") {
		if t = strings.TrimSpace(t); t != "" {
			k.types[t] = true
		}
	}
	if len(k.types) == 0 {
		return nil, fmt.Errorf("key %s: no event types (use * for every type)", k.Name)
	}
	return k, nil
}

// Hash returns the hex sha256 of a key, the form the configuration stores.
func Hash(key string) string {
	h := sha256.Sum256([]byte(key))
	return hex.EncodeToString(h[:])
}

// Authenticate returns the key of a request: nil with no error when auth is
// disabled; ErrNoKey or ErrBadKey otherwise.
func (k *Keys) Authenticate(r *http.Request) (*Key, error) {
	if k.disabled {
		return nil, nil
	}
	presented := r.Header.Get("X-API-Key")
	if a := r.Header.Get("Authorization"); presented == "" && a != "" {
		scheme, token, ok := strings.Cut(a, " ")
		if !ok || !strings.EqualFold(scheme, "Bearer") {
			return nil, ErrNoKey
		}
		presented = strings.TrimSpace(token)
	}
	if presented == "" {
		return nil, ErrNoKey
	}
	sum := sha256.Sum256([]byte(presented))
	var found *Key
	for _, key := range k.keys {
		if subtle.ConstantTimeCompare(sum[:], key.hash[:]) == 1 {
			found = key
		}
	}
	if found == nil {
		return nil, ErrBadKey
	}
	return found, nil
}

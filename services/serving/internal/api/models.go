package api

import (
	"net/http"
	"slices"
	"strings"
	"time"
)

// ModelsResponse is the answer of GET /v1/models.
type ModelsResponse struct {
	Models []ModelStatus `json:"models"`
}

// ModelStatus is one model as served.
type ModelStatus struct {
	Name     string          `json:"name"`
	Aliases  []AliasStatus   `json:"aliases"`
	Versions []VersionStatus `json:"versions"`
	Loading  []int           `json:"loading,omitempty"`
	Failures []FailureStatus `json:"failures,omitempty"`
}

// AliasStatus is an alias: the version it serves, since when, and the
// version the registry points it at (different while that one loads or
// after it failed).
type AliasStatus struct {
	Alias         string     `json:"alias"`
	Version       int        `json:"version,omitempty"`
	Weight        *float64   `json:"weight,omitempty"`
	Since         *time.Time `json:"since,omitempty"`
	WantedVersion int        `json:"wanted_version"`
}

// VersionStatus is a loaded version.
type VersionStatus struct {
	Version     int       `json:"version"`
	Format      string    `json:"format"`
	SHA256      string    `json:"sha256"`
	Task        string    `json:"task"`
	Features    []string  `json:"features"`
	Aliases     []string  `json:"aliases"`
	LoadedAt    time.Time `json:"loaded_at"`
	LoadSeconds float64   `json:"load_seconds"`
}

// FailureStatus is a version that failed to load.
type FailureStatus struct {
	Version int       `json:"version"`
	Reason  string    `json:"reason"`
	Error   string    `json:"error"`
	At      time.Time `json:"at"`
}

func (a *API) listModels(w http.ResponseWriter, r *http.Request) {
	snap := a.snapshot()
	resp := ModelsResponse{Models: []ModelStatus{}}
	for _, name := range snap.Names() {
		m := snap.Models[name]
		st := ModelStatus{Name: name, Aliases: []AliasStatus{}, Versions: []VersionStatus{}}
		seen := map[string]bool{}
		for _, alias := range m.Aliases() {
			rt := m.Routes[alias]
			since := rt.Since.UTC()
			st.Aliases = append(st.Aliases, AliasStatus{Alias: alias, Version: rt.Model.Version, Weight: rt.Weight, Since: &since, WantedVersion: m.Wanted[alias]})
			seen[alias] = true
		}
		for alias, n := range m.Wanted {
			if !seen[alias] {
				st.Aliases = append(st.Aliases, AliasStatus{Alias: alias, WantedVersion: n})
			}
		}
		for _, n := range m.Versions() {
			l := m.Loaded[n]
			vs := VersionStatus{Version: n, Format: l.Format, SHA256: l.SHA256, Task: string(l.Task), Features: l.Features, Aliases: []string{},
				LoadedAt: l.LoadedAt.UTC(), LoadSeconds: l.LoadDuration.Seconds()}
			for _, alias := range m.Aliases() {
				if m.Routes[alias].Model == l {
					vs.Aliases = append(vs.Aliases, alias)
				}
			}
			st.Versions = append(st.Versions, vs)
		}
		for n := range m.Loading {
			st.Loading = append(st.Loading, n)
		}
		for _, f := range m.Failures {
			st.Failures = append(st.Failures, FailureStatus{Version: f.Version, Reason: f.Reason, Error: f.Error, At: f.At.UTC()})
		}
		slices.Sort(st.Loading)
		slices.SortFunc(st.Failures, func(a, b FailureStatus) int { return a.Version - b.Version })
		slices.SortFunc(st.Aliases, func(a, b AliasStatus) int { return strings.Compare(a.Alias, b.Alias) })
		resp.Models = append(resp.Models, st)
	}
	writeJSON(w, resp)
}

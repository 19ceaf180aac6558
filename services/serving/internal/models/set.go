package models

import (
	"maps"
	"slices"
	"time"

	"github.com/tributary-ml/tributary/libs/model"
)

// Route is an alias as served: the version it routes to now. It moves to a
// new version only once that version has loaded.
type Route struct {
	Alias string
	// Weight is the canary's share of traffic (0..1); nil for the others.
	Weight *float64
	// Since is when this version started serving under the alias.
	Since time.Time
	Model *Loaded
}

// Failure is a version that failed to load.
type Failure struct {
	Version int
	Reason  string
	Error   string
	At      time.Time
}

// Model is one model as served.
type Model struct {
	Name string
	// Routes are the served aliases, by name.
	Routes map[string]*Route
	// Loaded are the loaded versions, by number.
	Loaded map[int]*Loaded
	// Known are the versions the registry has (status by number).
	Known map[int]model.Status
	// Wanted are the versions the registry's aliases point at, by alias
	// name, whether loaded or not.
	Wanted map[string]int
	// Loading are the versions being loaded; Failures those that failed.
	Loading  map[int]bool
	Failures map[int]Failure
}

// Snapshot is the immutable set of served models; a request reads one
// snapshot from start to end.
type Snapshot struct {
	Models map[string]*Model
}

// Model returns a model.
func (s *Snapshot) Model(name string) (*Model, bool) {
	m, ok := s.Models[name]
	return m, ok
}

// Names returns the model names, sorted.
func (s *Snapshot) Names() []string { return slices.Sorted(maps.Keys(s.Models)) }

// Versions returns the numbers of the loaded versions, sorted.
func (m *Model) Versions() []int { return slices.Sorted(maps.Keys(m.Loaded)) }

// Aliases returns the names of the served aliases, sorted.
func (m *Model) Aliases() []string { return slices.Sorted(maps.Keys(m.Routes)) }

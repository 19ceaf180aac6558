package schemas

import (
	"embed"
	"io/fs"
)

//go:embed events
var eventFiles embed.FS

// Events returns the event schemas, <type>.json, at the root of the returned
// file system, and their examples under examples/ (<type>.valid.json,
// <type>.invalid.json).
func Events() fs.FS {
	// fs.Sub fails only on an invalid path, and "events" is valid.
	sub, _ := fs.Sub(eventFiles, "events")
	return sub
}

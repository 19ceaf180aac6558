package streamspec

import (
	"fmt"
	"io/fs"
	"path"
	"sort"
)

// LoadDir parses every *.json file at the root of fsys (schemas/streams/ in
// the repository; README files and subdirectories are ignored), sorted by
// name. Two files defining the same name or type are an error.
func LoadDir(fsys fs.FS) ([]*Stream, error) {
	names, err := fs.Glob(fsys, "*.json")
	if err != nil {
		return nil, fmt.Errorf("list stream definitions: %w", err)
	}
	sort.Strings(names)
	var out []*Stream
	byName, byType := map[string]string{}, map[string]string{}
	for _, n := range names {
		b, err := fs.ReadFile(fsys, n)
		if err != nil {
			return nil, fmt.Errorf("read stream definition: %w", err)
		}
		s, err := Parse(b)
		if err != nil {
			return nil, fmt.Errorf("%s: %w", n, err)
		}
		if other, ok := byName[s.Name]; ok {
			return nil, fmt.Errorf("%s: %w: name %q is also defined in %s", n, ErrInvalidDefinition, s.Name, other)
		}
		if other, ok := byType[s.Type]; ok {
			return nil, fmt.Errorf("%s: %w: type %q is also the type of %s", n, ErrInvalidDefinition, s.Type, other)
		}
		byName[s.Name], byType[s.Type] = n, n
		s.Revision = "file:" + path.Base(n)
		out = append(out, s)
	}
	return out, nil
}

package tiles

// Blocks: besides the four epoch-aligned tile sizes (the base levels 10s,
// 1m, 1h, 1d), every event is also added to the dyadic blocks of its base
// tiles within their parent: 2 and 4 ten-second tiles within a minute; 2, 4,
// 8, 16 and 32 minutes within an hour; 2, 4, 8 and 16 hours within a day. A
// block of 2^j units starts at a multiple of 2^j units from its parent's
// start and lies wholly inside the parent. A read takes, from the window's
// start, the largest block starting there, again and again: the old edge of
// a 1h window (up to 59 minute tiles) then takes at most 6 blocks, that of
// a 1d window (up to 23 hours) at most 5.

// level is one tile size: Size ms, made of units of the base level Base,
// lying within the tiles of Parent ms (0: the top level, days).
type level struct {
	Size   int64
	Base   int
	Parent int64
}

// levels are the base levels 0..NumLevels-1, then the blocks.
var levels = func() []level {
	out := []level{{Level0, 0, Level1}, {Level1, 1, Level2}, {Level2, 2, Level3}, {Level3, 3, 0}}
	for b := range NumLevels - 1 {
		unit, parent := out[b].Size, out[b+1].Size
		for s := 2 * unit; s < parent; s *= 2 {
			out = append(out, level{Size: s, Base: b, Parent: parent})
		}
	}
	return out
}()

// NumTileLevels is the number of tile sizes, blocks included: TileKey.Level
// is below it.
var NumTileLevels = len(levels)

// LevelSize is the length in ms of the tiles of level l (base or block).
func LevelSize(l int) int64 { return levels[l].Size }

// End is the first millisecond after the tile.
func (k TileKey) End() int64 { return k.Start + levels[k.Level].Size }

// exists reports whether a tile of level l starts at p.
func exists(l int, p int64) bool {
	lv := levels[l]
	if lv.Parent == 0 {
		return floor(p, lv.Size) == p
	}
	off := p - floor(p, lv.Parent)
	return off%lv.Size == 0 && off+lv.Size <= lv.Parent
}

// containing returns the tile of level l holding instant t, if any (a block
// exists only for the units it covers: the 4 ten-second tiles block of a
// minute holds the first 40 seconds).
func containing(l int, t int64) (TileKey, bool) {
	lv := levels[l]
	if lv.Parent == 0 {
		return TileKey{Level: l, Start: floor(t, lv.Size)}, true
	}
	ps := floor(t, lv.Parent)
	off := floor(t-ps, lv.Size)
	if off+lv.Size > lv.Parent {
		return TileKey{}, false
	}
	return TileKey{Level: l, Start: ps + off}, true
}

// largest is the largest tile starting at p (p a multiple of Level0).
func largest(p int64) TileKey {
	best := 0
	for l := range levels {
		if levels[l].Size > levels[best].Size && exists(l, p) {
			best = l
		}
	}
	return TileKey{Level: best, Start: p}
}

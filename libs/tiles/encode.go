package tiles

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
)

// ErrCorrupt reports a stored state that does not decode.
var ErrCorrupt = errors.New("corrupt feature state")

// Field names in an entity's Redis hash.
const (
	FieldMeta     = "m"  // events applied, newest event time, latest values
	FieldSeen     = "d"  // IDs of the applied events that a copy could still match
	prefixOffset  = "o:" // o:<partition>: last applied offset
	prefixTile    = "t:" // t:<level>:<start ms>: one tile
	maxDistinctIn = 1 << 24
)

// OffsetField is the hash field of a partition's last applied offset.
func OffsetField(partition int32) string { return prefixOffset + strconv.Itoa(int(partition)) }

// TileField is the hash field of a tile.
func TileField(k TileKey) string {
	return prefixTile + strconv.Itoa(k.Level) + ":" + strconv.FormatInt(k.Start, 10)
}

// ParseTileField reads a tile field name; ok is false for other fields.
func ParseTileField(f string) (TileKey, bool) {
	rest, ok := strings.CutPrefix(f, prefixTile)
	if !ok {
		return TileKey{}, false
	}
	l, start, ok := strings.Cut(rest, ":")
	if !ok {
		return TileKey{}, false
	}
	lv, err1 := strconv.Atoi(l)
	st, err2 := strconv.ParseInt(start, 10, 64)
	if err1 != nil || err2 != nil || lv < 0 || lv >= len(levels) || !exists(lv, st) {
		return TileKey{}, false
	}
	return TileKey{Level: lv, Start: st}, true
}

type encoder struct{ b []byte }

func (e *encoder) varint(v int64)   { e.b = binary.AppendVarint(e.b, v) }
func (e *encoder) uvarint(v uint64) { e.b = binary.AppendUvarint(e.b, v) }
func (e *encoder) float(f float64)  { e.b = binary.LittleEndian.AppendUint64(e.b, math.Float64bits(f)) }

func (e *encoder) agg(k kind, a *Agg) {
	e.varint(a.N)
	if a.N == 0 {
		return
	}
	e.varint(a.Newest)
	switch k {
	case kindNumeric:
		e.float(a.Sum)
		e.float(a.Mean)
		e.float(a.M2)
		e.float(a.Min)
		e.float(a.Max)
	case kindLast:
		switch v := a.Last.(type) {
		case float64:
			e.b = append(e.b, 'n')
			e.float(v)
		case string:
			e.b = append(e.b, 's')
			e.uvarint(uint64(len(v)))
			e.b = append(e.b, v...)
		case bool:
			if v {
				e.b = append(e.b, 't')
			} else {
				e.b = append(e.b, 'f')
			}
		default:
			e.b = append(e.b, '0')
		}
		e.varint(a.LastT)
		e.varint(int64(a.LastS.Partition))
		e.varint(a.LastS.Offset)
	case kindDistinct:
		hs := a.Set
		e.uvarint(uint64(len(hs)))
		for _, h := range hs {
			e.b = binary.LittleEndian.AppendUint64(e.b, h)
		}
	}
}

type decoder struct {
	b   []byte
	err error
}

func (d *decoder) fail() {
	if d.err == nil {
		d.err = ErrCorrupt
	}
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.fail()
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.fail()
		d.b = nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) float() float64 {
	if len(d.b) < 8 {
		d.fail()
		d.b = nil
		return 0
	}
	v := math.Float64frombits(binary.LittleEndian.Uint64(d.b))
	d.b = d.b[8:]
	return v
}

func (d *decoder) byte() byte {
	if len(d.b) < 1 {
		d.fail()
		return 0
	}
	c := d.b[0]
	d.b = d.b[1:]
	return c
}

func (d *decoder) agg(k kind, a *Agg) {
	a.N = d.varint()
	if a.N == 0 || d.err != nil {
		return
	}
	a.Newest = d.varint()
	switch k {
	case kindNumeric:
		a.Sum, a.Mean, a.M2, a.Min, a.Max = d.float(), d.float(), d.float(), d.float(), d.float()
	case kindLast:
		switch d.byte() {
		case 'n':
			a.Last = d.float()
		case 's':
			n := d.uvarint()
			if n > uint64(len(d.b)) {
				d.fail()
				return
			}
			a.Last = string(d.b[:n])
			d.b = d.b[n:]
		case 't':
			a.Last = true
		case 'f':
			a.Last = false
		case '0':
		default:
			d.fail()
			return
		}
		a.LastT = d.varint()
		a.LastS.Partition = int32(d.varint())
		a.LastS.Offset = d.varint()
	case kindDistinct:
		n := d.uvarint()
		if n > maxDistinctIn || n*8 > uint64(len(d.b)) {
			d.fail()
			return
		}
		a.Set = slices.Grow(a.Set[:0], int(n))[:n] // a.Set's array reused, if any
		for i := range a.Set {
			a.Set[i] = binary.LittleEndian.Uint64(d.b)
			d.b = d.b[8:]
		}
	}
}

// EncodeTile encodes a tile's states.
func (p *Plan) EncodeTile(t []Agg) []byte {
	var e encoder
	for i, a := range p.aggs {
		e.agg(a.kind, &t[i])
	}
	return e.b
}

// DecodeTile decodes a tile's states.
func (p *Plan) DecodeTile(b []byte) ([]Agg, error) {
	d := decoder{b: b}
	t := make([]Agg, len(p.aggs))
	for i, a := range p.aggs {
		d.agg(a.kind, &t[i])
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return nil, fmt.Errorf("decode tile: %w", d.err)
	}
	return t, nil
}

// EncodeMeta encodes the events count, newest time and latest values.
func (p *Plan) EncodeMeta(s *State) []byte {
	var e encoder
	e.varint(s.Events)
	e.varint(s.Newest)
	for i, a := range p.latest {
		e.agg(a.kind, &s.Latest[i])
	}
	return e.b
}

// DecodeMeta decodes what EncodeMeta wrote into s.
func (p *Plan) DecodeMeta(b []byte, s *State) error {
	d := decoder{b: b}
	s.Events = d.varint()
	s.Newest = d.varint()
	for i, a := range p.latest {
		d.agg(a.kind, &s.Latest[i])
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return fmt.Errorf("decode meta: %w", d.err)
	}
	return nil
}

// EncodeSeen encodes the live entries of s.Seen (sorted by ID): count, then
// per entry the ID (8 bytes, little endian) and the horizon (varint).
func (p *Plan) EncodeSeen(s *State) []byte {
	ids := make([]uint64, 0, len(s.Seen))
	for id, h := range s.Seen {
		if s.live(p, h) {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	var e encoder
	e.uvarint(uint64(len(ids)))
	for _, id := range ids {
		e.b = binary.LittleEndian.AppendUint64(e.b, id)
		e.varint(s.Seen[id])
	}
	return e.b
}

// DecodeSeen decodes what EncodeSeen wrote into s.Seen.
func (p *Plan) DecodeSeen(b []byte, s *State) error {
	d := decoder{b: b}
	n := d.uvarint()
	if n > uint64(len(b)) {
		d.fail()
	}
	if d.err == nil {
		s.Seen = make(map[uint64]int64, n)
	}
	for i := uint64(0); i < n && d.err == nil; i++ {
		if len(d.b) < 8 {
			d.fail()
			break
		}
		id := binary.LittleEndian.Uint64(d.b)
		d.b = d.b[8:]
		s.Seen[id] = d.varint()
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return fmt.Errorf("decode seen events: %w", d.err)
	}
	return nil
}

// skip advances over one encoded state without materializing it.
func (d *decoder) skip(k kind) {
	n := d.varint()
	if n == 0 || d.err != nil {
		return
	}
	d.varint()
	advance := func(m uint64) {
		if m > uint64(len(d.b)) {
			d.fail()
			d.b = nil
			return
		}
		d.b = d.b[m:]
	}
	switch k {
	case kindNumeric:
		advance(40)
	case kindLast:
		switch d.byte() {
		case 'n':
			advance(8)
		case 's':
			advance(d.uvarint())
		case 't', 'f', '0':
		default:
			d.fail()
			return
		}
		d.varint()
		d.varint()
		d.varint()
	case kindDistinct:
		m := d.uvarint()
		if m > maxDistinctIn {
			d.fail()
			return
		}
		advance(m * 8)
	}
}

// checkTile parses an encoded tile without materializing it.
func (p *Plan) checkTile(b []byte) error {
	d := decoder{b: b}
	for _, a := range p.aggs {
		d.skip(a.kind)
	}
	if d.err == nil && len(d.b) != 0 {
		d.fail()
	}
	if d.err != nil {
		return fmt.Errorf("decode tile: %w", d.err)
	}
	return nil
}

// decodeInto decodes the states want selects into out (the others are left
// zero); b was checked by checkTile. The arrays of out's distinct sets are
// reused: the caller copies what it keeps.
func (p *Plan) decodeInto(b []byte, want []bool, out []Agg) {
	d := decoder{b: b}
	for i, a := range p.aggs {
		out[i] = Agg{Set: out[i].Set[:0]}
		if want[i] {
			d.agg(a.kind, &out[i])
		} else {
			d.skip(a.kind)
		}
	}
}

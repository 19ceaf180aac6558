package tiles

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"
	"time"
	"unsafe"

	"github.com/redis/go-redis/v9"
)

// KeyPrefix starts every key of the online store.
// The "l2:" is the layout: version 2 added the blocks (levels.go); a new
// layout starts from empty keys, which the features service backfills.
const KeyPrefix = "tributary:features:l2:"

// Key is the Redis hash of an entity in a view: tributary:features:l2:<view>:
// <first 12 hex digits of the view version>:<entity>. A new version of a view
// starts from empty keys (the service backfills them); the old ones expire.
func Key(prefix string, p *Plan, entity string) string {
	v := p.View.Version
	if len(v) > 12 {
		v = v[:12]
	}
	return prefix + KeyPrefix + p.View.Name + ":" + v + ":" + entity
}

// Store reads and writes feature states in Redis. Prefix, prepended to every
// key, separates tests and deployments sharing one Redis.
type Store struct {
	rdb      redis.UniversalClient
	prefix   string
	coalesce *coalescer // nil: each Read sends its own commands
	raw      bool       // rdb is a *redis.Client: HMGET replies kept raw (readAt.cmd)
}

// NewStore returns a Store over rdb.
func NewStore(rdb redis.UniversalClient, prefix string, opts ...StoreOption) *Store {
	_, raw := rdb.(*redis.Client)
	s := &Store{rdb: rdb, prefix: prefix, raw: raw}
	for _, o := range opts {
		o(s)
	}
	return s
}

// Key is the Redis key of an entity in a view.
func (s *Store) Key(p *Plan, entity string) string { return Key(s.prefix, p, entity) }

// ReadFields are the hash fields a read at asOf needs: the meta field, then
// the tiles of every window's cover.
func (p *Plan) ReadFields(asOf int64) []string {
	if p.aligned {
		f := p.cached(asOf).fields
		return f[:len(f):len(f)] // shared: an append copies
	}
	return p.readFields(asOf)
}

func (p *Plan) readFields(asOf int64) []string { return p.computeAt(asOf).fields }

// hmget queues the HMGET of c.fields of key: HMGet with the field names
// boxed once per readAt instead of once per call.
func (c *readAt) hmget(ctx context.Context, pipe redis.Pipeliner, key string, raw bool) redis.Cmder {
	cmd := c.cmd(ctx, key, raw)
	_ = pipe.Process(ctx, cmd)
	return cmd
}

// cmd is the HMGET of c.fields of key. When raw, its reply is copied as
// Redis sent it into a buffer reused from read to read (release gives it
// back) and split by splitHMGet: without a string and an interface per
// value, as go-redis's SliceCmd makes them. Raw replies are for a
// *redis.Client only: go-redis does not see the error replies in them, so
// a cluster client would not follow its MOVED and ASK redirections.
func (c *readAt) cmd(ctx context.Context, key string, raw bool) redis.Cmder {
	args := make([]any, 2+len(c.args))
	args[0], args[1] = "hmget", key
	copy(args[2:], c.args)
	if raw {
		buf := replyBuffers.Get().(*bytes.Buffer)
		buf.Reset()
		return &rawReply{RawWriteToCmd: redis.NewRawWriteToCmd(ctx, buf, args...), buf: buf}
	}
	return redis.NewSliceCmd(ctx, args...)
}

// rawReply is an HMGET whose reply go-redis copies, unparsed, into buf.
// go-redis does not retry it (a retry would append to buf); a batch the
// coalescer sends again does: its reply is the last Val() bytes of buf.
type rawReply struct {
	*redis.RawWriteToCmd
	buf *bytes.Buffer
}

// bytes is the reply.
func (r *rawReply) bytes() []byte {
	b := r.buf.Bytes()
	if n := r.Val(); n >= 0 && n <= int64(len(b)) {
		return b[len(b)-int(n):]
	}
	return b
}

// replyBuffers hold raw replies, reused (at most maxReplyBuffer bytes).
var replyBuffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

const maxReplyBuffer = 256 << 10

// release gives back what cmd (readAt.cmd's) holds: after the values read
// from its reply are no longer used (the decoders copy what they keep).
func release(cmd redis.Cmder) {
	if r, ok := cmd.(*rawReply); ok && r.buf.Cap() <= maxReplyBuffer {
		replyBuffers.Put(r.buf)
		r.buf = nil
	}
}

// hmgetValues puts the values of the reply to the HMGET of len(vals)
// fields that cmd sent (c.cmd's) into vals: nil for a field the hash does
// not have.
func hmgetValues(cmd redis.Cmder, vals [][]byte) error {
	switch c := cmd.(type) {
	case *rawReply:
		return splitHMGet(c.bytes(), vals)
	case *redis.SliceCmd:
		got := c.Val()
		if len(got) != len(vals) {
			return fmt.Errorf("HMGET: %d values for %d fields: %w", len(got), len(vals), ErrCorrupt)
		}
		for i, v := range got {
			str, ok := v.(string)
			switch {
			case !ok:
				vals[i] = nil
			case str == "":
				vals[i] = []byte{}
			default:
				vals[i] = unsafe.Slice(unsafe.StringData(str), len(str)) // read only
			}
		}
		return nil
	}
	return fmt.Errorf("HMGET: a %T", cmd)
}

// errReply is an error reply of Redis to an HMGET.
type errReply struct{ msg string }

func (e *errReply) Error() string { return "redis: " + e.msg }

// splitHMGet splits the reply to an HMGET of len(vals) fields, RESP2 or
// RESP3, into vals: each field's value (not copied), nil for a field the
// hash does not have.
func splitHMGet(b []byte, vals [][]byte) error {
	line, b, err := cutLine(b)
	if err != nil {
		return err
	}
	switch line[0] {
	case '-':
		return &errReply{msg: string(line[1:])}
	case '!':
		msg, _, err := cutBulk(line, b)
		if err != nil {
			return err
		}
		return &errReply{msg: string(msg)}
	case '*':
	default:
		return fmt.Errorf("HMGET reply %.32q: not an array: %w", line, ErrCorrupt)
	}
	if n, err := strconv.Atoi(string(line[1:])); err != nil || n != len(vals) {
		return fmt.Errorf("HMGET reply %.32q for %d fields: %w", line, len(vals), ErrCorrupt)
	}
	for i := range vals {
		if line, b, err = cutLine(b); err != nil {
			return err
		}
		switch {
		case line[0] == '_' || string(line) == "$-1":
			vals[i] = nil
		case line[0] == '$':
			if vals[i], b, err = cutBulk(line, b); err != nil {
				return err
			}
		default:
			return fmt.Errorf("HMGET reply, value %d %.32q: not a string: %w", i, line, ErrCorrupt)
		}
	}
	if len(b) != 0 {
		return fmt.Errorf("HMGET reply: %d bytes after the values: %w", len(b), ErrCorrupt)
	}
	return nil
}

// cutLine cuts the first line of b (without its CRLF), at least a type
// byte.
func cutLine(b []byte) (line, rest []byte, err error) {
	i := bytes.Index(b, crlf)
	if i < 1 {
		return nil, nil, fmt.Errorf("HMGET reply %.32q: no line: %w", b, ErrCorrupt)
	}
	return b[:i], b[i+2:], nil
}

var crlf = []byte("\r\n")

// cutBulk cuts from b the payload, and its CRLF, of the string whose
// header line is line ($ or ! and the length).
func cutBulk(line, b []byte) (payload, rest []byte, err error) {
	n, err := strconv.Atoi(string(line[1:]))
	if err != nil || n < 0 || len(b) < n+2 || b[n] != '\r' || b[n+1] != '\n' {
		return nil, nil, fmt.Errorf("HMGET reply %.32q: bad string: %w", line, ErrCorrupt)
	}
	return b[:n:n], b[n+2:], nil
}

// readHMGet computes the features at asOf from the reply to the HMGET of
// c.fields: the meta, then each tile of the covers once. It computes what
// read computes from the state load builds, without building it: every
// tile is checked, and each window decodes only the states its features
// use.
func (p *Plan) readHMGet(c *readAt, cmd redis.Cmder, asOf int64) ([]Value, error) {
	var stack [32][]byte // the usual read's fields, without an allocation
	var raw [][]byte
	if len(c.fields) <= len(stack) {
		raw = stack[:len(c.fields)]
	} else {
		raw = make([][]byte, len(c.fields))
	}
	if err := hmgetValues(cmd, raw); err != nil {
		return nil, err
	}
	if raw[0] == nil {
		return make([]Value, len(p.features)), nil // unknown or expired
	}
	s := &State{Latest: make([]Agg, len(p.latest))}
	if err := p.DecodeMeta(raw[0], s); err != nil {
		return nil, err
	}
	for i := 1; i < len(raw); i++ {
		if raw[i] == nil {
			continue
		}
		if err := p.checkTile(raw[i]); err != nil {
			return nil, fmt.Errorf("field %s: %w", c.fields[i], err)
		}
	}
	return p.merge(s, asOf, c.covers, func(w int64, j int, k TileKey) []byte { return raw[c.index[w][j]] }), nil
}

// load builds a state from HMGET results of fields; nil when the entity has
// no meta (unknown or expired).
func (p *Plan) load(fields []string, vals []any) (*State, error) {
	s := NewState(p)
	found := false
	for i, f := range fields {
		str, ok := vals[i].(string)
		if !ok {
			continue
		}
		switch {
		case f == FieldSeen:
			if err := p.DecodeSeen([]byte(str), s); err != nil {
				return nil, err
			}
		case f == FieldMeta:
			if err := p.DecodeMeta([]byte(str), s); err != nil {
				return nil, err
			}
			found = true
		case len(f) > 2 && f[:2] == prefixOffset:
			part, err1 := strconv.ParseInt(f[2:], 10, 32)
			off, err2 := strconv.ParseInt(str, 10, 64)
			if err1 != nil || err2 != nil {
				return nil, fmt.Errorf("offset field %s=%q: %w", f, str, ErrCorrupt)
			}
			s.Offsets[int32(part)] = off
		default:
			k, ok := ParseTileField(f)
			if !ok {
				continue
			}
			t, err := p.DecodeTile([]byte(str))
			if err != nil {
				return nil, fmt.Errorf("field %s: %w", f, err)
			}
			s.Tiles[k] = t
		}
	}
	if !found {
		return nil, nil
	}
	return s, nil
}

// Read reads the features of entities in one view at asOf, one pipelined
// round trip; out[i] holds the plan's features of entities[i] (nulls for an
// unknown entity).
func (s *Store) Read(ctx context.Context, p *Plan, entities []string, asOf int64) ([][]Value, error) {
	at := p.at(asOf)
	cmds := make([]redis.Cmder, len(entities))
	for i, e := range entities {
		cmds[i] = at.cmd(ctx, s.Key(p, e), s.raw)
	}
	err := s.process(ctx, cmds)
	if err != nil {
		return nil, fmt.Errorf("read view %s: %w", p.View.Name, err)
	}
	out := make([][]Value, len(entities))
	for i, c := range cmds {
		v, err := p.readHMGet(at, c, asOf)
		release(c)
		if err != nil {
			return nil, fmt.Errorf("read view %s entity %q: %w", p.View.Name, entities[i], err)
		}
		out[i] = v
	}
	return out, nil
}

// process sends cmds: a read of one entity with the concurrent ones
// (Coalesce), otherwise alone or as one pipeline (a read of many entities
// is not coalesced: the reads queued behind it would wait for its many
// replies).
func (s *Store) process(ctx context.Context, cmds []redis.Cmder) error {
	switch {
	case s.coalesce != nil && len(cmds) == 1:
		s.coalesce.do(ctx, cmds[0])
		return cmds[0].Err()
	case len(cmds) == 1:
		// One command: without the pipeline's machinery.
		return s.rdb.Process(ctx, cmds[0])
	}
	_, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for _, c := range cmds {
			_ = pipe.Process(ctx, c)
		}
		return nil
	})
	return err
}

// ReadEach reads the features of entities in one view, each at its own
// instant asOf[i], in one pipelined round trip; out[i] holds the plan's
// features of entities[i] at asOf[i], computed as Read computes them.
func (s *Store) ReadEach(ctx context.Context, p *Plan, entities []string, asOf []int64) ([][]Value, error) {
	if len(asOf) != len(entities) {
		return nil, fmt.Errorf("read view %s: %d entities, %d instants", p.View.Name, len(entities), len(asOf))
	}
	ats := make([]*readAt, len(entities))
	cmds := make([]redis.Cmder, len(entities))
	_, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, e := range entities {
			ats[i] = p.at(asOf[i])
			cmds[i] = ats[i].hmget(ctx, pipe, s.Key(p, e), s.raw)
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read view %s: %w", p.View.Name, err)
	}
	out := make([][]Value, len(entities))
	for i, c := range cmds {
		v, err := p.readHMGet(ats[i], c, asOf[i])
		release(c)
		if err != nil {
			return nil, fmt.Errorf("read view %s entity %q: %w", p.View.Name, entities[i], err)
		}
		out[i] = v
	}
	return out, nil
}

// Update is a run of events of one entity in one view, in Kafka order.
type Update struct {
	Plan   *Plan
	Entity string
	Events []Event
	// Outcomes is filled by Apply: one per event.
	Outcomes []Outcome
	// Newest is filled by Apply: the newest event time (Unix ms) of the
	// entity's state once the events are applied, replays and earlier
	// batches included; 0 when the state holds no event.
	Newest int64
}

// ErrFenced reports that the state of an entity changed between the read
// and the write of a Batch: another writer (the consumer that now owns the
// partition, after this one lost it to a session timeout or a long pause)
// applied events to it. Nothing of that entity was written; the caller must
// drop its batch, uncommitted.
var ErrFenced = errors.New("feature state changed by another writer")

// Apply prepares and commits updates: see Prepare and Batch.Commit.
func (s *Store) Apply(ctx context.Context, updates []*Update, now int64) error {
	b, err := s.Prepare(ctx, updates, now)
	if err != nil {
		return err
	}
	return b.Commit(ctx)
}

// Batch is a set of prepared writes: the outcome of every update is known
// (Update.Outcomes, Update.Newest), nothing is written yet.
type Batch struct {
	store  *Store
	writes []write
}

type write struct {
	key   string
	fence []any // field, value read ("" for none), ...
	set   []any
	del   []string
	ttl   time.Duration
}

// Prepare reads, in one pipelined round trip, the fields updates touch and
// the field names of every key, and applies the events in memory (skipping
// those already applied, copies and late ones), filling each update's
// Outcomes and Newest. now is the wall clock (Unix ms). Nothing is written
// until Commit.
func (s *Store) Prepare(ctx context.Context, updates []*Update, now int64) (*Batch, error) {
	type read struct {
		fields []string
		vals   *redis.SliceCmd
		names  *redis.StringSliceCmd
	}
	reads := make([]read, len(updates))
	_, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for i, u := range updates {
			fields := []string{FieldMeta, FieldSeen}
			seen := map[string]bool{}
			for _, e := range u.Events {
				for _, f := range append([]string{OffsetField(e.Seq.Partition)}, touched(u.Plan, e.Time)...) {
					if !seen[f] {
						seen[f] = true
						fields = append(fields, f)
					}
				}
			}
			key := s.Key(u.Plan, u.Entity)
			reads[i] = read{fields: fields, vals: pipe.HMGet(ctx, key, fields...), names: pipe.HKeys(ctx, key)}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read feature states: %w", err)
	}
	b := &Batch{store: s, writes: make([]write, 0, len(updates))}
	for i, u := range updates {
		vals := reads[i].vals.Val()
		st, err := u.Plan.load(reads[i].fields, vals)
		if err != nil {
			return nil, fmt.Errorf("entity %q of view %s: %w", u.Entity, u.Plan.View.Name, err)
		}
		if st == nil {
			st = NewState(u.Plan)
			// Offsets may exist without meta only if the meta was lost;
			// start afresh either way.
		}
		// The fence: the offsets of the partitions this update writes, as
		// read. Another consumer applying events to the entity changes them.
		w := write{key: s.Key(u.Plan, u.Entity)}
		fenced := map[int32]bool{}
		for _, e := range u.Events {
			if fenced[e.Seq.Partition] {
				continue
			}
			fenced[e.Seq.Partition] = true
			f := OffsetField(e.Seq.Partition)
			cur, _ := vals[slices.Index(reads[i].fields, f)].(string)
			w.fence = append(w.fence, f, cur)
		}
		u.Outcomes = u.Outcomes[:0]
		for _, e := range u.Events {
			u.Outcomes = append(u.Outcomes, st.Apply(u.Plan, e, now))
		}
		u.Newest = 0
		if st.Events > 0 {
			u.Newest = st.Newest
		}
		if !st.metaDirty {
			continue
		}
		w.set = append(w.set, FieldMeta, u.Plan.EncodeMeta(st))
		if st.seenDirty || len(st.Seen) > 0 {
			w.set = append(w.set, FieldSeen, u.Plan.EncodeSeen(st))
		}
		for part, off := range st.Offsets {
			w.set = append(w.set, OffsetField(part), strconv.FormatInt(off, 10))
		}
		ref := min(now, st.Newest)
		for k := range st.dirty {
			if t, ok := st.Tiles[k]; ok && k.End() > ref-u.Plan.retention[k.Level] {
				w.set = append(w.set, TileField(k), u.Plan.EncodeTile(t))
			}
		}
		for _, name := range reads[i].names.Val() {
			if k, ok := ParseTileField(name); ok && k.End() <= ref-u.Plan.retention[k.Level] {
				w.del = append(w.del, name)
			}
		}
		slices.Sort(w.del)
		w.ttl = time.Duration(u.Plan.ttl+u.Plan.lateness) * time.Millisecond
		b.writes = append(b.writes, w)
	}
	return b, nil
}

// fencedWrite writes one entity's hash if the fence fields still hold the
// values read: KEYS[1] the hash; ARGV: the number of fence fields, the
// field/value pairs ("" for a field that did not exist), the number of
// HSET arguments and the field/value pairs, the number of fields to delete
// and their names, the TTL in milliseconds. It returns 1 when written, 0
// (and writes nothing) when a fence field changed.
var fencedWrite = redis.NewScript(`
local key = KEYS[1]
local i = 2
for _ = 1, tonumber(ARGV[1]) do
  local cur = redis.call('HGET', key, ARGV[i])
  if cur == false then cur = '' end
  if cur ~= ARGV[i + 1] then return 0 end
  i = i + 2
end
local function each(cmd, n, step)
  local j = i
  local stop = i + n
  while j < stop do
    local k = math.min(j + step, stop)
    redis.call(cmd, key, unpack(ARGV, j, k - 1))
    j = k
  end
  i = stop
end
local nset = tonumber(ARGV[i]); i = i + 1
each('HSET', nset, 1000)
local ndel = tonumber(ARGV[i]); i = i + 1
each('HDEL', ndel, 1000)
redis.call('PEXPIRE', key, ARGV[i])
return 1
`)

// Commit writes every prepared entity in one pipelined round trip, each
// atomically (a Lua script) and only if no other writer changed it since
// Prepare read it: ErrFenced otherwise, for the entities fenced off (the
// others are written; an entity's events count once whoever writes it).
func (b *Batch) Commit(ctx context.Context) error {
	if len(b.writes) == 0 {
		return nil
	}
	args := make([][]any, len(b.writes))
	for i, w := range b.writes {
		a := make([]any, 0, 4+len(w.fence)+len(w.set)+len(w.del))
		a = append(a, len(w.fence)/2)
		a = append(a, w.fence...)
		a = append(a, len(w.set))
		a = append(a, w.set...)
		a = append(a, len(w.del))
		for _, d := range w.del {
			a = append(a, d)
		}
		args[i] = append(a, w.ttl.Milliseconds())
	}
	run := func(idx []int) ([]*redis.Cmd, error) {
		cmds := make([]*redis.Cmd, len(idx))
		_, err := b.store.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
			for j, i := range idx {
				cmds[j] = fencedWrite.EvalSha(ctx, pipe, []string{b.writes[i].key}, args[i]...)
			}
			return nil
		})
		return cmds, err
	}
	idx := make([]int, len(b.writes))
	for i := range idx {
		idx[i] = i
	}
	fenced := 0
	for attempt := 0; len(idx) > 0; attempt++ {
		cmds, _ := run(idx)
		var retry []int
		for j, c := range cmds {
			n, err := c.Int()
			switch {
			case err != nil && redis.HasErrorPrefix(err, "NOSCRIPT") && attempt == 0:
				retry = append(retry, idx[j]) // not run: the script is loaded below
			case err != nil:
				return fmt.Errorf("write feature state %s: %w", b.writes[idx[j]].key, err)
			case n == 0:
				fenced++
			}
		}
		if len(retry) > 0 {
			if err := fencedWrite.Load(ctx, b.store.rdb).Err(); err != nil {
				return fmt.Errorf("load the feature state script: %w", err)
			}
		}
		idx = retry
	}
	if fenced > 0 {
		return fmt.Errorf("write feature states: %d of %d entities: %w", fenced, len(b.writes), ErrFenced)
	}
	return nil
}

// touched are the tile fields an event at t updates.
func touched(p *Plan, t int64) []string {
	if len(p.aggs) == 0 {
		return nil
	}
	out := make([]string, 0, len(levels))
	for l := range levels {
		if k, ok := containing(l, t); ok {
			out = append(out, TileField(k))
		}
	}
	return out
}

// Query is one view's part of a multi-view read: the plan and the entities
// to read in it.
type Query struct {
	Plan     *Plan
	Entities []string
}

// ReadViews reads several views at asOf in one pipelined round trip (serving
// reads every view a model uses, for every entity of a batch, at once);
// out[q][i] holds the features of queries[q].Entities[i], computed exactly as
// Read computes them.
func (s *Store) ReadViews(ctx context.Context, queries []Query, asOf int64) ([][][]Value, error) {
	ats := make([]*readAt, len(queries))
	cmds := make([][]redis.Cmder, len(queries))
	_, err := s.rdb.Pipelined(ctx, func(pipe redis.Pipeliner) error {
		for q, qu := range queries {
			ats[q] = qu.Plan.at(asOf)
			cmds[q] = make([]redis.Cmder, len(qu.Entities))
			for i, e := range qu.Entities {
				cmds[q][i] = ats[q].hmget(ctx, pipe, s.Key(qu.Plan, e), s.raw)
			}
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read %d views: %w", len(queries), err)
	}
	out := make([][][]Value, len(queries))
	for q, qu := range queries {
		out[q] = make([][]Value, len(qu.Entities))
		for i, c := range cmds[q] {
			v, err := qu.Plan.readHMGet(ats[q], c, asOf)
			release(c)
			if err != nil {
				return nil, fmt.Errorf("read view %s entity %q: %w", qu.Plan.View.Name, qu.Entities[i], err)
			}
			out[q][i] = v
		}
	}
	return out, nil
}

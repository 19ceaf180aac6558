package predlog

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"
)

// The spill is a directory of segment files, each named by the sequence
// number of its first record (00000000000000000042.seg), holding frames:
//
//	length  uint32, big endian: the payload's length
//	crc     uint32, big endian: CRC-32C (Castagnoli) of the payload
//	payload seq uvarint, timestamp varint (Unix ns, 0: none),
//	        key and value (uvarint length+1, 0: null; bytes),
//	        header count uvarint, each header: name, value (uvarint length; bytes)
//
// Beside a segment, its .ack file holds the offset up to which every record
// has been acknowledged by Kafka: uint64 offset, uint32 CRC-32C of it. A
// segment is only ever appended to; a frame cut short or failing its CRC
// (a crash during a write) ends the segment, and opening the spill
// truncates the file there.

const (
	frameOverhead = 8
	segSuffix     = ".seg"
	ackSuffix     = ".ack"
	lockName      = "LOCK"
	// maxFrame bounds the length field a reader believes.
	maxFrame = 1 << 30
)

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// ErrSpillLocked is returned by New when another process uses the spill
// directory.
var ErrSpillLocked = errors.New("spill directory is in use by another process")

// rec is one record on its way to Kafka.
type rec struct {
	seq  uint64
	r    *kgo.Record
	size int      // what it counts against the memory bound
	seg  *segment // nil: the record is only in memory
	idx  int      // its slot in seg.slots (absolute)
	sent time.Time
}

// segment is one spill file.
type segment struct {
	first   uint64
	path    string
	size    int64 // bytes in the file (written)
	readOff int64 // next frame to read
	sealed  bool  // no more appends
	w       *os.File
	r       *os.File
	dirty   bool // written since the last fsync

	// Acknowledgement of the records read: slots[i] is record base+i.
	slots    []slot
	base     int
	ackedOff int64 // every record before it is acknowledged
	ackSaved int64 // ackedOff as in the .ack file
}

type slot struct {
	end  int64
	done bool
}

func segName(first uint64) string { return fmt.Sprintf("%020d%s", first, segSuffix) }

func (s *segment) ackPath() string { return strings.TrimSuffix(s.path, segSuffix) + ackSuffix }

// spill is the set of segments; it is used by the pump goroutine alone.
type spill struct {
	dir     string
	maxSeg  int64
	maxAll  int64
	logger  *slog.Logger
	lock    *os.File
	segs    []*segment // by first seq
	w       *segment   // the segment being written, nil if none
	total   int64      // bytes of all segment files
	nextSeq uint64     // one more than the last seq recovered
	wbuf    []byte
}

// openSpill locks dir, recovers its segments (truncating a torn tail) and
// returns the spill, its unread records first in order.
func openSpill(dir string, maxSeg, maxAll int64, logger *slog.Logger) (*spill, error) {
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("create spill directory: %w", err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, lockName), os.O_CREATE|os.O_RDWR, 0o600)
	if err != nil {
		return nil, fmt.Errorf("open spill lock: %w", err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrSpillLocked)
		}
		return nil, fmt.Errorf("lock spill directory %s: %w", dir, err)
	}
	s := &spill{dir: dir, maxSeg: maxSeg, maxAll: maxAll, logger: logger, lock: lock, nextSeq: 1}
	names, err := filepath.Glob(filepath.Join(dir, "*"+segSuffix))
	if err != nil {
		s.close()
		return nil, fmt.Errorf("list spill segments: %w", err)
	}
	slices.Sort(names) // zero-padded: lexical order is seq order
	for _, name := range names {
		first, err := strconv.ParseUint(strings.TrimSuffix(filepath.Base(name), segSuffix), 10, 64)
		if err != nil {
			logger.Warn("prediction log spill: ignoring a file that is not a segment", "path", name)
			continue
		}
		seg := &segment{first: first, path: name, sealed: true}
		last, err := s.recover(seg)
		if err != nil {
			s.close()
			return nil, err
		}
		if last >= s.nextSeq {
			s.nextSeq = last + 1
		}
		if seg.ackedOff >= seg.size {
			if err := s.remove(seg); err != nil {
				s.close()
				return nil, err
			}
			continue
		}
		seg.readOff = seg.ackedOff
		s.segs = append(s.segs, seg)
		s.total += seg.size
	}
	// Remove .ack files whose segment is gone.
	acks, _ := filepath.Glob(filepath.Join(dir, "*"+ackSuffix))
	for _, a := range acks {
		if _, err := os.Stat(strings.TrimSuffix(a, ackSuffix) + segSuffix); errors.Is(err, os.ErrNotExist) {
			_ = os.Remove(a)
		}
	}
	return s, nil
}

// recover scans a segment: it finds the end of the last whole frame,
// truncates the file there if anything follows, and reads the .ack file.
// It returns the last record's seq (0 if none).
func (s *spill) recover(seg *segment) (uint64, error) {
	f, err := os.OpenFile(seg.path, os.O_RDWR, 0)
	if err != nil {
		return 0, fmt.Errorf("open spill segment: %w", err)
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return 0, fmt.Errorf("stat spill segment: %w", err)
	}
	ackOff, ackOK := readAck(seg.ackPath())
	br := bufio.NewReaderSize(f, 64<<10)
	var off int64
	var last uint64
	var hdr [frameOverhead]byte
	var payload []byte
	ackAtBoundary := ackOff == 0
	n := 0
	for {
		if _, err := io.ReadFull(br, hdr[:]); err != nil {
			break // io.EOF: clean end; ErrUnexpectedEOF: torn header
		}
		l := binary.BigEndian.Uint32(hdr[0:4])
		if l == 0 || l > maxFrame || int64(l) > st.Size()-off-frameOverhead {
			break
		}
		payload = slices.Grow(payload[:0], int(l))[:l]
		if _, err := io.ReadFull(br, payload); err != nil {
			break
		}
		if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(hdr[4:8]) {
			break
		}
		seq, k := binary.Uvarint(payload)
		if k <= 0 {
			break
		}
		last = seq
		off += frameOverhead + int64(l)
		n++
		if off == ackOff {
			ackAtBoundary = true
		}
	}
	if off < st.Size() {
		s.logger.Warn("prediction log spill: truncating a torn segment tail", "path", seg.path, "valid_bytes", off, "dropped_bytes", st.Size()-off, "records", n)
		if err := f.Truncate(off); err != nil {
			return 0, fmt.Errorf("truncate spill segment %s: %w", seg.path, err)
		}
		if err := f.Sync(); err != nil {
			return 0, fmt.Errorf("sync spill segment %s: %w", seg.path, err)
		}
	}
	seg.size = off
	if ackOK && ackAtBoundary && ackOff <= off {
		seg.ackedOff, seg.ackSaved = ackOff, ackOff
	}
	return last, nil
}

func readAck(path string) (int64, bool) {
	b, err := os.ReadFile(path)
	if err != nil || len(b) != 12 {
		return 0, false
	}
	if crc32.Checksum(b[:8], castagnoli) != binary.BigEndian.Uint32(b[8:12]) {
		return 0, false
	}
	return int64(binary.BigEndian.Uint64(b[:8])), true
}

func writeAck(path string, off int64) error {
	var b [12]byte
	binary.BigEndian.PutUint64(b[:8], uint64(off))
	binary.BigEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("open ack file: %w", err)
	}
	if _, err := f.WriteAt(b[:], 0); err != nil {
		f.Close()
		return fmt.Errorf("write ack file: %w", err)
	}
	return f.Close()
}

// unread reports whether a segment holds records not yet read.
func (s *spill) unread() bool {
	for _, seg := range s.segs {
		if seg.readOff < seg.size {
			return true
		}
	}
	return false
}

// fits reports whether a record of n payload bytes fits in the spill.
func (s *spill) fits(n int) bool {
	return s.total+int64(len(s.wbuf))+int64(n)+frameOverhead <= s.maxAll
}

// append encodes r into the write buffer, starting a new segment when
// there is none or the current one is full. flush writes the buffer.
func (s *spill) append(r *rec) error {
	n := encodedLen(r)
	if s.w != nil && s.w.size+int64(len(s.wbuf))+int64(n)+frameOverhead > s.maxSeg {
		if err := s.seal(); err != nil {
			return err
		}
	}
	if s.w == nil {
		if err := s.create(r.seq); err != nil {
			return err
		}
	}
	s.wbuf = appendFrame(s.wbuf, r, n)
	return nil
}

func (s *spill) create(first uint64) error {
	path := filepath.Join(s.dir, segName(first))
	f, err := os.OpenFile(path, os.O_CREATE|os.O_EXCL|os.O_WRONLY|os.O_APPEND, 0o600)
	if err != nil {
		return fmt.Errorf("create spill segment: %w", err)
	}
	seg := &segment{first: first, path: path, w: f}
	// Keep segs sorted by first: a new segment is the last, except those
	// written at shutdown for older records (see spillRecords).
	i, _ := slices.BinarySearchFunc(s.segs, first, func(g *segment, f uint64) int {
		switch {
		case g.first < f:
			return -1
		case g.first > f:
			return 1
		}
		return 0
	})
	s.segs = slices.Insert(s.segs, i, seg)
	s.w = seg
	return nil
}

// flush writes the buffered frames to the segment being written.
func (s *spill) flush() error {
	if len(s.wbuf) == 0 {
		return nil
	}
	if _, err := s.w.w.Write(s.wbuf); err != nil {
		return fmt.Errorf("write spill segment %s: %w", s.w.path, err)
	}
	s.w.size += int64(len(s.wbuf))
	s.total += int64(len(s.wbuf))
	s.w.dirty = true
	s.wbuf = s.wbuf[:0]
	return nil
}

// sync fsyncs the segment being written if it changed.
func (s *spill) sync() error {
	if s.w == nil || !s.w.dirty {
		return nil
	}
	if err := s.w.w.Sync(); err != nil {
		return fmt.Errorf("sync spill segment %s: %w", s.w.path, err)
	}
	s.w.dirty = false
	return nil
}

// seal ends the segment being written: flushed, synced and closed for
// writing; it is still read and deleted as any other.
func (s *spill) seal() error {
	if s.w == nil {
		return nil
	}
	if err := s.flush(); err != nil {
		return err
	}
	if err := s.sync(); err != nil {
		return err
	}
	seg := s.w
	s.w = nil
	seg.sealed = true
	if err := seg.w.Close(); err != nil {
		return fmt.Errorf("close spill segment %s: %w", seg.path, err)
	}
	seg.w = nil
	return s.collect()
}

// next reads the oldest unread record, for topic; nil when there is none.
func (s *spill) next(topic string) (*rec, error) {
	for _, seg := range s.segs {
		if seg.readOff >= seg.size {
			continue
		}
		if seg.r == nil {
			f, err := os.Open(seg.path)
			if err != nil {
				return nil, fmt.Errorf("open spill segment: %w", err)
			}
			seg.r = f
		}
		var hdr [frameOverhead]byte
		if _, err := seg.r.ReadAt(hdr[:], seg.readOff); err != nil {
			return nil, fmt.Errorf("read spill segment %s at %d: %w", seg.path, seg.readOff, err)
		}
		l := int64(binary.BigEndian.Uint32(hdr[0:4]))
		if l == 0 || seg.readOff+frameOverhead+l > seg.size {
			return nil, fmt.Errorf("read spill segment %s at %d: frame length %d out of bounds", seg.path, seg.readOff, l)
		}
		payload := make([]byte, l)
		if _, err := seg.r.ReadAt(payload, seg.readOff+frameOverhead); err != nil {
			return nil, fmt.Errorf("read spill segment %s at %d: %w", seg.path, seg.readOff, err)
		}
		if crc32.Checksum(payload, castagnoli) != binary.BigEndian.Uint32(hdr[4:8]) {
			return nil, fmt.Errorf("read spill segment %s at %d: crc mismatch", seg.path, seg.readOff)
		}
		r, err := decodePayload(payload)
		if err != nil {
			return nil, fmt.Errorf("read spill segment %s at %d: %w", seg.path, seg.readOff, err)
		}
		seg.readOff += frameOverhead + l
		r.r.Topic = topic
		r.seg = seg
		r.idx = seg.base + len(seg.slots)
		seg.slots = append(seg.slots, slot{end: seg.readOff})
		return r, nil
	}
	return nil, nil
}

// done marks a record read from seg as acknowledged (or given up).
func (s *spill) done(r *rec) {
	seg := r.seg
	seg.slots[r.idx-seg.base].done = true
	for len(seg.slots) > 0 && seg.slots[0].done {
		seg.ackedOff = seg.slots[0].end
		seg.slots = seg.slots[1:]
		seg.base++
	}
}

// collect deletes the segments whose records are all acknowledged.
func (s *spill) collect() error {
	kept := s.segs[:0]
	var errs []error
	for _, seg := range s.segs {
		if seg != s.w && seg.readOff >= seg.size && seg.ackedOff >= seg.size {
			if err := s.remove(seg); err != nil {
				errs = append(errs, err)
			}
			s.total -= seg.size
			continue
		}
		kept = append(kept, seg)
	}
	clear(s.segs[len(kept):])
	s.segs = kept
	return errors.Join(errs...)
}

func (s *spill) remove(seg *segment) error {
	if seg.r != nil {
		seg.r.Close()
		seg.r = nil
	}
	if err := os.Remove(seg.path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove spill segment: %w", err)
	}
	if err := os.Remove(seg.ackPath()); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("remove spill ack file: %w", err)
	}
	return nil
}

// saveAcks writes the .ack file of every segment whose acknowledged prefix
// moved. They are not fsynced: after an OS crash an older offset only
// means more records sent again.
func (s *spill) saveAcks() error {
	var errs []error
	for _, seg := range s.segs {
		if seg.ackedOff != seg.ackSaved {
			if err := writeAck(seg.ackPath(), seg.ackedOff); err != nil {
				errs = append(errs, fmt.Errorf("segment %s: %w", seg.path, err))
				continue
			}
			seg.ackSaved = seg.ackedOff
		}
	}
	return errors.Join(errs...)
}

// close seals the segment being written, saves the acknowledgements and
// releases the directory.
func (s *spill) close() error {
	var errs []error
	if s.w != nil {
		errs = append(errs, s.seal())
	}
	errs = append(errs, s.saveAcks())
	for _, seg := range s.segs {
		if seg.r != nil {
			seg.r.Close()
			seg.r = nil
		}
	}
	if s.lock != nil {
		errs = append(errs, s.lock.Close()) // releases the flock
		s.lock = nil
	}
	return errors.Join(errs...)
}

// encodedLen is the payload length of r.
func encodedLen(r *rec) int {
	n := uvarintLen(r.seq) + binary.MaxVarintLen64 + bytesLen(r.r.Key) + bytesLen(r.r.Value) + uvarintLen(uint64(len(r.r.Headers)))
	for _, h := range r.r.Headers {
		n += uvarintLen(uint64(len(h.Key))) + len(h.Key) + uvarintLen(uint64(len(h.Value))) + len(h.Value)
	}
	return n
}

func uvarintLen(v uint64) int {
	n := 1
	for v >= 0x80 {
		v >>= 7
		n++
	}
	return n
}

func bytesLen(b []byte) int { return uvarintLen(uint64(len(b))+1) + len(b) }

// appendFrame appends r's frame to b; n is at least the payload length.
func appendFrame(b []byte, r *rec, n int) []byte {
	start := len(b)
	b = slices.Grow(b, frameOverhead+n)
	b = append(b, 0, 0, 0, 0, 0, 0, 0, 0)
	b = binary.AppendUvarint(b, r.seq)
	var ts int64
	if !r.r.Timestamp.IsZero() {
		ts = r.r.Timestamp.UnixNano()
	}
	b = binary.AppendVarint(b, ts)
	b = appendBytes(b, r.r.Key)
	b = appendBytes(b, r.r.Value)
	b = binary.AppendUvarint(b, uint64(len(r.r.Headers)))
	for _, h := range r.r.Headers {
		b = binary.AppendUvarint(b, uint64(len(h.Key)))
		b = append(b, h.Key...)
		b = binary.AppendUvarint(b, uint64(len(h.Value)))
		b = append(b, h.Value...)
	}
	payload := b[start+frameOverhead:]
	binary.BigEndian.PutUint32(b[start:], uint32(len(payload)))
	binary.BigEndian.PutUint32(b[start+4:], crc32.Checksum(payload, castagnoli))
	return b
}

func appendBytes(b, v []byte) []byte {
	if v == nil {
		return binary.AppendUvarint(b, 0)
	}
	b = binary.AppendUvarint(b, uint64(len(v))+1)
	return append(b, v...)
}

var errBadPayload = errors.New("malformed spill record")

// decodePayload decodes a frame's payload; the record's slices point into p.
func decodePayload(p []byte) (*rec, error) {
	d := decoder{b: p}
	r := &rec{r: &kgo.Record{}}
	r.seq = d.uvarint()
	if ts := d.varint(); ts != 0 {
		r.r.Timestamp = time.Unix(0, ts)
	}
	r.r.Key = d.nbytes()
	r.r.Value = d.nbytes()
	nh := d.uvarint()
	if nh > uint64(len(p)) {
		return nil, errBadPayload
	}
	if nh > 0 {
		r.r.Headers = make([]kgo.RecordHeader, nh)
		for i := range r.r.Headers {
			r.r.Headers[i].Key = string(d.bytes())
			r.r.Headers[i].Value = d.bytes()
		}
	}
	if d.err || len(d.b) != 0 {
		return nil, errBadPayload
	}
	r.size = len(p)
	return r, nil
}

type decoder struct {
	b   []byte
	err bool
}

func (d *decoder) uvarint() uint64 {
	v, n := binary.Uvarint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) varint() int64 {
	v, n := binary.Varint(d.b)
	if n <= 0 {
		d.err, d.b = true, nil
		return 0
	}
	d.b = d.b[n:]
	return v
}

func (d *decoder) take(n uint64) []byte {
	if n > uint64(len(d.b)) {
		d.err, d.b = true, nil
		return nil
	}
	v := d.b[:n:n]
	d.b = d.b[n:]
	return v
}

func (d *decoder) bytes() []byte { return d.take(d.uvarint()) }

func (d *decoder) nbytes() []byte {
	n := d.uvarint()
	if n == 0 || d.err {
		return nil
	}
	return d.take(n - 1)
}

// skipReading gives up the rest of the segment being read: its records
// count as done, so that the segment is deleted once those in flight are
// acknowledged.
func (s *spill) skipReading() {
	for _, seg := range s.segs {
		if seg.readOff < seg.size {
			seg.readOff = seg.size
			seg.slots = append(seg.slots, slot{end: seg.size, done: true})
			for len(seg.slots) > 0 && seg.slots[0].done {
				seg.ackedOff = seg.slots[0].end
				seg.slots = seg.slots[1:]
				seg.base++
			}
			return
		}
	}
}

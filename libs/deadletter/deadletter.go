package deadletter

import (
	"errors"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/reason"
)

// Topic is the dead-letter topic (libs/event.TopicDLQ).
const Topic = "tributary.dlq"

// Header names. Every name starts with HeaderPrefix.
const (
	HeaderPrefix    = "tributary_"
	HeaderReason    = "tributary_reason"
	HeaderError     = "tributary_error"
	HeaderService   = "tributary_service"
	HeaderOrigin    = "tributary_origin"
	HeaderReceived  = "tributary_received"
	HeaderTruncated = "tributary_truncated"
)

// What tributary_truncated lists.
const (
	CutValue        = "value"
	CutKey          = "key"
	CutError        = "error"
	CutHeaderValues = "header_values"
	CutHeaders      = "headers"
)

// Limits of the parts of a record.
const (
	// DefaultMaxBytes is the MaxBytes of a zero Builder: franz-go's default
	// ProducerBatchMaxBytes, below Kafka's default max.message.bytes.
	DefaultMaxBytes = 1_000_012
	// MinMaxBytes is the smallest MaxBytes Validate accepts: room for the
	// refusal headers and a useful part of the input.
	MinMaxBytes = 4096
	// MaxErrorBytes bounds tributary_error.
	MaxErrorBytes = 4096
	// MaxHeaderValueBytes bounds each of the input's header values (a 10 MB
	// ce_id keeps its first 4 KiB).
	MaxHeaderValueBytes = 4096
	// MaxHeaderKeyBytes bounds an input header's name; a longer one is
	// dropped.
	MaxHeaderKeyBytes = 256
	// MaxKeyBytes bounds the record key.
	MaxKeyBytes = 4096

	maxServiceBytes = 64
	maxOriginBytes  = 6 + 249 + 1 + 11 + 1 + 20 // "kafka:" topic "/" int32 "/" int64
	// batchOverhead is what a record batch of one record adds to the
	// record's fields, plus the record's own fixed fields, at their widest
	// (franz-go's recordBatchOverhead and recordNumbers).
	batchOverhead  = 65 + 5 + 1 + 10 + 5 + 5 + 5 + 5
	headerOverhead = 5 + 5
)

// Origin is where a refused input came from.
type Origin struct {
	// Transport is "http" or "kafka".
	Transport string
	// Topic, Partition and Offset locate a consumed record (kafka only).
	// Partition and Offset are -1 when unknown (records written before the
	// offset was part of the contract).
	Topic     string
	Partition int32
	Offset    int64
}

// Transports.
const (
	TransportHTTP  = "http"
	TransportKafka = "kafka"
)

// HTTP is the origin of an input received on the HTTP API.
func HTTP() Origin { return Origin{Transport: TransportHTTP} }

// Kafka is the origin of a consumed record.
func Kafka(topic string, partition int32, offset int64) Origin {
	return Origin{Transport: TransportKafka, Topic: topic, Partition: partition, Offset: offset}
}

// FromRecord is the origin of the consumed record r.
func FromRecord(r *kgo.Record) Origin { return Kafka(r.Topic, r.Partition, r.Offset) }

// String is the tributary_origin value: "http" or
// "kafka:<topic>/<partition>/<offset>".
func (o Origin) String() string {
	if o.Transport == TransportKafka {
		return "kafka:" + o.Topic + "/" + strconv.FormatInt(int64(o.Partition), 10) + "/" + strconv.FormatInt(o.Offset, 10)
	}
	return o.Transport
}

// ParseOrigin parses a tributary_origin value. It also reads the two forms
// written before this package: "<topic>/<partition>/<offset>" (the
// materializer) and a bare topic name (ingest's raw consumer), whose
// partition and offset are -1.
func ParseOrigin(s string) (Origin, error) {
	switch {
	case s == TransportHTTP:
		return HTTP(), nil
	case s == "":
		return Origin{}, errors.New("origin: empty")
	}
	rest, ok := strings.CutPrefix(s, TransportKafka+":")
	topic, p, off, full := splitLocation(rest)
	switch {
	case full:
		return Kafka(topic, p, off), nil
	case ok:
		return Origin{}, fmt.Errorf("origin %q: want kafka:<topic>/<partition>/<offset>", s)
	case !strings.Contains(s, "/") && !strings.Contains(s, ":"):
		return Kafka(s, -1, -1), nil // legacy: a bare topic
	}
	return Origin{}, fmt.Errorf("origin %q: want http or kafka:<topic>/<partition>/<offset>", s)
}

func splitLocation(s string) (topic string, partition int32, offset int64, ok bool) {
	i := strings.LastIndexByte(s, '/')
	if i < 0 {
		return "", 0, 0, false
	}
	j := strings.LastIndexByte(s[:i], '/')
	if j <= 0 {
		return "", 0, 0, false
	}
	p, err1 := strconv.ParseInt(s[j+1:i], 10, 32)
	o, err2 := strconv.ParseInt(s[i+1:], 10, 64)
	if err1 != nil || err2 != nil || p < 0 || o < 0 {
		return "", 0, 0, false
	}
	return s[:j], int32(p), o, true
}

// Letter is one refused input and why: what Builder.Record writes and
// Decode reads back.
type Letter struct {
	Service  string
	Reason   reason.ID
	Error    string
	Origin   Origin
	Received time.Time
	// Key, Value and Headers are the input as received. Builder.Record
	// drops the input's tributary_* headers; Decode puts the tributary_*
	// headers it does not know (of a later version) in Headers.
	Key     []byte
	Value   []byte
	Headers []kgo.RecordHeader
	// Truncated lists what Builder.Record cut (Cut* values); set by
	// Decode, ignored by Builder.Record.
	Truncated []string
}

// Builder writes the dead-letter records of one service.
type Builder struct {
	// Service names the service in tributary_service.
	Service string
	// Topic is the dead-letter topic; "" is Topic. Tests set a prefixed one.
	Topic string
	// MaxBytes bounds the size of a record in a one-record batch (compare
	// it with the producer's ProducerBatchMaxBytes and the topic's
	// max.message.bytes); 0 is DefaultMaxBytes.
	MaxBytes int
}

// Validate checks the builder's configuration.
func (b Builder) Validate() error {
	switch {
	case b.Service == "" || len(b.Service) > maxServiceBytes:
		return fmt.Errorf("dead-letter service %q: must be 1 to %d bytes", b.Service, maxServiceBytes)
	case b.MaxBytes != 0 && b.MaxBytes < MinMaxBytes:
		return fmt.Errorf("dead-letter max bytes %d: at least %d", b.MaxBytes, MinMaxBytes)
	}
	return nil
}

// Record builds the dead-letter record of l (l.Truncated is ignored). It
// never fails: what does not fit is cut, and tributary_truncated says what.
// l's slices are not modified; the record's value and key share l's
// memory.
func (b Builder) Record(l Letter) *kgo.Record {
	limit := b.MaxBytes
	if limit == 0 {
		limit = DefaultMaxBytes
	}
	topic := b.Topic
	if topic == "" {
		topic = Topic
	}
	received := l.Received
	if received.IsZero() {
		received = time.Now()
	}
	var cut []string
	mark := func(what string) {
		for _, c := range cut {
			if c == what {
				return
			}
		}
		cut = append(cut, what)
	}

	own := []kgo.RecordHeader{
		{Key: HeaderReason, Value: []byte(cutText(string(l.Reason), 64))},
		{Key: HeaderService, Value: []byte(cutText(b.Service, maxServiceBytes))},
		{Key: HeaderOrigin, Value: []byte(cutText(l.Origin.String(), maxOriginBytes))},
		{Key: HeaderReceived, Value: []byte(received.UTC().Format(time.RFC3339Nano))},
	}
	msg := l.Error
	if len(msg) > MaxErrorBytes {
		msg = cutText(msg, MaxErrorBytes)
		mark(CutError)
	}
	// The fixed part: the batch, the refusal headers and the largest
	// possible tributary_truncated.
	budget := limit - batchOverhead - headersSize(own) -
		(headerOverhead + len(HeaderTruncated) + len("value,key,error,header_values,headers")) -
		(headerOverhead + len(HeaderError))

	// The message first, cut if even it does not fit.
	if len(msg) > budget {
		msg = cutText(msg, max(budget, 0))
		mark(CutError)
	}
	budget -= len(msg)

	key := l.Key
	if len(key) > MaxKeyBytes {
		key = key[:MaxKeyBytes]
		mark(CutKey)
	}
	if len(key) > budget {
		key = key[:max(budget, 0)]
		mark(CutKey)
	}
	budget -= len(key)

	headers := make([]kgo.RecordHeader, 0, len(l.Headers)+len(own)+2)
	for _, h := range identityFirst(l.Headers) {
		if strings.HasPrefix(h.Key, HeaderPrefix) || len(h.Key) > MaxHeaderKeyBytes {
			mark(CutHeaders)
			continue
		}
		v := h.Value
		if len(v) > MaxHeaderValueBytes {
			v = []byte(cutText(string(v), MaxHeaderValueBytes))
			mark(CutHeaderValues)
		}
		size := headerOverhead + len(h.Key) + len(v)
		if size > budget {
			mark(CutHeaders)
			continue
		}
		budget -= size
		headers = append(headers, kgo.RecordHeader{Key: h.Key, Value: v})
	}

	value := l.Value
	if len(value) > budget {
		value = value[:max(budget, 0)]
		mark(CutValue)
	}

	headers = append(headers, own...)
	headers = append(headers, kgo.RecordHeader{Key: HeaderError, Value: []byte(msg)})
	if len(cut) > 0 {
		headers = append(headers, kgo.RecordHeader{Key: HeaderTruncated, Value: []byte(strings.Join(cut, ","))})
	}
	return &kgo.Record{Topic: topic, Key: key, Value: value, Headers: headers}
}

// identity are the headers of a CloudEvent in binary mode that identify
// it, in the order Builder.Record keeps them before any other header.
var identity = [...]string{"ce_id", "ce_source", "ce_type", "ce_specversion", "ce_time", "content-type"}

// identityFirst returns hs with the identity headers first (in identity's
// order, each where it first occurs), then the others in their order. hs is
// not modified.
func identityFirst(hs []kgo.RecordHeader) []kgo.RecordHeader {
	rank := func(key string) int {
		for i, k := range identity {
			if k == key {
				return i
			}
		}
		return len(identity)
	}
	out := slices.Clone(hs)
	slices.SortStableFunc(out, func(a, b kgo.RecordHeader) int { return rank(a.Key) - rank(b.Key) })
	return out
}

// Size is an upper bound of the bytes r takes in a record batch of its own,
// the size Kafka and franz-go compare with their limits.
func Size(r *kgo.Record) int {
	return batchOverhead + len(r.Key) + len(r.Value) + headersSize(r.Headers)
}

func headersSize(hs []kgo.RecordHeader) int {
	n := 0
	for _, h := range hs {
		n += headerOverhead + len(h.Key) + len(h.Value)
	}
	return n
}

// cutText returns at most n bytes of s, not splitting a UTF-8 sequence.
func cutText(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && i > n-utf8.UTFMax && !utf8.RuneStart(s[i]) {
		i--
	}
	if !utf8.RuneStart(s[i]) { // not UTF-8 text: cut at n
		i = n
	}
	return s[:i]
}

// ErrNotDeadLetter is returned by Decode for a record without a
// tributary_reason header.
var ErrNotDeadLetter = errors.New("not a dead-letter record: no " + HeaderReason + " header")

// Decode reads a dead-letter record. Records written before this package
// decode too: without tributary_service (Service is ""), with the legacy
// origins ParseOrigin reads, and with tributary_truncated "true" (the value
// was cut).
func Decode(r *kgo.Record) (Letter, error) {
	l := Letter{Key: r.Key, Value: r.Value}
	var haveReason bool
	for _, h := range r.Headers {
		if !strings.HasPrefix(h.Key, HeaderPrefix) {
			l.Headers = append(l.Headers, h)
			continue
		}
		v := string(h.Value)
		switch h.Key {
		case HeaderReason:
			l.Reason, haveReason = reason.ID(v), true
		case HeaderError:
			l.Error = v
		case HeaderService:
			l.Service = v
		case HeaderOrigin:
			o, err := ParseOrigin(v)
			if err != nil {
				return Letter{}, fmt.Errorf("decode dead-letter record: %w", err)
			}
			l.Origin = o
		case HeaderReceived:
			t, err := time.Parse(time.RFC3339Nano, v)
			if err != nil {
				return Letter{}, fmt.Errorf("decode dead-letter record: %s: %w", HeaderReceived, err)
			}
			l.Received = t
		case HeaderTruncated:
			if v == "true" {
				l.Truncated = []string{CutValue}
			} else if v != "" {
				l.Truncated = strings.Split(v, ",")
			}
		default:
			l.Headers = append(l.Headers, h) // a header of a later version
		}
	}
	if !haveReason {
		return Letter{}, ErrNotDeadLetter
	}
	return l, nil
}

// Header returns the value of the input header key in l ("" when absent).
func (l Letter) Header(key string) string {
	for _, h := range l.Headers {
		if h.Key == key {
			return string(h.Value)
		}
	}
	return ""
}

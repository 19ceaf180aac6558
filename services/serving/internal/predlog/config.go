package predlog

import (
	"errors"
	"flag"
	"fmt"
	"time"

	"github.com/twmb/franz-go/pkg/kgo"

	"github.com/tributary-ml/tributary/libs/event"
)

// Config configures the prediction log.
type Config struct {
	// Topic is where the records go; event.TopicPredictions unless a test
	// says otherwise (it is not a flag).
	Topic string

	MaxBufferedRecords int   // records held in memory (queued and in flight) before spilling
	MaxBufferedBytes   int64 // bytes held in memory before spilling
	MaxRecordBytes     int   // larger records are refused (reason too_large)
	MaxInFlight        int   // records handed to the Kafka client and not yet acknowledged

	SpillDir          string        // the spill directory; "" disables the spill (full memory drops)
	SpillSegmentBytes int64         // a segment file is closed at this size and a new one begun
	SpillMaxBytes     int64         // the spill's total size; beyond it records are dropped (reason spill_full)
	SpillSyncInterval time.Duration // fsync of the segment being written; 0: after every batch

	DrainTimeout time.Duration // at shutdown, how long to keep sending before spilling what is left

	// AckInterval is how often the acknowledged prefix of each segment is
	// written to its .ack file (not a flag).
	AckInterval time.Duration
	// DropLogInterval is the least time between two log lines about
	// drops (not a flag).
	DropLogInterval time.Duration
}

// RegisterFlags registers the prediction-log.* flags with their defaults.
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	c.defaults()
	fs.IntVar(&c.MaxBufferedRecords, "prediction-log.max-buffered-records", 10000, "Prediction log records held in memory (queued and in flight to Kafka); beyond it they are spilled to disk.")
	fs.Int64Var(&c.MaxBufferedBytes, "prediction-log.max-buffered-bytes", 32<<20, "Bytes of prediction log records held in memory; beyond it they are spilled to disk.")
	fs.IntVar(&c.MaxRecordBytes, "prediction-log.max-record-bytes", 1<<20, "Largest prediction log record (key, headers and payload); larger ones are dropped (reason too_large).")
	fs.IntVar(&c.MaxInFlight, "prediction-log.max-in-flight", 2000, "Prediction log records handed to the Kafka client and not yet acknowledged.")
	fs.StringVar(&c.SpillDir, "prediction-log.spill-dir", "", "Directory of the prediction log's spill files (one serving process per directory). Empty: no spill, records beyond the memory buffer are dropped (reason buffer_full).")
	fs.Int64Var(&c.SpillSegmentBytes, "prediction-log.spill-segment-bytes", 64<<20, "Size at which a spill segment file is closed and a new one begun.")
	fs.Int64Var(&c.SpillMaxBytes, "prediction-log.spill-max-bytes", 1<<30, "Total size of the spill files; beyond it records are dropped (reason spill_full).")
	fs.DurationVar(&c.SpillSyncInterval, "prediction-log.spill-sync-interval", time.Second, "How often the spill segment being written is fsynced (0: after every batch of writes). A process crash loses nothing written; an OS crash can lose up to this interval.")
	fs.DurationVar(&c.DrainTimeout, "prediction-log.drain-timeout", 10*time.Second, "At shutdown, how long to keep sending buffered records to Kafka before writing what is left to the spill.")
}

// defaults sets the fields that are not flags, where zero.
func (c *Config) defaults() {
	if c.Topic == "" {
		c.Topic = event.TopicPredictions
	}
	if c.AckInterval == 0 {
		c.AckInterval = 200 * time.Millisecond
	}
	if c.DropLogInterval == 0 {
		c.DropLogInterval = 10 * time.Second
	}
}

// Validate checks the configuration.
func (c Config) Validate() error {
	var errs []error
	if c.Topic == "" {
		errs = append(errs, errors.New("prediction-log: topic is empty"))
	}
	if c.MaxBufferedRecords < 1 {
		errs = append(errs, fmt.Errorf("prediction-log.max-buffered-records: %d is not positive", c.MaxBufferedRecords))
	}
	if c.MaxRecordBytes < 1 {
		errs = append(errs, fmt.Errorf("prediction-log.max-record-bytes: %d is not positive", c.MaxRecordBytes))
	}
	if c.MaxBufferedBytes < int64(c.MaxRecordBytes) {
		errs = append(errs, fmt.Errorf("prediction-log.max-buffered-bytes: %d is less than prediction-log.max-record-bytes (%d)", c.MaxBufferedBytes, c.MaxRecordBytes))
	}
	if c.MaxInFlight < 1 {
		errs = append(errs, fmt.Errorf("prediction-log.max-in-flight: %d is not positive", c.MaxInFlight))
	}
	if c.SpillDir != "" {
		if c.SpillSegmentBytes < int64(c.MaxRecordBytes)+frameOverhead {
			errs = append(errs, fmt.Errorf("prediction-log.spill-segment-bytes: %d cannot hold a record of prediction-log.max-record-bytes (%d)", c.SpillSegmentBytes, c.MaxRecordBytes))
		}
		if c.SpillMaxBytes < c.SpillSegmentBytes {
			errs = append(errs, fmt.Errorf("prediction-log.spill-max-bytes: %d is less than one segment (%d)", c.SpillMaxBytes, c.SpillSegmentBytes))
		}
		if c.SpillSyncInterval < 0 {
			errs = append(errs, fmt.Errorf("prediction-log.spill-sync-interval: %v is negative", c.SpillSyncInterval))
		}
	}
	if c.DrainTimeout < 0 {
		errs = append(errs, fmt.Errorf("prediction-log.drain-timeout: %v is negative", c.DrainTimeout))
	}
	if c.AckInterval <= 0 {
		errs = append(errs, fmt.Errorf("prediction-log: ack interval %v is not positive", c.AckInterval))
	}
	if c.DropLogInterval <= 0 {
		errs = append(errs, fmt.Errorf("prediction-log: drop log interval %v is not positive", c.DropLogInterval))
	}
	return errors.Join(errs...)
}

// ProducerOpts are the options of the Kafka client the log produces with:
// acknowledgement by all in-sync replicas, idempotence (franz-go's
// default, kept, so that the client's own retries never duplicate), no
// delivery timeout and unlimited retries (franz-go's defaults, kept: the log
// holds a record until it is acknowledged, which keeps the order), and a
// linger that lets batches form, since no request waits for the log.
// maxRecordBytes is Config.MaxRecordBytes. The client must not set
// RecordDeliveryTimeout or RecordRetries: a record failed by them is sent
// again, possibly after later ones.
func ProducerOpts(maxRecordBytes int) []kgo.Opt {
	return []kgo.Opt{
		kgo.RequiredAcks(kgo.AllISRAcks()),
		kgo.ProducerLinger(10 * time.Millisecond),
		kgo.ProducerBatchMaxBytes(max(1<<20, int32(maxRecordBytes)+64<<10)),
		kgo.UnknownTopicRetries(-1),
	}
}

package model

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// ArtifactName is the object-store name of the artifact with the given hex
// sha256: artifacts are content-addressed, so equal artifacts are stored
// once.
func ArtifactName(sha256Hex string) string { return "sha256/" + sha256Hex }

// PutArtifact stores r in the object store bucket under its content address
// and returns that address. It reads r twice, once to hash it and once to
// upload it, so r must be seekable; memory stays bounded whatever the size
// (the object is uploaded in chunks).
//
// An object is never replaced while it may be read: the chunks go to a
// subject of their own and the object's metadata is written last, by
// compare-and-set on its subject, so of two uploads of the same artifact
// exactly one creates it and the other removes its own chunks and keeps the
// winner's copy. An object already stored under the address is read in full
// and kept when it has the expected content; a corrupted or deleted one is
// replaced (again by compare-and-set), so uploading the right bytes repairs
// a corrupted artifact.
func PutArtifact(ctx context.Context, js jetstream.JetStream, bucket string, r io.ReadSeeker) (Artifact, error) {
	h := sha256.New()
	size, err := io.Copy(h, r)
	if err != nil {
		return Artifact{}, fmt.Errorf("hash artifact: %w", err)
	}
	if size == 0 {
		return Artifact{}, Errorf(CodeInvalidRequest, "artifact is empty")
	}
	sum := h.Sum(nil)
	a := Artifact{SHA256: hex.EncodeToString(sum), Size: size}
	o, err := openObjects(ctx, js, bucket)
	if err != nil {
		return Artifact{}, err
	}
	name := ArtifactName(a.SHA256)
	for attempt := 0; attempt < 5; attempt++ {
		cur, seq, err := o.lastMeta(ctx, name)
		if err != nil {
			return Artifact{}, err
		}
		if cur != nil && !cur.Deleted && cur.Size == uint64(size) && cur.Digest == objectDigest(sum) {
			_, err := VerifyArtifact(ctx, o.obs, a.SHA256, size)
			if err == nil {
				return a, nil // stored already, intact
			}
			if !errors.Is(err, ErrArtifactCorrupt) {
				return Artifact{}, err
			}
			// Corrupted: replace it below.
		}
		if _, err := r.Seek(0, io.SeekStart); err != nil {
			return Artifact{}, fmt.Errorf("rewind artifact: %w", err)
		}
		err = o.put(ctx, name, seq, cur, r, a)
		if errors.Is(err, errObjectChanged) {
			continue // another upload wrote it meanwhile: look again
		}
		if err != nil {
			return Artifact{}, err
		}
		return a, nil
	}
	return Artifact{}, Errorf(CodeConflict, "artifact %s: concurrent uploads kept changing it, retry", a.SHA256)
}

// PutArtifactFile stores the file at path, as PutArtifact.
func PutArtifactFile(ctx context.Context, js jetstream.JetStream, bucket, path string) (a Artifact, err error) {
	f, err := os.Open(path)
	if err != nil {
		return Artifact{}, fmt.Errorf("open artifact: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close artifact: %w", cerr)
		}
	}()
	return PutArtifact(ctx, js, bucket, f)
}

// The object store's layout on its stream OBJ_<bucket> (as nats.go writes
// and reads it): an object's chunks on $O.<bucket>.C.<nuid>, its metadata
// (jetstream.ObjectInfo, the last message wins) on
// $O.<bucket>.M.<base64url(name)>.
const chunkSize = 128 << 10

// errObjectChanged is a lost compare-and-set on an object's metadata.
var errObjectChanged = errors.New("object changed meanwhile")

// objects is an object store bucket with the stream under it.
type objects struct {
	js     jetstream.JetStream
	bucket string
	stream jetstream.Stream
	obs    jetstream.ObjectStore
}

func openObjects(ctx context.Context, js jetstream.JetStream, bucket string) (*objects, error) {
	obs, err := js.ObjectStore(ctx, bucket)
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", bucket, err)
	}
	stream, err := js.Stream(ctx, "OBJ_"+bucket)
	if err != nil {
		return nil, fmt.Errorf("open object store %s: %w", bucket, err)
	}
	return &objects{js: js, bucket: bucket, stream: stream, obs: obs}, nil
}

func (o *objects) metaSubject(name string) string {
	return "$O." + o.bucket + ".M." + base64.URLEncoding.EncodeToString([]byte(name))
}

func (o *objects) chunkSubject(nuid string) string { return "$O." + o.bucket + ".C." + nuid }

// lastMeta returns an object's metadata (nil when there is none) and the
// stream sequence of that message (0 when there is none).
func (o *objects) lastMeta(ctx context.Context, name string) (*jetstream.ObjectInfo, uint64, error) {
	m, err := o.stream.GetLastMsgForSubject(ctx, o.metaSubject(name))
	if errors.Is(err, jetstream.ErrMsgNotFound) {
		return nil, 0, nil
	}
	if err != nil {
		return nil, 0, fmt.Errorf("look up artifact %s: %w", name, err)
	}
	var info jetstream.ObjectInfo
	if err := json.Unmarshal(m.Data, &info); err != nil {
		// Unreadable metadata: replace it like a corrupted object.
		return &jetstream.ObjectInfo{}, m.Sequence, nil
	}
	return &info, m.Sequence, nil
}

// put uploads r (whose expected address is a) as object name: the chunks on
// a fresh subject, then the metadata, published only if the metadata
// subject is still at prevSeq (0: no metadata). A lost compare-and-set
// removes the chunks and returns errObjectChanged; a replaced object's
// chunks are removed after the switch.
func (o *objects) put(ctx context.Context, name string, prevSeq uint64, prev *jetstream.ObjectInfo, r io.Reader, a Artifact) error {
	nuid := newID()
	subj := o.chunkSubject(nuid)
	purge := func() {
		// Also on a cancelled request: the chunks are useless.
		pctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 30*time.Second)
		defer cancel()
		_ = o.stream.Purge(pctx, jetstream.WithPurgeSubject(subj))
	}
	h := sha256.New()
	var (
		size    int64
		chunks  uint32
		pending []jetstream.PubAckFuture
	)
	// Wait for the oldest acks so that at most maxPending chunks are in
	// flight: throughput of a pipeline, memory of a window.
	const maxPending = 32
	wait := func(keep int) error {
		for len(pending) > keep {
			select {
			case <-pending[0].Ok():
			case err := <-pending[0].Err():
				return fmt.Errorf("upload artifact %s: %w", name, err)
			case <-ctx.Done():
				return fmt.Errorf("upload artifact %s: %w", name, ctx.Err())
			}
			pending = pending[1:]
		}
		return nil
	}
	buf := make([]byte, chunkSize)
	for {
		n, rerr := io.ReadFull(r, buf)
		if n > 0 {
			h.Write(buf[:n])
			m := nats.NewMsg(subj)
			m.Data = append([]byte(nil), buf[:n]...)
			f, err := o.js.PublishMsgAsync(m)
			if err != nil {
				purge()
				return fmt.Errorf("upload artifact %s: %w", name, err)
			}
			pending = append(pending, f)
			size += int64(n)
			chunks++
			if err := wait(maxPending); err != nil {
				purge()
				return err
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			purge()
			return fmt.Errorf("read artifact: %w", rerr)
		}
	}
	if err := wait(0); err != nil {
		purge()
		return err
	}
	if size != a.Size || hex.EncodeToString(h.Sum(nil)) != a.SHA256 {
		purge()
		return Errorf(CodeInvalidRequest, "artifact changed while it was uploaded")
	}
	info := jetstream.ObjectInfo{
		ObjectMeta: jetstream.ObjectMeta{Name: name, Description: "model artifact", Opts: &jetstream.ObjectMetaOptions{ChunkSize: chunkSize}},
		Bucket:     o.bucket, NUID: nuid, Size: uint64(size), Chunks: chunks,
		Digest: objectDigest(h.Sum(nil)),
	}
	b, err := json.Marshal(info)
	if err != nil {
		purge()
		return fmt.Errorf("encode artifact metadata: %w", err)
	}
	mm := nats.NewMsg(o.metaSubject(name))
	mm.Header.Set(jetstream.MsgRollup, jetstream.MsgRollupSubject)
	mm.Data = b
	if _, err := o.js.PublishMsg(ctx, mm, jetstream.WithExpectLastSequencePerSubject(prevSeq)); err != nil {
		purge()
		var apiErr *jetstream.APIError
		if errors.As(err, &apiErr) && (apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequence || apiErr.ErrorCode == jetstream.JSErrCodeStreamWrongLastSequenceConstant) {
			return errObjectChanged
		}
		return fmt.Errorf("upload artifact %s: write metadata: %w", name, err)
	}
	if prev != nil && prev.NUID != "" && prev.NUID != nuid {
		// The replaced (corrupted or deleted) object's chunks.
		_ = o.stream.Purge(ctx, jetstream.WithPurgeSubject(o.chunkSubject(prev.NUID)))
	}
	return nil
}

// SweepArtifactChunks removes the chunks in the object store bucket that no
// object's metadata refers to and whose newest chunk is older than
// olderThan: what an upload killed before it wrote the metadata (kill -9, a
// power cut) leaves behind. An upload in progress keeps writing chunks, so
// olderThan must be longer than the longest pause of an upload; its
// returns the number of chunk subjects removed.
func SweepArtifactChunks(ctx context.Context, js jetstream.JetStream, bucket string, olderThan time.Duration) (int, error) {
	o, err := openObjects(ctx, js, bucket)
	if err != nil {
		return 0, err
	}
	// The chunk subjects first: an object whose metadata is written after
	// this has chunks newer than olderThan, or is listed below.
	chunkSubjects, err := o.subjects(ctx, "$O."+bucket+".C.>")
	if err != nil {
		return 0, err
	}
	if len(chunkSubjects) == 0 {
		return 0, nil
	}
	metaSubjects, err := o.subjects(ctx, "$O."+bucket+".M.>")
	if err != nil {
		return 0, err
	}
	live := make(map[string]bool, len(metaSubjects))
	for _, s := range metaSubjects {
		m, err := o.stream.GetLastMsgForSubject(ctx, s)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("sweep object store %s: read %s: %w", bucket, s, err)
		}
		var info jetstream.ObjectInfo
		if json.Unmarshal(m.Data, &info) == nil && info.NUID != "" {
			live[o.chunkSubject(info.NUID)] = true
		}
	}
	removed := 0
	for _, s := range chunkSubjects {
		if live[s] {
			continue
		}
		m, err := o.stream.GetLastMsgForSubject(ctx, s)
		if errors.Is(err, jetstream.ErrMsgNotFound) {
			continue
		}
		if err != nil {
			return removed, fmt.Errorf("sweep object store %s: read %s: %w", bucket, s, err)
		}
		if time.Since(m.Time) < olderThan {
			continue // maybe an upload in progress
		}
		if err := o.stream.Purge(ctx, jetstream.WithPurgeSubject(s)); err != nil {
			return removed, fmt.Errorf("sweep object store %s: purge %s: %w", bucket, s, err)
		}
		removed++
	}
	return removed, nil
}

// subjects lists the subjects of the bucket's stream matching filter.
func (o *objects) subjects(ctx context.Context, filter string) ([]string, error) {
	info, err := o.stream.Info(ctx, jetstream.WithSubjectFilter(filter))
	if err != nil {
		return nil, fmt.Errorf("list %s: %w", filter, err)
	}
	out := make([]string, 0, len(info.State.Subjects))
	for s := range info.State.Subjects {
		out = append(out, s)
	}
	return out, nil
}

// objectDigest is the object store's form of a sha256 digest.
func objectDigest(sum []byte) string {
	return "SHA-256=" + base64.URLEncoding.EncodeToString(sum)
}

// OpenArtifact opens the artifact with the given hex sha256 for reading. The
// reader hashes what it returns; at the end it returns io.EOF only when the
// content has the expected sha256 and size, and ErrArtifactCorrupt
// otherwise. Callers that must not act on a corrupted artifact read it to
// io.EOF before using what they read (VerifyArtifact does). A missing
// artifact is ErrArtifactNotFound.
func OpenArtifact(ctx context.Context, obs jetstream.ObjectStore, sha256Hex string) (io.ReadCloser, int64, error) {
	if !sha256Pattern.MatchString(sha256Hex) {
		return nil, 0, Errorf(CodeInvalidRequest, "artifact sha256 %q: want 64 lowercase hex digits", sha256Hex)
	}
	name := ArtifactName(sha256Hex)
	res, err := obs.Get(ctx, name)
	if errors.Is(err, jetstream.ErrObjectNotFound) {
		return nil, 0, Errorf(CodeArtifactNotFound, "artifact %s is not in the object store", sha256Hex)
	}
	if err != nil {
		return nil, 0, fmt.Errorf("open artifact %s: %w", name, err)
	}
	info, err := res.Info()
	if err != nil {
		_ = res.Close()
		return nil, 0, fmt.Errorf("open artifact %s: %w", name, err)
	}
	return &verifyingReader{res: res, h: sha256.New(), want: sha256Hex, size: int64(info.Size)}, int64(info.Size), nil
}

// verifyingReader hashes what it reads and checks the sum at the end.
type verifyingReader struct {
	res  jetstream.ObjectResult
	h    hash.Hash
	want string
	size int64
	n    int64
	err  error // sticky end-of-stream verdict
}

func (r *verifyingReader) Read(p []byte) (int, error) {
	if r.err != nil {
		return 0, r.err
	}
	n, err := r.res.Read(p)
	r.h.Write(p[:n])
	r.n += int64(n)
	switch {
	case errors.Is(err, io.EOF):
		got := hex.EncodeToString(r.h.Sum(nil))
		if got != r.want || r.n != r.size {
			r.err = Errorf(CodeArtifactCorrupt, "artifact %s is corrupted: stored content has sha256 %s (%d bytes)", r.want, got, r.n)
			return n, r.err
		}
		r.err = io.EOF
	case errors.Is(err, jetstream.ErrDigestMismatch):
		r.err = Errorf(CodeArtifactCorrupt, "artifact %s is corrupted: the object store's digest does not match its chunks", r.want)
	case err != nil:
		return n, fmt.Errorf("read artifact %s: %w", r.want, err)
	}
	return n, r.err
}

func (r *verifyingReader) Close() error { return r.res.Close() }

// VerifyArtifact reads the whole artifact and checks its sha256 and, when
// size > 0, its size; it returns the stored size.
func VerifyArtifact(ctx context.Context, obs jetstream.ObjectStore, sha256Hex string, size int64) (int64, error) {
	rc, stored, err := OpenArtifact(ctx, obs, sha256Hex)
	if err != nil {
		return 0, err
	}
	defer rc.Close()
	if size > 0 && stored != size {
		return stored, Errorf(CodeInvalidRequest, "artifact %s has %d bytes, the request says %d", sha256Hex, stored, size)
	}
	if _, err := io.Copy(io.Discard, rc); err != nil {
		return stored, err
	}
	return stored, nil
}

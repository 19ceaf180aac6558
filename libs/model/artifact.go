package model

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"hash"
	"io"
	"os"

	"github.com/nats-io/nats.go/jetstream"
)

// ArtifactName is the object-store name of the artifact with the given hex
// sha256: artifacts are content-addressed, so equal artifacts are stored
// once.
func ArtifactName(sha256Hex string) string { return "sha256/" + sha256Hex }

// PutArtifact stores r in the object store under its content address and
// returns that address. It reads r twice, once to hash it and once to upload
// it, so r must be seekable; memory stays bounded whatever the size (the
// object store uploads in chunks). An object already stored under the
// address with the same size and digest is not uploaded again.
func PutArtifact(ctx context.Context, obs jetstream.ObjectStore, r io.ReadSeeker) (Artifact, error) {
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
	name := ArtifactName(a.SHA256)
	info, err := obs.GetInfo(ctx, name)
	switch {
	case err == nil && !info.Deleted && info.Size == uint64(size) && info.Digest == objectDigest(sum):
		return a, nil
	case err != nil && !errors.Is(err, jetstream.ErrObjectNotFound):
		return Artifact{}, fmt.Errorf("look up artifact %s: %w", name, err)
	}
	if _, err := r.Seek(0, io.SeekStart); err != nil {
		return Artifact{}, fmt.Errorf("rewind artifact: %w", err)
	}
	// Hash again while uploading: a reader that changed between the two
	// passes must not be stored under the first pass's address.
	h2 := sha256.New()
	info, err = obs.Put(ctx, jetstream.ObjectMeta{Name: name, Description: "model artifact"}, io.TeeReader(r, h2))
	if err != nil {
		return Artifact{}, fmt.Errorf("upload artifact %s: %w", name, err)
	}
	if info.Size != uint64(size) || hex.EncodeToString(h2.Sum(nil)) != a.SHA256 {
		_ = obs.Delete(ctx, name)
		return Artifact{}, Errorf(CodeInvalidRequest, "artifact changed while it was uploaded")
	}
	return a, nil
}

// PutArtifactFile stores the file at path, as PutArtifact.
func PutArtifactFile(ctx context.Context, obs jetstream.ObjectStore, path string) (a Artifact, err error) {
	f, err := os.Open(path)
	if err != nil {
		return Artifact{}, fmt.Errorf("open artifact: %w", err)
	}
	defer func() {
		if cerr := f.Close(); cerr != nil && err == nil {
			err = fmt.Errorf("close artifact: %w", cerr)
		}
	}()
	return PutArtifact(ctx, obs, f)
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

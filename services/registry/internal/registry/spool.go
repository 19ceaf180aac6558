package registry

import (
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"

	"github.com/tributary-ml/tributary/libs/model"
)

// spoolPattern names the spool files of uploads in the spool directory.
const spoolPattern = "tributary-registry-upload-*"

// spool is an upload's spool file, locked (flock) while its upload runs so
// that CleanSpool, in this or another process on the same directory, can
// tell a live upload's file from one a killed process left.
type spool struct{ f *os.File }

func createSpool(dir string) (*spool, error) {
	f, err := os.CreateTemp(dir, spoolPattern)
	if err != nil {
		return nil, fmt.Errorf("spool artifact: %w", err)
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		_ = f.Close()
		_ = os.Remove(f.Name())
		return nil, fmt.Errorf("spool artifact: lock %s: %w", f.Name(), err)
	}
	return &spool{f: f}, nil
}

// fill copies body into the file and returns its address. An error
// reading body is the request's (a *model.Error of body's, or
// invalid_request); an error writing the file is the registry's.
func (s *spool) fill(body io.Reader) (model.Artifact, error) {
	h := sha256.New()
	br := &bodyReader{r: body}
	n, err := io.Copy(io.MultiWriter(s.f, h), br)
	if err != nil {
		if br.err == nil {
			return model.Artifact{}, fmt.Errorf("spool artifact: %w", err)
		}
		var me *model.Error
		if errors.As(br.err, &me) {
			return model.Artifact{}, me
		}
		return model.Artifact{}, model.Errorf(model.CodeInvalidRequest, "artifact: reading the upload: %v", br.err)
	}
	if n == 0 {
		return model.Artifact{}, model.Errorf(model.CodeInvalidRequest, "artifact is empty")
	}
	return model.Artifact{SHA256: hex.EncodeToString(h.Sum(nil)), Size: n}, nil
}

// bodyReader records the error of the reader it wraps.
type bodyReader struct {
	r   io.Reader
	err error
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if err != nil && !errors.Is(err, io.EOF) {
		b.err = err
	}
	return n, err
}

// remove deletes the file (before unlocking it, by closing it: CleanSpool
// never sees it unlocked).
func (s *spool) remove() {
	_ = os.Remove(s.f.Name())
	_ = s.f.Close()
}

// CleanSpool removes the spool files in dir ("" for the system's temporary
// directory) that no running upload holds: those of a process that was
// killed mid-upload. It returns how many it removed.
func CleanSpool(dir string) (int, error) {
	if dir == "" {
		dir = os.TempDir()
	}
	paths, err := filepath.Glob(filepath.Join(dir, spoolPattern))
	if err != nil {
		return 0, fmt.Errorf("clean spool %s: %w", dir, err)
	}
	removed := 0
	var errs []error
	for _, p := range paths {
		ok, err := removeUnlocked(p)
		if err != nil {
			errs = append(errs, err)
		}
		if ok {
			removed++
		}
	}
	return removed, errors.Join(errs...)
}

func removeUnlocked(path string) (bool, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, fmt.Errorf("clean spool: %w", err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		return false, nil // an upload in progress holds it
	}
	if err := os.Remove(path); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return false, fmt.Errorf("clean spool: %w", err)
	}
	return true, nil
}

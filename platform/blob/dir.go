package blob

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
)

// Dir is a Store in a local directory: `jiayuan dev` keeps its photos under its data
// directory. Each object is one file at the key's path, its first line the content type and
// the rest the data; it is written to a temporary file and renamed into place, so a reader
// never sees half an object.
type Dir struct {
	root string
}

// NewDir returns a store in the directory root, creating it (readable by its owner only) if
// needed.
func NewDir(root string) (*Dir, error) {
	if root == "" {
		return nil, errors.New("blob: no directory")
	}
	abs, err := filepath.Abs(root)
	if err != nil {
		return nil, fmt.Errorf("blob: directory %s: %w", root, err)
	}
	if err := os.MkdirAll(abs, 0o700); err != nil {
		return nil, fmt.Errorf("blob: directory %s: %w", root, err)
	}
	return &Dir{root: abs}, nil
}

// Root is the store's directory.
func (d *Dir) Root() string { return d.root }

func (d *Dir) path(key string) (string, error) {
	if err := CheckKey(key); err != nil {
		return "", err
	}
	return filepath.Join(d.root, filepath.FromSlash(key)), nil
}

// Put implements Store.
func (d *Dir) Put(_ context.Context, key string, data []byte, contentType string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := checkContentType(contentType); err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".put-*")
	if err != nil {
		return fmt.Errorf("blob: put %s: %w", key, err)
	}
	_, werr := tmp.Write(append([]byte(contentType+"\n"), data...))
	if err := tmp.Close(); werr == nil {
		werr = err
	}
	if werr == nil {
		werr = os.Rename(tmp.Name(), p)
	}
	if werr != nil {
		_ = os.Remove(tmp.Name())
		return fmt.Errorf("blob: put %s: %w", key, werr)
	}
	return nil
}

// Get implements Store.
func (d *Dir) Get(_ context.Context, key string) (Object, error) {
	p, err := d.path(key)
	if err != nil {
		return Object{}, err
	}
	raw, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return Object{}, ErrNotFound
	}
	if err != nil {
		return Object{}, fmt.Errorf("blob: get %s: %w", key, err)
	}
	ct, data, ok := bytes.Cut(raw, []byte("\n"))
	if !ok {
		return Object{}, fmt.Errorf("blob: get %s: the file has no content type line", key)
	}
	return Object{Data: data, ContentType: string(ct)}, nil
}

// Delete implements Store.
func (d *Dir) Delete(_ context.Context, key string) error {
	p, err := d.path(key)
	if err != nil {
		return err
	}
	if err := os.Remove(p); err != nil && !errors.Is(err, fs.ErrNotExist) {
		return fmt.Errorf("blob: delete %s: %w", key, err)
	}
	return nil
}

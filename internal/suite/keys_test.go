package suite_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/jiayuan/jiayuan/internal/suite"
)

// TestLoadOrCreateKeys: `jiayuan dev` makes its data directory's key ring on first start,
// readable by its owner only, and reads the same ring on every later start.
func TestLoadOrCreateKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), suite.DevKeysFile)
	first, err := suite.LoadOrCreateKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	info, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	if info.Mode().Perm() != 0o600 {
		t.Errorf("key file mode %v, want 0600", info.Mode().Perm())
	}
	sealed, err := first.Seal("demands/x", []byte("13800000000"))
	if err != nil {
		t.Fatal(err)
	}
	again, err := suite.LoadOrCreateKeys(path)
	if err != nil {
		t.Fatal(err)
	}
	if got, err := again.Open("demands/x", sealed); err != nil || string(got) != "13800000000" {
		t.Fatalf("the second start's ring opened %q, %v: not the same ring", got, err)
	}
	if err := os.WriteFile(path, []byte("{}"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := suite.LoadOrCreateKeys(path); err == nil {
		t.Error("a broken key file was accepted (or replaced)")
	}
}

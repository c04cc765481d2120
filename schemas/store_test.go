package schemas

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"testing"
)

func loadAll(t *testing.T, s Store) []Event {
	t.Helper()
	var out []Event
	if err := s.Load(context.Background(), func(e Event) error { out = append(out, e); return nil }); err != nil {
		t.Fatalf("Load: %v", err)
	}
	return out
}

var storeEvents = []Event{
	{Kind: EventSchema, Subject: "a", Version: 1, ID: 1, Schema: `"string"`},
	{Kind: EventConfig, Subject: "a", Level: "FULL"},
	{Kind: EventDelete, Subject: "a", Versions: []int{1}, Permanent: false},
}

// The stores keep events in order across Append and Load, and refuse use
// after Close.
func TestStoresKeepEventsInOrder(t *testing.T) {
	ctx := context.Background()
	open := map[string]func(t *testing.T) Store{
		"memory": func(*testing.T) Store { return NewMemoryStore() },
		"file": func(t *testing.T) Store {
			s, err := OpenFileStore(filepath.Join(t.TempDir(), StoreFile))
			if err != nil {
				t.Fatal(err)
			}
			return s
		},
	}
	for name, open := range open {
		t.Run(name, func(t *testing.T) {
			s := open(t)
			for _, e := range storeEvents {
				if err := s.Append(ctx, e); err != nil {
					t.Fatalf("Append: %v", err)
				}
			}
			if got := loadAll(t, s); !reflect.DeepEqual(got, storeEvents) {
				t.Errorf("Load = %+v, want %+v", got, storeEvents)
			}
			if err := s.Close(); err != nil {
				t.Fatalf("Close: %v", err)
			}
			if err := s.Append(ctx, storeEvents[0]); !errors.Is(err, ErrStoreClosed) {
				t.Errorf("Append after Close = %v, want ErrStoreClosed", err)
			}
			if err := s.Close(); !errors.Is(err, ErrStoreClosed) {
				t.Errorf("second Close = %v, want ErrStoreClosed", err)
			}
		})
	}
}

func TestFileStoreReopens(t *testing.T) {
	path := filepath.Join(t.TempDir(), StoreFile)
	s, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range storeEvents {
		if err := s.Append(context.Background(), e); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	s, err = OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	if got := loadAll(t, s); !reflect.DeepEqual(got, storeEvents) {
		t.Errorf("after reopen Load = %+v, want %+v", got, storeEvents)
	}
	if s.Torn() != 0 {
		t.Errorf("Torn = %d for a clean log", s.Torn())
	}
}

// A crash during an append leaves a torn last line: it is cut off, the
// events before it survive, and appends continue on a clean line.
func TestFileStoreDropsTornTail(t *testing.T) {
	for name, tail := range map[string]string{
		"no newline":        `{"kind":"schema","subject":"b","ver`,
		"unreadable line":   "{\"kind\":\"sch\x00\x00\n",
		"zeroes, no kind":   "{}\n",
		"complete, no \\n ": `{"kind":"config","level":"NONE"}`,
	} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), StoreFile)
			good := `{"kind":"schema","subject":"a","version":1,"id":1,"schema":"\"string\""}` + "\n"
			if err := os.WriteFile(path, []byte(good+tail), 0o644); err != nil {
				t.Fatal(err)
			}
			s, err := OpenFileStore(path)
			if err != nil {
				t.Fatalf("OpenFileStore: %v", err)
			}
			if s.Torn() != int64(len(tail)) {
				t.Errorf("Torn = %d, want %d", s.Torn(), len(tail))
			}
			if got := loadAll(t, s); !reflect.DeepEqual(got, storeEvents[:1]) {
				t.Errorf("Load = %+v, want %+v", got, storeEvents[:1])
			}
			if err := s.Append(context.Background(), storeEvents[1]); err != nil {
				t.Fatal(err)
			}
			s.Close()
			s, err = OpenFileStore(path)
			if err != nil {
				t.Fatal(err)
			}
			defer s.Close()
			if got := loadAll(t, s); !reflect.DeepEqual(got, storeEvents[:2]) {
				t.Errorf("after append and reopen Load = %+v, want %+v", got, storeEvents[:2])
			}
		})
	}
}

// An unreadable line with events after it is corruption, not a torn
// append: the store refuses to open and leaves the file as it was.
func TestFileStoreRefusesCorruption(t *testing.T) {
	path := filepath.Join(t.TempDir(), StoreFile)
	content := `{"kind":"config","level":"FULL"}` + "\n" + "garbage\n" + `{"kind":"config","level":"NONE"}` + "\n"
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	_, err := OpenFileStore(path)
	var se *StoreError
	if !errors.As(err, &se) || !errors.Is(err, ErrCorruptStore) || se.Line != 2 || se.Path != path {
		t.Fatalf("OpenFileStore = %v, want *StoreError at line 2 wrapping ErrCorruptStore", err)
	}
	if b, _ := os.ReadFile(path); string(b) != content {
		t.Errorf("file changed to %q", b)
	}
}

func TestFileStoreIsExclusive(t *testing.T) {
	path := filepath.Join(t.TempDir(), StoreFile)
	s, err := OpenFileStore(path)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := OpenFileStore(path); !errors.Is(err, ErrStoreLocked) {
		t.Errorf("second OpenFileStore = %v, want ErrStoreLocked", err)
	}
	s.Close()
	s, err = OpenFileStore(path)
	if err != nil {
		t.Fatalf("OpenFileStore after Close: %v", err)
	}
	s.Close()
}

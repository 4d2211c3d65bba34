package sgnode

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// replay serves a recording for one test.
type replay struct {
	*Replay
	srv *httptest.Server
}

func newReplay(t *testing.T, entries []Entry, setup ...func(*Replay)) *replay {
	r := &replay{Replay: NewReplay(entries)}
	for _, f := range setup {
		f(r.Replay)
	}
	r.srv = httptest.NewServer(r.Replay)
	go r.Play()
	t.Cleanup(func() {
		r.Stop()
		r.srv.Close()
		for _, e := range r.Errors() {
			t.Error(e)
		}
	})
	return r
}

func replayFile(t *testing.T, path string) *replay {
	t.Helper()
	es, err := ReadRecording(path)
	if err != nil {
		t.Fatal(err)
	}
	return newReplay(t, es)
}

func (r *replay) addr() string { return strings.TrimPrefix(r.srv.URL, "http://") }

// recorded is the status-go commit the recordings in testdata come from.
const recorded = "testdata/c72f49132/"

// TestReplayExchange plays the story of exchange against the recording of
// a real status-backend run: login, send, signals, errors, and a signal
// stream that status-backend drops and the client resumes.
func TestReplayExchange(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	var replays []*replay
	start := func(name string) *Node {
		r := replayFile(t, recorded+name+".jsonl")
		replays = append(replays, r)
		n, err := Connect(ctx, name, r.addr(), nil)
		if err != nil {
			t.Fatal(err)
		}
		n.Signals.SetResume(20, 10*time.Millisecond)
		t.Cleanup(n.Close)
		return n
	}
	exchange(t, ctx, start, func(*Node) {}) // the replay drops the stream itself
	for _, r := range replays {
		if done, n := r.Done(); !done {
			t.Errorf("recording not played to its end: %d entries played", n)
		}
	}
}

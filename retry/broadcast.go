package retry

import "sync"

// broadcast wakes every waiting subscriber when new events committed.
type broadcast struct {
	mu     sync.Mutex
	ch     chan struct{}
	closed bool
}

func newBroadcast() *broadcast { return &broadcast{ch: make(chan struct{})} }

// wait returns a channel closed at the next publish (or at close).
func (b *broadcast) wait() <-chan struct{} {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.ch
}

func (b *broadcast) publish() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	close(b.ch)
	b.ch = make(chan struct{})
}

func (b *broadcast) close() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !b.closed {
		b.closed = true
		close(b.ch)
	}
}

func (b *broadcast) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

package retry

import "sync"

// Connectivity tells the Guard whether the device can reach the network.
// status-go learns this from the OS (its connection-change signal); the
// Waku transport derives it from its peer connections.
type Connectivity interface {
	// Online reports the state now.
	Online() bool
	// Changes delivers the state after each change. A slow reader may miss
	// intermediate values but always gets the latest one.
	Changes() <-chan bool
}

// Manual is a Connectivity the application sets, for example from
// status-go's connection-change signal.
type Manual struct {
	mu      sync.Mutex
	online  bool
	changes chan bool
}

// NewManual returns a Manual source in the given state.
func NewManual(online bool) *Manual {
	return &Manual{online: online, changes: make(chan bool, 1)}
}

// Set records the new state; a repeat of the current state changes nothing.
func (m *Manual) Set(online bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.online == online {
		return
	}
	m.online = online
	// Keep only the latest value in the one-slot channel.
	select {
	case <-m.changes:
	default:
	}
	m.changes <- online
}

// Online implements Connectivity.
func (m *Manual) Online() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.online
}

// Changes implements Connectivity.
func (m *Manual) Changes() <-chan bool { return m.changes }

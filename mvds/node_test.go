package mvds_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"

	"github.com/mvdsguard/mvdsguard/mvds"
	"github.com/mvdsguard/mvdsguard/mvds/memtransport"
)

const zapWarn = zapcore.WarnLevel

func TestTwoNodesExchangeMessagesInBothModes(t *testing.T) {
	for _, mode := range []struct {
		name string
		mode mvds.Mode
	}{{"batch", mvds.Batch}, {"interactive", mvds.Interactive}} {
		t.Run(mode.name, func(t *testing.T) {
			dir := t.TempDir()
			net := memtransport.New(1)
			a, b := peerID(1), peerID(2)
			g := groupID(1)
			hookA := newHookRecorder()
			inboxB := newInboxRecorder()
			na := startNode(t, net, openDB(t, dir, "a.db"), a, nil, mvds.WithMode(mode.mode), mvds.WithHook(hookA))
			defer na.Close()
			nb := startNode(t, net, openDB(t, dir, "b.db"), b, inboxB, mvds.WithMode(mode.mode))
			defer nb.Close()
			ctx := context.Background()
			if err := na.AddPeer(ctx, g, b); err != nil {
				t.Fatal(err)
			}
			if err := nb.AddPeer(ctx, g, a); err != nil {
				t.Fatal(err)
			}
			const n = 50
			var keys []stateKey
			for i := 0; i < n; i++ {
				id, err := na.Append(ctx, g, []byte(fmt.Sprintf("message %d", i)))
				if err != nil {
					t.Fatal(err)
				}
				keys = append(keys, stateKey{id, b})
			}
			eventually(t, 30*time.Second, "every message acknowledged", func() bool { return hookA.ackedCount(keys) == n })
			eventually(t, 10*time.Second, "every message handed to B's application", func() bool { return inboxB.distinct() == n })
			if d := inboxB.duplicates(); len(d) > 0 {
				t.Fatalf("%d messages were handed to the application twice", len(d))
			}
		})
	}
}

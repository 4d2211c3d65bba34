package signals

import (
	"context"
	"errors"
	"fmt"

	"github.com/mvdsguard/mvdsguard"
	"github.com/mvdsguard/mvdsguard/retry"
)

// API is the Guard's face for a GUI's RPC calls, named after status-go's
// wakuext methods so that its service can expose each one as it is:
// wakuext_retryMessage, wakuext_discardMessage, wakuext_pendingMessages.
// Arguments and results are JSON-shaped like status-go's: message ids as
// "0x…" strings, statuses in the event log's names.
//
// The desktop's Resend button calls wakuext_reSendChatMessage; for a message
// the Guard tracks, that method calls RetryMessage.
type API struct {
	g *retry.Guard
}

// NewAPI returns the API of g.
func NewAPI(g *retry.Guard) *API { return &API{g: g} }

// RetryMessage sends a failed message again with a fresh attempt budget, or
// a pending one now instead of at its next delay ("retry now" on a stalled
// request). The signals that follow: mvds.message.rescheduled (user_retry),
// then envelope.sent and mvds.message.sent for a failed chat message's first
// new attempt.
func (a *API) RetryMessage(ctx context.Context, messageID string) error {
	if err := byID(messageID, func(id string) error { return a.g.Retry(ctx, id) }); err != nil {
		return fmt.Errorf("retryMessage: %w", err)
	}
	return nil
}

// DiscardMessage stops a pending or failed message for good: the user's
// "cancel". Its mvds.message.discarded signal follows.
func (a *API) DiscardMessage(ctx context.Context, messageID string) error {
	if err := byID(messageID, func(id string) error { return a.g.Discard(ctx, id) }); err != nil {
		return fmt.Errorf("discardMessage: %w", err)
	}
	return nil
}

// PendingRequest selects messages for PendingMessages; the zero request
// selects every pending and failed message.
type PendingRequest struct {
	ChatID string         `json:"chatId,omitempty"`
	Flow   mvdsguard.Flow `json:"flow,omitempty"`
	Limit  int            `json:"limit,omitempty"`
}

// PendingMessages lists the pending and failed messages a GUI draws at
// start-up: their marks, stalled or not, attempts, retry buttons and each
// recipient's receipt. Marshalled, each is the JSON form of
// retry.MessageStatus (docs/events.md).
func (a *API) PendingMessages(ctx context.Context, req PendingRequest) ([]retry.MessageStatus, error) {
	if req.Limit < 0 {
		return nil, fmt.Errorf("pendingMessages: limit %d is negative", req.Limit)
	}
	out, err := a.g.Pending(ctx, retry.Filter{ChatID: req.ChatID, Flow: req.Flow, Limit: req.Limit})
	if err != nil {
		return nil, fmt.Errorf("pendingMessages: %w", err)
	}
	if out == nil {
		out = []retry.MessageStatus{}
	}
	return out, nil
}

// byID runs do on messageID and, when the ledger does not know that
// spelling, on status-go's ("0x", lower-case hex): its GUI may send a message
// id with another hex case than the one the Guard was given.
func byID(messageID string, do func(id string) error) error {
	err := do(messageID)
	if h := hexID(messageID); errors.Is(err, retry.ErrUnknownMessage) && h != messageID {
		return do(h)
	}
	return err
}

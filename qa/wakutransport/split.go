package wakutransport

import (
	"errors"
	"fmt"

	"github.com/status-im/mvds/protobuf"
	"google.golang.org/protobuf/proto"
)

// ErrTooLarge is returned by Send for a single mvds message that cannot fit
// in one Waku message even on its own.
var ErrTooLarge = errors.New("message exceeds the Waku message size")

// split cuts a payload into payloads whose encoding is at most limit bytes.
// mvds batches everything due for a peer into one payload per epoch — after
// a reconnect, hundreds of messages — while a Waku network refuses messages
// above its size limit; acks, offers, requests and messages are independent
// of each other, so any partition of them means the same to the receiver.
//
// Repeated protobuf fields encode as the concatenation of their elements, so
// a payload's size is the sum of the sizes of one-element payloads.
func split(p *protobuf.Payload, limit int) ([]*protobuf.Payload, error) {
	if proto.Size(p) <= limit {
		return []*protobuf.Payload{p}, nil
	}
	var (
		out  []*protobuf.Payload
		cur  = &protobuf.Payload{}
		size int
	)
	add := func(one *protobuf.Payload, into func(*protobuf.Payload)) error {
		n := proto.Size(one)
		if n > limit {
			return fmt.Errorf("%w: one element encodes to %d bytes, the limit is %d", ErrTooLarge, n, limit)
		}
		if size+n > limit {
			out = append(out, cur)
			cur, size = &protobuf.Payload{}, 0
		}
		into(cur)
		size += n
		return nil
	}
	for _, id := range p.Acks {
		if err := add(&protobuf.Payload{Acks: [][]byte{id}}, func(c *protobuf.Payload) { c.Acks = append(c.Acks, id) }); err != nil {
			return nil, err
		}
	}
	for _, id := range p.Offers {
		if err := add(&protobuf.Payload{Offers: [][]byte{id}}, func(c *protobuf.Payload) { c.Offers = append(c.Offers, id) }); err != nil {
			return nil, err
		}
	}
	for _, id := range p.Requests {
		if err := add(&protobuf.Payload{Requests: [][]byte{id}}, func(c *protobuf.Payload) { c.Requests = append(c.Requests, id) }); err != nil {
			return nil, err
		}
	}
	for _, o := range p.GroupOffers {
		if err := add(&protobuf.Payload{GroupOffers: []*protobuf.Offer{o}}, func(c *protobuf.Payload) { c.GroupOffers = append(c.GroupOffers, o) }); err != nil {
			return nil, err
		}
	}
	for _, m := range p.Messages {
		if err := add(&protobuf.Payload{Messages: []*protobuf.Message{m}}, func(c *protobuf.Payload) { c.Messages = append(c.Messages, m) }); err != nil {
			return nil, err
		}
	}
	if size > 0 {
		out = append(out, cur)
	}
	return out, nil
}

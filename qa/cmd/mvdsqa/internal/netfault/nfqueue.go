package netfault

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand"
	"sync"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// The userspace delayer: iptables sends the packets of a delayed path to an
// NFQUEUE; the delayer reads each packet's id (no payload is copied) and
// gives the kernel its accept verdict only after the packet's delay, drawn
// uniformly from delay ± jitter. Verdicts may be given out of order, so with
// jitter packets overtake each other, as with netem. It speaks the
// nfnetlink_queue protocol over a netlink socket opened inside the host's
// namespace (queues are per namespace).

// nfnetlink_queue constants (linux/netfilter/nfnetlink_queue.h).
const (
	nfnlSubsysQueue    = 3
	nfqnlMsgPacket     = 0
	nfqnlMsgVerdict    = 1
	nfqnlMsgConfig     = 2
	nfqaPacketHdr      = 1
	nfqaVerdictHdr     = 2
	nfqaCfgCmd         = 1
	nfqaCfgParams      = 2
	nfqaCfgQueueMaxLen = 3
	nfqaCfgMask        = 4
	nfqaCfgFlags       = 5
	nfqnlCfgCmdBind    = 1
	nfqnlCopyMeta      = 1
	nfqaCfgFFailOpen   = 1
	nfAccept           = 1
	// queueMaxLen is how many packets the kernel holds for the delayer; past
	// it, fail-open lets packets through undelayed rather than dropping them.
	queueMaxLen = 16384
)

// delayer holds back the packets of one queue.
type delayer struct {
	fd     int
	queue  uint16
	delay  time.Duration
	jitter time.Duration

	mu      sync.Mutex
	rng     *rand.Rand
	closed  bool
	pending sync.WaitGroup
	done    chan struct{}
	wmu     sync.Mutex // one verdict written at a time
	seq     uint32
}

// startDelayer binds queue in the named namespace and starts delaying.
func startDelayer(netns string, queue uint16, delay, jitter time.Duration) (*delayer, error) {
	fd, err := inNetns(netns, func() (int, error) {
		return unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC, unix.NETLINK_NETFILTER)
	})
	if err != nil {
		return nil, fmt.Errorf("nfqueue %d in %s: socket: %w", queue, netns, err)
	}
	d := &delayer{fd: fd, queue: queue, delay: delay, jitter: jitter, rng: rand.New(rand.NewSource(time.Now().UnixNano())), done: make(chan struct{})}
	if err := d.bind(); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("nfqueue %d in %s: %w", queue, netns, err)
	}
	go d.loop()
	return d, nil
}

func (d *delayer) bind() error {
	if err := unix.Bind(d.fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("bind: %w", err)
	}
	_ = unix.SetsockoptInt(d.fd, unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 8<<20)
	tv := unix.NsecToTimeval((200 * time.Millisecond).Nanoseconds())
	if err := unix.SetsockoptTimeval(d.fd, unix.SOL_SOCKET, unix.SO_RCVTIMEO, &tv); err != nil {
		return fmt.Errorf("receive timeout: %w", err)
	}
	// Without ENOBUFS reports a burst that overflows the socket is lost to
	// the kernel's fail-open, not to an error here.
	_ = unix.SetsockoptInt(d.fd, unix.SOL_NETLINK, unix.NETLINK_NO_ENOBUFS, 1)
	cmd := []byte{nfqnlCfgCmdBind, 0, 0, 0}
	if err := d.request(nfqnlMsgConfig, attr(nfqaCfgCmd, cmd)); err != nil {
		return fmt.Errorf("bind queue (is another delayer bound to it?): %w", err)
	}
	params := make([]byte, 5)
	binary.BigEndian.PutUint32(params, 0)
	params[4] = nfqnlCopyMeta
	maxLen := be32(queueMaxLen)
	return d.request(nfqnlMsgConfig, attr(nfqaCfgParams, params), attr(nfqaCfgQueueMaxLen, maxLen),
		attr(nfqaCfgMask, be32(nfqaCfgFFailOpen)), attr(nfqaCfgFlags, be32(nfqaCfgFFailOpen)))
}

func be32(v uint32) []byte {
	b := make([]byte, 4)
	binary.BigEndian.PutUint32(b, v)
	return b
}

// attr encodes one netlink attribute, padded to 4 bytes.
func attr(typ uint16, payload []byte) []byte {
	n := 4 + len(payload)
	b := make([]byte, (n+3)&^3)
	binary.LittleEndian.PutUint16(b[0:], uint16(n))
	binary.LittleEndian.PutUint16(b[2:], typ)
	copy(b[4:], payload)
	return b
}

// message encodes a nfnetlink message for this queue.
func (d *delayer) message(msgType uint16, flags uint16, attrs ...[]byte) []byte {
	size := unix.NLMSG_HDRLEN + 4
	for _, a := range attrs {
		size += len(a)
	}
	b := make([]byte, size)
	d.seq++
	binary.LittleEndian.PutUint32(b[0:], uint32(size))
	binary.LittleEndian.PutUint16(b[4:], nfnlSubsysQueue<<8|msgType)
	binary.LittleEndian.PutUint16(b[6:], flags)
	binary.LittleEndian.PutUint32(b[8:], d.seq)
	// nfgenmsg: family AF_UNSPEC, version 0, resource id = queue (big endian)
	binary.BigEndian.PutUint16(b[unix.NLMSG_HDRLEN+2:], d.queue)
	off := unix.NLMSG_HDRLEN + 4
	for _, a := range attrs {
		off += copy(b[off:], a)
	}
	return b
}

// request sends a configuration message and waits for its acknowledgement.
func (d *delayer) request(msgType uint16, attrs ...[]byte) error {
	d.wmu.Lock()
	msg := d.message(msgType, unix.NLM_F_REQUEST|unix.NLM_F_ACK, attrs...)
	seq := d.seq
	d.wmu.Unlock()
	if err := unix.Sendto(d.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return err
	}
	buf := make([]byte, 1<<16)
	for i := 0; i < 50; i++ {
		n, _, err := unix.Recvfrom(d.fd, buf, 0)
		if err != nil {
			return fmt.Errorf("no acknowledgement: %w", err)
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return err
		}
		for _, m := range msgs {
			if m.Header.Type == unix.NLMSG_ERROR && m.Header.Seq == seq && len(m.Data) >= 4 {
				if code := int32(binary.LittleEndian.Uint32(m.Data)); code != 0 {
					return unix.Errno(-code)
				}
				return nil
			}
		}
	}
	return errors.New("no acknowledgement")
}

func (d *delayer) loop() {
	defer close(d.done)
	buf := make([]byte, 1<<16)
	for {
		d.mu.Lock()
		closed := d.closed
		d.mu.Unlock()
		if closed {
			return
		}
		n, _, err := unix.Recvfrom(d.fd, buf, 0)
		if err != nil {
			if errors.Is(err, unix.EAGAIN) || errors.Is(err, unix.EINTR) || errors.Is(err, unix.ENOBUFS) {
				continue
			}
			return
		}
		msgs, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			continue
		}
		for _, m := range msgs {
			if m.Header.Type != nfnlSubsysQueue<<8|nfqnlMsgPacket || len(m.Data) < 4 {
				continue
			}
			if id, ok := packetID(m.Data[4:]); ok {
				d.hold(id)
			}
		}
	}
}

// packetID finds NFQA_PACKET_HDR among a packet message's attributes.
func packetID(b []byte) (uint32, bool) {
	for len(b) >= 4 {
		l := int(binary.LittleEndian.Uint16(b))
		typ := binary.LittleEndian.Uint16(b[2:]) & 0x3fff
		if l < 4 || l > len(b) {
			return 0, false
		}
		if typ == nfqaPacketHdr && l >= 8 {
			return binary.BigEndian.Uint32(b[4:]), true
		}
		b = b[(l+3)&^3:]
	}
	return 0, false
}

func (d *delayer) hold(id uint32) {
	d.mu.Lock()
	wait := d.delay
	if d.jitter > 0 {
		wait += time.Duration(d.rng.Int63n(int64(2*d.jitter)+1)) - d.jitter
	}
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.pending.Add(1)
	d.mu.Unlock()
	if wait < 0 {
		wait = 0
	}
	time.AfterFunc(wait, func() {
		defer d.pending.Done()
		v := make([]byte, 8)
		binary.BigEndian.PutUint32(v, nfAccept)
		binary.BigEndian.PutUint32(v[4:], id)
		d.wmu.Lock()
		msg := d.message(nfqnlMsgVerdict, unix.NLM_F_REQUEST, attr(nfqaVerdictHdr, v))
		d.wmu.Unlock()
		_ = unix.Sendto(d.fd, msg, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK})
	})
}

// close stops delaying: the packets already held get their verdicts when
// their delay ends, then the queue is unbound by closing its socket (the
// iptables rule's bypass lets later packets through).
func (d *delayer) close() {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	d.mu.Unlock()
	d.pending.Wait()
	<-d.done
	unix.Close(d.fd)
}

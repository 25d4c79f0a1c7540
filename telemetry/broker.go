package telemetry

import "sync"

// The channels a collector may subscribe to.
const (
	ChannelUsage  = "usage"
	ChannelErrors = "errors"
)

// SupportRefresh is the first message a usage subscriber receives, as the
// seed's collectors expect it.
const SupportRefresh = `{"support_refresh":true}`

// subscriberBuffer is how many messages a subscriber may fall behind
// before it is dropped.
const subscriberBuffer = 256

// Message is one message published on a channel.
type Message struct {
	Channel string
	Payload []byte
}

// Broker fans messages out to subscribers without ever waiting for one: a
// subscriber whose buffer is full is dropped (its Gone channel closes).
// Safe for concurrent use.
type Broker struct {
	mu   sync.Mutex
	subs map[*Subscriber]struct{}
}

// Subscriber receives the messages of the channels it subscribed to.
type Subscriber struct {
	// C delivers the messages in the order they were published.
	C chan Message

	b        *Broker
	channels map[string]bool // guarded by b.mu
	gone     chan struct{}
	dropped  bool // guarded by b.mu
}

// NewSubscriber registers a subscriber of no channel yet.
func (b *Broker) NewSubscriber() *Subscriber {
	s := &Subscriber{C: make(chan Message, subscriberBuffer), b: b, channels: make(map[string]bool), gone: make(chan struct{})}
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.subs == nil {
		b.subs = make(map[*Subscriber]struct{})
	}
	b.subs[s] = struct{}{}
	return s
}

// Subscribe adds channel to s's and returns how many s has. A usage
// subscriber first receives SupportRefresh.
func (s *Subscriber) Subscribe(channel string) int {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	if !s.channels[channel] && !s.dropped {
		s.channels[channel] = true
		if channel == ChannelUsage {
			s.sendLocked(Message{Channel: channel, Payload: []byte(SupportRefresh)})
		}
	}
	return len(s.channels)
}

// Unsubscribe removes channel from s's and returns how many s has left.
func (s *Subscriber) Unsubscribe(channel string) int {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	delete(s.channels, channel)
	return len(s.channels)
}

// Channels lists s's channels.
func (s *Subscriber) Channels() []string {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	out := make([]string, 0, len(s.channels))
	for _, c := range []string{ChannelUsage, ChannelErrors} {
		if s.channels[c] {
			out = append(out, c)
		}
	}
	return out
}

// Gone is closed when s was dropped for falling behind, or closed.
func (s *Subscriber) Gone() <-chan struct{} { return s.gone }

// Close ends s.
func (s *Subscriber) Close() {
	s.b.mu.Lock()
	defer s.b.mu.Unlock()
	s.dropLocked()
}

// Publish hands payload to every subscriber of channel and returns how
// many got it. It never blocks.
func (b *Broker) Publish(channel string, payload []byte) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for s := range b.subs {
		if s.channels[channel] && s.sendLocked(Message{Channel: channel, Payload: payload}) {
			n++
		}
	}
	return n
}

// Subscribers is how many subscribers channel has.
func (b *Broker) Subscribers(channel string) int {
	b.mu.Lock()
	defer b.mu.Unlock()
	n := 0
	for s := range b.subs {
		if s.channels[channel] {
			n++
		}
	}
	return n
}

func (s *Subscriber) sendLocked(m Message) bool {
	select {
	case s.C <- m:
		return true
	default:
		s.dropLocked()
		return false
	}
}

func (s *Subscriber) dropLocked() {
	if s.dropped {
		return
	}
	s.dropped = true
	delete(s.b.subs, s)
	clear(s.channels)
	close(s.gone)
}

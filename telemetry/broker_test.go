package telemetry

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestUsageSubscriberGetsSupportRefreshFirst(t *testing.T) {
	var b Broker
	s := b.NewSubscriber()
	defer s.Close()
	assert.Equal(t, 1, s.Subscribe(ChannelUsage))
	assert.Equal(t, 2, s.Subscribe(ChannelErrors))
	assert.Equal(t, 1, b.Publish(ChannelUsage, []byte(`{"n":1}`)))
	assert.Equal(t, 1, b.Publish(ChannelErrors, []byte(`{"e":1}`)))
	assert.Equal(t, Message{ChannelUsage, []byte(SupportRefresh)}, <-s.C)
	assert.Equal(t, Message{ChannelUsage, []byte(`{"n":1}`)}, <-s.C)
	assert.Equal(t, Message{ChannelErrors, []byte(`{"e":1}`)}, <-s.C)

	assert.Equal(t, 1, s.Unsubscribe(ChannelUsage))
	assert.Equal(t, 0, b.Publish(ChannelUsage, []byte(`{"n":2}`)))
	assert.Equal(t, []string{ChannelErrors}, s.Channels())
}

func TestSlowSubscriberIsDroppedWithoutBlocking(t *testing.T) {
	var b Broker
	slow, fast := b.NewSubscriber(), b.NewSubscriber()
	slow.Subscribe(ChannelErrors)
	fast.Subscribe(ChannelErrors)
	// both buffers fill; the fast subscriber then reads its messages, the
	// slow one never does
	for range subscriberBuffer {
		require.Equal(t, 2, b.Publish(ChannelErrors, []byte(`{}`)))
	}
	for range subscriberBuffer {
		<-fast.C
	}
	done := make(chan int)
	go func() { done <- b.Publish(ChannelErrors, []byte(`{"last":true}`)) }()
	select {
	case n := <-done:
		assert.Equal(t, 1, n, "only the subscriber that keeps up gets the message")
	case <-time.After(5 * time.Second):
		t.Fatal("publishing waited for a subscriber that does not read")
	}
	select {
	case <-slow.Gone():
	default:
		t.Fatal("the subscriber that fell behind was not dropped")
	}
	assert.Equal(t, Message{ChannelErrors, []byte(`{"last":true}`)}, <-fast.C)
	assert.Equal(t, 1, b.Subscribers(ChannelErrors))
}

package cliproxy

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/caddy-cliproxy/cliproxy/selector"
)

// The thresholds default to 0.9 and 0.98, "off" turns placement off, and
// a move threshold below the placement one is refused.
func TestQuotaThresholds(t *testing.T) {
	h, err := parse(t, "cliproxy {\n}")
	require.NoError(t, err)
	assert.Equal(t, &selector.Quota{Threshold: 0.9, MoveThreshold: 0.98}, h.quota())

	h, err = parse(t, "cliproxy {\n\tquota_threshold 0.8\n\tquota_move_threshold 0.95\n}")
	require.NoError(t, err)
	assert.Equal(t, &selector.Quota{Threshold: 0.8, MoveThreshold: 0.95}, h.quota())
	require.NoError(t, h.validateQuota())

	h, err = parse(t, "cliproxy {\n\tquota_threshold off\n}")
	require.NoError(t, err)
	assert.Nil(t, h.quota())

	h, err = parse(t, "cliproxy {\n\tquota_threshold 0.9\n\tquota_move_threshold 0.5\n}")
	require.NoError(t, err)
	assert.ErrorContains(t, h.validateQuota(), "quota_move_threshold (0.5) must not be below quota_threshold (0.9)")
}

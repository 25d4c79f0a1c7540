package cliproxy

import (
	"fmt"

	"github.com/caddy-cliproxy/cliproxy/selector"
)

// quota is the placement filter the thresholds configure; nil when
// quota_threshold is off.
func (h *Handler) quota() *selector.Quota {
	q := &selector.Quota{Threshold: selector.DefaultQuotaThreshold, MoveThreshold: selector.DefaultQuotaMoveThreshold}
	if h.QuotaThreshold != nil {
		q.Threshold = *h.QuotaThreshold
	}
	if h.QuotaMoveThreshold != nil {
		q.MoveThreshold = *h.QuotaMoveThreshold
	}
	if q.Threshold <= 0 {
		return nil
	}
	return q
}

// validateQuota checks the thresholds: fractions, the move threshold not
// below the placement one.
func (h *Handler) validateQuota() error {
	for name, v := range map[string]*float64{"quota_threshold": h.QuotaThreshold, "quota_move_threshold": h.QuotaMoveThreshold} {
		if v != nil && (*v < 0 || *v > 1 || *v != *v) {
			return fmt.Errorf("%s must be a fraction between 0 and 1, got %v", name, *v)
		}
	}
	if q := h.quota(); q != nil && q.MoveThreshold < q.Threshold {
		return fmt.Errorf("quota_move_threshold (%v) must not be below quota_threshold (%v)", q.MoveThreshold, q.Threshold)
	}
	return nil
}

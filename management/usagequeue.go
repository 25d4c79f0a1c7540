package management

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// UsageQueue is the pool's usage queue, as collectors drain it.
type UsageQueue interface {
	// PopUsage removes and returns up to n of the oldest usage records,
	// each a JSON object.
	PopUsage(ctx context.Context, n int) ([]json.RawMessage, error)
}

// maxUsagePop bounds the records one GET usage-queue pops.
const maxUsagePop = 10000

// popUsage answers GET usage-queue[?count=N]: a JSON array of up to N
// (default 1) of the oldest usage records, popped as RESP's LPOP usage N
// pops them; [] when the queue is empty.
func popUsage(w http.ResponseWriter, r *http.Request, b Backend) error {
	n := 1
	if raw := r.URL.Query().Get("count"); raw != "" {
		v, err := strconv.Atoi(raw)
		if err != nil || v < 1 || v > maxUsagePop {
			return newError(http.StatusBadRequest, CodeBadRequest, fmt.Sprintf("count must be an integer from 1 to %d", maxUsagePop))
		}
		n = v
	}
	ctx, cancel := context.WithTimeout(r.Context(), 5*time.Second)
	defer cancel()
	recs, err := b.PopUsage(ctx, n)
	if err != nil {
		return newError(http.StatusServiceUnavailable, CodeInternal, "the usage queue is unavailable")
	}
	if recs == nil {
		recs = []json.RawMessage{}
	}
	WriteJSON(w, http.StatusOK, recs)
	return nil
}

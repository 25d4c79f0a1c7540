package executor

import (
	"net/http"
	"testing"

	"github.com/caddy-cliproxy/cliproxy/auth"
)

// discardWriter is a client that takes every byte and keeps none.
type discardWriter struct{ h http.Header }

func (d *discardWriter) Header() http.Header         { return d.h }
func (d *discardWriter) WriteHeader(int)             {}
func (d *discardWriter) Write(p []byte) (int, error) { return len(p), nil }

// What scrubbing costs per piece of a stream: nothing for a success, which
// is passed as it is; a search for each secret, and the copy of the piece,
// for an error. Compare the two lines of one run.
func BenchmarkAttemptWriterPieces(b *testing.B) {
	piece := []byte("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":0,\"delta\":{\"type\":\"text_delta\",\"text\":\"a few words of the answer\"}}\n\n")
	ac := &attemptCredential{cred: &auth.Credential{APIKey: "sk-ant-api03-0123456789abcdefghijklmnopqrstuvwxyz-secret"}}
	for _, bc := range []struct {
		name   string
		status int
	}{{"success", http.StatusOK}, {"error scrubbed", http.StatusBadRequest}} {
		b.Run(bc.name, func(b *testing.B) {
			aw := newAttemptWriter(&discardWriter{h: make(http.Header)}, false)
			aw.ac = ac
			aw.WriteHeader(bc.status)
			b.SetBytes(int64(len(piece)))
			for b.Loop() {
				if _, err := aw.Write(piece); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

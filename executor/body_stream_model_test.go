package executor

import (
	"encoding/json"
	"io"
	"os"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// pieceReader hands out data n bytes per read, as a client's upload
// arrives in pieces.
type pieceReader struct {
	data []byte
	n    int
}

func (r *pieceReader) Read(p []byte) (int, error) {
	if len(r.data) == 0 {
		return 0, io.EOF
	}
	k := copy(p[:min(len(p), r.n)], r.data)
	r.data = r.data[k:]
	return k, nil
}

// sendStreamed opens data as a body sent while it arrives, n bytes per
// read, and reads the first attempt's reader to its end.
func sendStreamed(t *testing.T, data []byte, n int) (sent []byte, streamed bool, err error) {
	t.Helper()
	r := bodyRequest(nil, "", true)
	r.Body = io.NopCloser(&pieceReader{data: data, n: n})
	b, err := openBody(nil, r, bodyConfig{limit: 8 << 20}, streamFound)
	if err != nil {
		return nil, false, err
	}
	defer b.release()
	rd := b.reader()
	defer rd.Close()
	sent, err = io.ReadAll(rd)
	return sent, b.src != nil, err
}

// A second top-level model anywhere in a streamed body stops it, however
// it is spelled and wherever the reads split it; "model" elsewhere (a
// nested key, a value, escaped text) does not.
func TestStreamedBodyCatchesEverySecondModel(t *testing.T) {
	filler := `{"role":"user","content":"` + strings.Repeat(`say \"model\" and the model\n`, 4000) + `"}`
	body := func(tail string) []byte {
		return []byte(`{"model":"cheap","messages":[` + filler + `,{"role":"assistant","content":[{"type":"tool_use","input":{"model":"x"}}]},` + filler + `]` + tail + `}`)
	}
	cases := []struct {
		name  string
		tail  string
		twice bool
	}{
		{"none", `,"stream":true,"note":"model"`, false},
		{"plain", `,"model":"expensive"`, true},
		{"escaped", `,"mod\u0065l":"expensive"`, true},
		{"all escaped", `,"\u006D\u006f\u0064\u0065\u006C":"expensive"`, true},
		{"spaced", `, "model" : "expensive"`, true},
	}
	for _, tc := range cases {
		data := body(tc.tail)
		require.Greater(t, len(data), 2*streamPrefix)
		for _, n := range []int{1 << 10, 4093, 32 << 10} {
			sent, streamed, err := sendStreamed(t, data, n)
			require.True(t, streamed, "%s: the body was not streamed", tc.name)
			if tc.twice {
				assert.ErrorIs(t, err, errModelTwice, "%s, reads of %d", tc.name, n)
				assert.Less(t, len(sent), len(data), "%s, reads of %d: the whole body went on", tc.name, n)
				continue
			}
			require.NoError(t, err, "%s, reads of %d", tc.name, n)
			assert.Equal(t, data, sent, "%s, reads of %d", tc.name, n)
		}
	}
}

// The streamed body and bodyModel agree on every valid JSON body: the
// stream fails with errModelTwice exactly when bodyModel refuses it.
func FuzzStreamedBodyModel(f *testing.F) {
	for _, tc := range modelScanCases {
		f.Add([]byte(tc.body), 3)
	}
	f.Add([]byte(`{"model":"a","x":"the model","y":{"model":"b"},"mo\u0064el":"c"}`), 5)
	f.Fuzz(func(t *testing.T, data []byte, n int) {
		if n <= 0 || n > 64 || !json.Valid(data) {
			return
		}
		_, wantErr := bodyModel(data)
		sent, streamed, err := sendStreamed(t, data, n)
		if !streamed {
			return
		}
		if wantErr != nil {
			if err == nil {
				t.Fatalf("streamed %q whole; bodyModel refuses it", data)
			}
			return
		}
		if err != nil {
			t.Fatalf("stream of %q failed: %v", data, err)
		}
		if string(sent) != string(data) {
			t.Fatalf("sent %q of %q", sent, data)
		}
	})
}

// A streamed body past the budget goes to its spool file as it arrives:
// the first attempt gets it whole, the file holds every byte once the
// body has arrived (writes are gathered, none is left behind), and a
// replay reads it byte for byte.
func TestStreamedBodySpoolsWhole(t *testing.T) {
	dir := t.TempDir()
	data := []byte(`{"model":"m","messages":"` + strings.Repeat("0123456789abcdef", 70001) + `"}`)
	for _, n := range []int{1000, 32 << 10, 100 << 10} {
		r := bodyRequest(nil, "", true)
		r.Body = io.NopCloser(&pieceReader{data: data, n: n})
		b, err := openBody(nil, r, bodyConfig{limit: 8 << 20, budget: NewBodyBudget(-1), dir: dir}, streamFound)
		require.NoError(t, err)
		require.NotNil(t, b.src)
		first := b.reader()
		sent, err := io.ReadAll(first)
		require.NoError(t, err)
		require.NoError(t, first.Close())
		assert.Equal(t, data, sent, "reads of %d: the first attempt", n)
		require.True(t, b.raw.spooled())
		files := spoolFiles(t, dir)
		require.Len(t, files, 1)
		fi, err := os.Stat(files[0])
		require.NoError(t, err)
		assert.Equal(t, int64(len(data)), fi.Size(), "reads of %d: the spool file once the body arrived", n)
		require.NoError(t, b.ready(false))
		replay := b.reader()
		again, err := io.ReadAll(replay)
		require.NoError(t, err)
		require.NoError(t, replay.Close())
		assert.Equal(t, data, again, "reads of %d: the replay", n)
		b.release()
		assert.Empty(t, spoolFiles(t, dir))
	}
}

// A body let go mid-upload leaves bytes in its spool file's stage; the
// next spooled body must not begin with them.
func TestSpooledBodyAfterOneLetGoMidUpload(t *testing.T) {
	dir := t.TempDir()
	cfg := bodyConfig{limit: 8 << 20, budget: NewBodyBudget(-1), dir: dir}
	for range 3 {
		u := newSlowUpload([]byte(`{"model":"m","messages":"`+strings.Repeat("x", 40<<10)), -1)
		b, err := openBody(nil, u.r, cfg, streamFound)
		require.NoError(t, err)
		require.True(t, b.raw.spooled())
		b.release()
		close(u.next)
	}
	data := []byte(`{"model":"m","messages":"` + strings.Repeat("0123456789abcdef", 20000) + `"}`)
	b, err := readBody(nil, bodyRequest(data, "", true), cfg)
	require.NoError(t, err)
	defer b.release()
	require.True(t, b.raw.spooled())
	rd := b.reader()
	defer rd.Close()
	got, err := io.ReadAll(rd)
	require.NoError(t, err)
	assert.Equal(t, string(data[:64]), string(got[:64]), "the body begins with another's bytes")
	assert.Equal(t, data, got)
}

// The scan that follows a streamed body notes its top-level "stream", as
// upstream parsers read it (the last one), wherever it is and however the
// reads split it; a nested "stream" is not the request's.
func TestModelScanNotesStream(t *testing.T) {
	cases := []struct {
		body string
		want bool
	}{
		{`{"model":"m","messages":[],"stream":true}`, true},
		{`{"stream" : true,"model":"m"}`, true},
		{`{"model":"m","stream":false}`, false},
		{`{"model":"m","x":{"stream":true}}`, false},
		{`{"model":"m","messages":[{"stream":true}],"str\u0065am":true}`, true},
		{`{"model":"m","stream":true,"stream":false}`, false},
		{`{"model":"m","note":"\"stream\":true"}`, false},
	}
	for _, tc := range cases {
		for _, n := range []int{1, 3, 64} {
			m, err := scanInPieces([]byte(tc.body), n)
			require.NoError(t, err, tc.body)
			assert.Equal(t, tc.want, m.stream, "%s in reads of %d", tc.body, n)
		}
	}
}

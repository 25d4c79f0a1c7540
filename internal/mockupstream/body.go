package mockupstream

import (
	"bytes"
	"compress/gzip"
	"compress/zlib"
	"fmt"
	"io"
	"strings"

	"github.com/klauspost/compress/zstd"
)

// decodeBody undoes the Content-Encoding of a request body. Codings are
// listed in the order they were applied, so they are undone from last to
// first; "identity" is a no-op. An unsupported coding or corrupt data is an
// error.
func decodeBody(contentEncoding string, raw []byte) ([]byte, error) {
	codings := strings.Split(contentEncoding, ",")
	body := raw
	for i := len(codings) - 1; i >= 0; i-- {
		coding := strings.ToLower(strings.TrimSpace(codings[i]))
		var err error
		switch coding {
		case "", "identity":
			continue
		case "gzip", "x-gzip":
			body, err = gunzip(body)
		case "zstd":
			body, err = unzstd(body)
		case "deflate":
			body, err = inflate(body)
		default:
			return nil, fmt.Errorf("unsupported Content-Encoding %q", coding)
		}
		if err != nil {
			return nil, fmt.Errorf("decoding %s request body: %w", coding, err)
		}
	}
	return body, nil
}

func gunzip(b []byte) ([]byte, error) {
	zr, err := gzip.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return readLimited(zr)
}

func inflate(b []byte) ([]byte, error) {
	zr, err := zlib.NewReader(bytes.NewReader(b))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return readLimited(zr)
}

func unzstd(b []byte) ([]byte, error) {
	zr, err := zstd.NewReader(bytes.NewReader(b), zstd.WithDecoderConcurrency(1))
	if err != nil {
		return nil, err
	}
	defer zr.Close()
	return readLimited(zr)
}

// readLimited reads a decompressed body, refusing one that inflates past
// maxBodyBytes.
func readLimited(r io.Reader) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, maxBodyBytes+1))
	if err != nil {
		return nil, err
	}
	if len(b) > maxBodyBytes {
		return nil, fmt.Errorf("decoded body exceeds %d bytes", maxBodyBytes)
	}
	return b, nil
}

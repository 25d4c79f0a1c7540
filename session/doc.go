// Package session finds the conversation a request belongs to, so the
// gateway can keep a conversation on one credential and its prompt cache.
//
// IDs are typed by the source they came from, so an ID taken from one
// header can never collide with the same text found elsewhere. The package
// has no dependency on Caddy.
package session

// Package format reads and writes wsproxy recordings (.wsrec files): a
// timestamped, zstd-compressed, hash-chained log of the WebSocket messages
// that crossed one proxied session. The byte layout is specified in SPEC.md
// in this directory.
//
// format is the leaf of the module: it imports only the standard library and
// github.com/klauspost/compress.
package format

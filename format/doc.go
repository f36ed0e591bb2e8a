// Package format reads and writes wsproxy recordings (.wsrec files): a
// timestamped, zstd-compressed, hash-chained log of the WebSocket messages
// that crossed one proxied session. The byte layout is specified in SPEC.md
// in this directory.
//
// Version 2 files may be encrypted to age recipients (filippo.io/age);
// their hash chain, BLAKE3 by default, covers the ciphertext, so that
// Verify needs no key. BLAKE3 is computed by lukechampine.com/blake3's
// AVX-512 kernel on CPUs that have AVX-512, and by github.com/zeebo/blake3
// otherwise (see newBLAKE3).
//
// format is the leaf of the module: it imports only the standard library,
// golang.org/x/crypto's primitives through age, and the three libraries
// the format is made of: github.com/klauspost/compress (zstd), the two
// BLAKE3 implementations (with golang.org/x/sys/cpu to choose) and
// filippo.io/age.
package format

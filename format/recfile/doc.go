// Package recfile opens a session recording in either of the formats wsproxy
// reads, telling them apart by their first bytes, and reads it as one stream
// of format.Records in constant memory:
//
//   - wsproxy's own format, wsrec (package format, specified in
//     format/SPEC.md);
//   - websockify's --record text files (package format/websockify), whose
//     frames become KindMessage records of type Binary, with Dir from the
//     frame's direction and Time from its milliseconds.
//
// websockify stamps frames with wall-clock milliseconds, which go backwards
// (even below zero) when the recorder's clock is stepped. A wsrec recording
// never goes back in time, so such a frame is read at the time of the
// previous record (zero for the first), preceded by a KindMarker record at
// that time saying which time it had. Export writes the original time back.
//
// Import copies the records of a File of either format into a
// format.Writer (the import of a websockify file as a sealed wsrec one) and
// Export writes a recording's messages as a websockify file, so that
// websockify → wsrec → websockify reproduces a recording in websockify's
// current format byte for byte.
//
// A recording that ends early (an unsealed wsrec file, a websockify file
// without its 'EOF'] trailer) is read to its last complete record; then
// File.Next returns an *IncompleteError that says where the readable data
// ends and how many bytes after it are lost.
//
// Summarize says what a recording is and how it ends, in one vocabulary
// for both formats (Status: sealed, complete, unsealed, incomplete,
// truncated, damaged, unreadable), with its totals; StatusOf classifies
// the error that ends reading one. Filter selects records by time,
// direction, size and content.
package recfile

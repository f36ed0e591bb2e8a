// Package upload sends the recordings that a record.Recorder writes to its
// directory (the spool) to S3-compatible object storage, as the sessions
// run, and removes each from the spool once the stored object has been
// checked against it.
//
// An Uploader is the Recorder's record.Spool. A file is uploaded in parts
// of PartSize bytes (S3's multipart upload) as the recording grows, so that
// a node that dies loses at most what its spool had not yet sent; when the
// Recorder closes the file the rest is sent as the last part and the
// upload is completed (a recording smaller than one part is sent in one
// PUT). The object's size and its last bytes (the trailer, which holds
// the final chain value and the seal) are then read back and compared
// with the file's, and the file is removed (Options.Keep keeps it). Every
// part is sent with its Content-MD5, which the storage checks.
//
// Object keys are Options.Prefix followed by the file's path under the
// spool, so they follow the Recorder's name template. Each object carries
// the recording's metadata (see Metadata) as S3 user metadata, so that a
// catalogue needs no download.
//
// Failures are retried with exponential backoff, without end; sessions go
// on meanwhile and the spool grows. Options.MaxSpool bounds it: at the
// limit the Uploader refuses new recording files (Admit), and the
// Recorder's policy applies: strict refuses new sessions, best-effort
// keeps them unrecorded and resumes their recordings, after a gap record,
// once the spool has room. Running sessions keep writing.
//
// At Start the Uploader finds the files a previous process left in the
// spool: it completes their multipart uploads where they stopped (after
// checking the parts already stored against the file), or sends them
// whole; a recording its writer never sealed is stored as it is and
// marked unsealed. Multipart uploads under Prefix that belong to no file
// of the spool and are older than StaleAge are aborted.
package upload

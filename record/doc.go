// Package record writes proxied sessions to recordings: one file per
// session, in the wsrec format of package format or in websockify's
// format, created with O_EXCL so that no recording is ever overwritten.
//
// A Recorder holds the configuration and a zstd encoder shared by all
// sessions; Recorder.Start returns a Session whose Frame method a proxy's tap
// calls for every message. Frames go through a bounded per-session queue to
// a writing goroutine, so the proxy does not wait for the disk unless the
// queue is full.
//
// File names under Options.Dir come from a template (Options.Name) with
// these placeholders, each reduced to letters, digits and "-._@" so that
// a value can never add a path element:
//
//	{start}    session start, UTC: 2026-11-25T10-04-05Z
//	{date}     session start date, UTC: 2026-11-25 (for a directory per day)
//	{session}  session ID, 32 hex digits
//	{client}   client host (the real client behind a trusted proxy if known)
//	{token}    token that selected the target
//	{target}   target host:port or socket path
//	{user}     authenticated user
//
// An empty value becomes "none". When a name exists (as anything: a file,
// a FIFO, a symbolic link; nothing that exists is opened), "-1", "-2", … is
// added before the extension. Options.Dir itself may be a symbolic link,
// but nothing below it is followed: the directories of a name are created
// and opened one by one (os.Root), kept open for the next sessions and
// checked again for each, and one that exists as a symbolic link or as
// anything else but a directory fails the file's creation with
// ErrUnsafePath, which the session's Policy then handles. A session longer than Options.MaxSize continues in
// parts named NAME.part1.wsrec, NAME.part2.wsrec, … that carry the session ID
// and continue the hash chain.
package record

package main

// Exit statuses beyond cli's 0 (success), 1 (failure) and 2 (usage error).
// verify has its own set: see verify.go.
const (
	// exitUnreadable: a file is not a recording, or cannot be opened or
	// read at all.
	exitUnreadable = 4
	// exitDamaged: a recording is damaged or cut off; everything before
	// the damage was read.
	exitDamaged = 5
)

const description = `
wsrecord-inspect reads session recordings: wsproxy's own (.wsrec) and
websockify's --record files, told apart by their first bytes. It summarises
them, lists, dumps and charts their messages, checks their integrity,
converts and cuts them, and shows the VNC sessions they hold: what was
typed, clicked, copied and pasted, and the screen itself, as pictures, contact
sheets and videos.

Times on the command line (--from, --to) are offsets from the start of the
session, such as 90s, 1m30s or 250ms; a range includes --from and excludes
--to. Wall-clock times (--since, --until) are RFC 3339, or 2006-01-02,
2006-01-02T15:04 and 2006-01-02T15:04:05 in UTC. Every command that prints
data prints JSON instead with --json. A progress bar shows on stderr while a
large file is read, when stderr is a terminal.

Exit status: 0 on success, 1 on failure, 2 on a usage error, 4 when a file is
not a recording or cannot be read, 5 when a recording is damaged or cut off
(everything before the damage is still printed, and the message gives the
file offset or line of the damage). An unsealed recording whose data ends
cleanly is read with a warning and exit status 0. verify has its own exit
statuses: see "wsrecord-inspect verify --help".

Examples:

  # Summarise a recording: session, times, bytes each way, seal, signature.
  wsrecord-inspect info session.wsrec

  # One row per recording under a directory, newest first, of user alice
  # since 1 November.
  wsrecord-inspect info --user alice --since 2026-11-01 --sort time --reverse recordings

  # The messages the client sent in the first 10 seconds, then the same
  # with a full hex dump, and as JSON lines.
  wsrecord-inspect frames --dir client --to 10s session.wsrec
  wsrecord-inspect frames --dir client --to 10s --hex session.wsrec
  wsrecord-inspect frames --json --min-size 100 session.wsrec

  # Check the hash chain, the seal and the signature with a trusted key.
  wsrecord-inspect verify --pubkey signer.pub session.wsrec

  # Import a websockify recording as a sealed, signed .wsrec file, and
  # export one for noVNC's playback page.
  wsrecord-inspect convert websockify.txt -o imported.wsrec --sign-key signer.key
  wsrecord-inspect convert session.wsrec -o session.txt --to websockify

  # Keep the 2 seconds after the first as a recording of its own.
  wsrecord-inspect cut session.wsrec --from 1s --to 3s -o slice.wsrec

  # Throughput and message sizes, as a chart on the terminal and an image.
  wsrecord-inspect stats session.wsrec --png stats.png

  # The bytes the target sent, as one stream, to a file.
  wsrecord-inspect dump --dir target session.wsrec -o target.bin

  # A VNC session: its handshake, then a timeline of keys, clicks, clipboard
  # and screen updates; then only the clipboard, as JSON lines.
  wsrecord-inspect rfb vnc-session.wsrec
  wsrecord-inspect rfb --kind client-cut-text,server-cut-text --json vnc-session.wsrec

  # What the user of a VNC session typed, line by line, with times.
  wsrecord-inspect keys vnc-session.wsrec

  # The screen at 0.5s into the session, then at 06:03:20.3 (UTC), a
  # picture every 100 ms (frame-001.png, ...), and a contact sheet of the
  # moments the screen changed.
  wsrecord-inspect snapshot vnc-session.wsrec --at 0.5s -o shot.png
  wsrecord-inspect snapshot vnc-session.wsrec --at 06:03:20.3 --no-cursor -o shot-utc.png
  wsrecord-inspect snapshot vnc-session.wsrec --every 100ms -o frame.png
  wsrecord-inspect contact-sheet --changes vnc-session.wsrec -o sheet.png

  # A video at 4 times the speed, idle gaps cut to 2 seconds, with what was
  # typed as subtitles; seek indexes for a directory of recordings first.
  wsrecord-inspect index recordings
  wsrecord-inspect video --speed 4 --idle-limit 2s --captions vnc-session.wsrec -o session.mp4
`

// rootCmd is wsrecord-inspect's command line. Each subcommand is a field
// tagged cmd:"" whose type, defined in a file of its own (info.go: infoCmd),
// has a Run method.
type rootCmd struct {
	Read readFlags `embed:""`

	Info    infoCmd    `cmd:"" help:"Summarise recordings: one in detail, or one row each for several or a directory."`
	Frames  framesCmd  `cmd:"" help:"List a recording's records, one line each."`
	Dump    dumpCmd    `cmd:"" help:"Write the payload bytes of a recording's messages to stdout or a file."`
	Verify  verifyCmd  `cmd:"" help:"Check recordings' hash chain, seal and signature."`
	Convert convertCmd `cmd:"" help:"Convert a recording to wsrec, websockify or JSON lines."`
	Cut     cutCmd     `cmd:"" help:"Write a time slice of a recording as a new sealed recording."`
	Stats   statsCmd   `cmd:"" help:"Chart a recording's throughput and message sizes."`
	RFB     rfbCmd     `cmd:"" name:"rfb" help:"Show a VNC session: its handshake, then a timeline of keys, pointer, clipboard and screen updates."`
	Keys    keysCmd    `cmd:"" help:"Show what the user of a VNC session typed, as lines of text with their times."`

	Snapshot     snapshotCmd     `cmd:"" help:"Write the screen of a VNC session at given times as pictures."`
	ContactSheet contactSheetCmd `cmd:"" name:"contact-sheet" help:"Write a grid of labelled thumbnails of a VNC session's screen, for skimming it."`
	Video        videoCmd        `cmd:"" help:"Make a video of a VNC session's screen through ffmpeg."`
	Index        indexCmd        `cmd:"" help:"Build or refresh the seek indexes that take the screen commands to a late time quickly."`
}

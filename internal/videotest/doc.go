// Package videotest checks videos in tests with Debian's ffmpeg: what
// ffprobe says of a file, a frame extracted by ffmpeg, and how far a
// frame is from the picture it should show (PSNR). The tests of
// wsrecord-inspect's video command and of wsreplay --ui's video export
// share it.
//
// Its functions fail the test they are given on error; callers check
// for ffmpeg first (vnctest.Require). They are safe for concurrent use.
package videotest

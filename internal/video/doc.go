// Package video encodes a sequence of RGBA frames as a video file through
// the ffmpeg program (Debian package ffmpeg), fed raw frames on a pipe,
// with an optional WebVTT subtitle track muxed in. It is the one place
// that runs ffmpeg: programs that make no video do not depend on it, and
// the Encoder interface lets tests and other encoders stand in for it.
//
// The container follows the output's extension: .mp4 (H.264, yuv420p,
// subtitles as mov_text), .webm (VP9, subtitles as WebVTT) or .mkv
// (H.264, WebVTT).
package video

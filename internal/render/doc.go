// Package render turns recorded VNC sessions into pictures: the screen at
// chosen times (snapshots), a grid of labelled thumbnails (contact
// sheets), the frames of a video at a fixed rate with the timing rules of
// wsreplay (speed, idle limit), captions of the text typed, and the seek
// indexes that make all of them start quickly.
//
// It stands on format/rfb/screen, which decodes the pixels, and
// format/recfile, which reads both recording formats (wsrec and
// websockify's). A Player walks a recording forward feeding a Screen and
// jumps through a seek index (screen.Index) where one is given and valid;
// websockify recordings have no index and are decoded from the start.
//
// The package draws text with golang.org/x/image's basicfont and scales
// with golang.org/x/image/draw; it runs no external program. Encoding a
// video is package internal/video's job: Frames hands it each frame.
//
// Nothing here is safe for concurrent use unless its documentation says
// so.
package render

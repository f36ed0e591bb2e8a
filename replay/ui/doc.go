// Package ui serves the web pages of wsreplay's --ui: a browser of the
// recordings (newest first, paged by cursor, filtered by metadata, time
// and typed text) and a player (a noVNC canvas connected to a
// render-mode replay, with a timeline, speed, the typed lines, clicks and
// clipboard texts beside it), and the JSON API the pages read.
//
// The pages are plain ES modules and CSS embedded in the binary; noVNC is
// served from a directory given in Options (nothing of noVNC is part of
// this package). Every response is read-only and carries a strict
// Content-Security-Policy; recordings are reached only by their names in
// the Source, never by a file path.
//
// The summaries, integrity checks, typed text, events and thumbnails come
// from the library packages that wsrecord-inspect uses too (format,
// format/rfb, internal/render), and are cached per version of each file.
package ui

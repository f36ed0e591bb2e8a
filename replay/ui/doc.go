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
// GET /ui/api/video exports a session as an MP4 or WebM video with the
// code of wsrecord-inspect video (internal/video, fed by internal/render):
// at most Options.VideoExports at once, to a temporary file served with
// http.ServeContent, cached per file version and parameters, and
// cancelled when its client goes away; GET /ui/api/videostatus tells the
// page how far it is.
//
// The summaries, integrity checks, typed text, events and thumbnails come
// from the library packages that wsrecord-inspect uses too (format,
// format/rfb, internal/render), and are cached per version of each file.
package ui

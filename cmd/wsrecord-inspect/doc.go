// Command wsrecord-inspect reads session recordings on the command line:
// wsproxy's own (package format) and websockify's (package
// format/websockify), opened through package format/recfile. Its
// subcommands summarise recordings (info), list and dump their records
// (frames, dump), check their integrity (verify), convert and cut them
// (convert, cut), chart them (stats), and decode the VNC sessions they hold
// with package format/rfb (rfb, keys); "wsrecord-inspect --help" says how,
// with examples, and what the exit statuses mean.
package main

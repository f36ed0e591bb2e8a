// Package proxytap records the sessions of a proxy.Server: it adapts a
// record.Recorder to the proxy's Tap, and builds each recording's header
// from the proxy's SessionInfo.
//
// It sits beside record rather than in it, so that record does not depend
// on proxy and proxy never imports record (the proxy declares the Tap it
// needs; a program wires a recorder into it through this package).
package proxytap

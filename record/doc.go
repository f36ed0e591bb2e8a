// Package record writes proxied sessions to recordings in the format of
// package format.
package record

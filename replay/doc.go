// Package replay serves recordings back to WebSocket clients as if they came
// from the live target.
package replay

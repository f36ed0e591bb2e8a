// Package haproxy holds the test of haproxy.cfg, an HAProxy configuration in
// front of wsproxy. The test runs HAProxy with the file for real, on
// loopback, and relays WebSocket sessions through both of its frontends to a
// wsproxy binary.
package haproxy

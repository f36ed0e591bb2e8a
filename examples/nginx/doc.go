// Package nginx holds the test of wsproxy.conf, an nginx configuration in
// front of wsproxy. The test runs nginx with the file for real, on loopback,
// and relays WebSocket sessions through it to a wsproxy binary.
package nginx

// Package demo holds the test of demo.sh, the hands-on demo that runs Xvnc
// and wsproxy with recording and noVNC on this machine. The test runs the
// script for real, opens a session through it and stops it as Ctrl-C does.
package demo

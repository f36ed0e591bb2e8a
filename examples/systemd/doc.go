// Package systemd holds the tests of the systemd units beside it:
// wsproxy.socket and wsproxy.service (socket activation, Type=notify, a
// sandbox), and wsproxy-retention.service and .timer (deleting old
// recordings). The tests run systemd-analyze verify on the units, run
// wsproxy.service's command line as systemd would, with a socket and a
// notification socket, and run the retention's find commands on a
// directory of old and new files.
package systemd

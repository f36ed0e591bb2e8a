#!/usr/bin/env bash
# A hands-on demo of wsproxy on this machine: a VNC server (TigerVNC's Xvnc)
# with a clock and a pair of eyes on its screen, wsproxy in front of it
# recording every session, and noVNC's pages served by wsproxy. Open the URL
# it prints in a browser; Ctrl-C stops everything, and the recordings stay.
#
# Usage: examples/demo/demo.sh [WSPROXY_OPTION...]
#
# The options are passed on to wsproxy (for example --record-format
# websockify, or -v). Everything listens on 127.0.0.1 only, and the VNC
# server asks for no password: any user of this machine can connect while
# the demo runs.
#
# Environment, all optional:
#   DEMO_PORT        wsproxy's port (default 6080)
#   DEMO_DISPLAY     Xvnc's display number (default: the first free one)
#   DEMO_VNC_PORT    Xvnc's RFB port (default 5900 + the display number)
#   DEMO_GEOMETRY    the screen's size (default 1024x768)
#   DEMO_RECORD_DIR  where the recordings go (default ./recordings)
#   DEMO_NOVNC       noVNC's directory (default /usr/share/novnc)
#   DEMO_WSPROXY     the wsproxy binary (default: go build from the
#                    checkout this script is in, else wsproxy from PATH)
#
# Debian packages: tigervnc-standalone-server, novnc, and x11-apps for the
# clock and the eyes (optional).
set -euo pipefail

die() {
	echo "demo: $*" >&2
	exit 1
}

port=${DEMO_PORT:-6080}
geometry=${DEMO_GEOMETRY:-1024x768}
record_dir=${DEMO_RECORD_DIR:-$PWD/recordings}
novnc=${DEMO_NOVNC:-/usr/share/novnc}
display=${DEMO_DISPLAY:-}
display=${display#:}
if [[ -z $display ]]; then
	display=1
	while [[ -e /tmp/.X11-unix/X$display || -e /tmp/.X$display-lock ]]; do
		display=$((display + 1))
	done
fi
vnc_port=${DEMO_VNC_PORT:-$((5900 + display))}

command -v Xvnc >/dev/null || die "Xvnc not found: install the Debian package tigervnc-standalone-server"
[[ -f $novnc/vnc.html ]] || die "no noVNC in $novnc: install the Debian package novnc, or set DEMO_NOVNC"

work=$(mktemp -d "${TMPDIR:-/tmp}/wsproxy-demo.XXXXXX")
pids=() # started in this order, stopped in the reverse one

# stop ends what the script started, wsproxy first so that it closes the
# sessions and seals their recordings, and waits for each.
stop() {
	local i pid
	trap 'kill -TERM "${pids[@]}" 2>/dev/null' INT TERM # a second Ctrl-C hurries wsproxy
	for ((i = ${#pids[@]} - 1; i >= 0; i--)); do
		pid=${pids[i]}
		kill -TERM "$pid" 2>/dev/null || true
		while kill -0 "$pid" 2>/dev/null; do
			wait "$pid" 2>/dev/null || true
		done
	done
	rm -rf "$work"
	if [[ -d $record_dir ]]; then
		echo "demo: the recordings are in $record_dir; to watch them again, run" >&2
		echo "    wsreplay --web $novnc $port $record_dir" >&2
		echo "and open http://localhost:$port/vnc.html?path=NAME (NAME: a file under $record_dir)" >&2
	fi
}
trap stop EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# wait_port waits until 127.0.0.1:$1 answers, as long as the program named
# $2, process $3, runs; $4 is its log file, if it has one. Xvnc speaks
# first; wsproxy is asked for its front page, since it would log a
# connection that sends nothing as dropped.
wait_port() {
	local i
	for ((i = 0; i < 200; i++)); do
		if (exec 3<>"/dev/tcp/127.0.0.1/$1" &&
			{ [[ $2 != wsproxy ]] || printf 'HEAD / HTTP/1.0\r\n\r\n' >&3; } &&
			read -r -t 2 _ <&3) 2>/dev/null; then
			return 0
		fi
		kill -0 "$3" 2>/dev/null || die "$2 exited${4:+; its log:
$(tail -n 20 "$4")}"
		sleep 0.05
	done
	die "$2 does not answer on 127.0.0.1:$1"
}

if [[ -n ${DEMO_WSPROXY:-} ]]; then
	wsproxy=$DEMO_WSPROXY
elif repo=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd) &&
	grep -qs '^module github.com/wsproxy/wsproxy$' "$repo/go.mod" && command -v go >/dev/null; then
	echo "demo: building wsproxy in $repo" >&2
	(cd "$repo" && go build -o "$work/wsproxy" ./cmd/wsproxy)
	wsproxy=$work/wsproxy
elif command -v wsproxy >/dev/null; then
	wsproxy=wsproxy
else
	die "no wsproxy: run the script from a checkout with Go installed, put wsproxy in PATH, or set DEMO_WSPROXY"
fi

Xvnc ":$display" -geometry "$geometry" -depth 24 -desktop "wsproxy demo" \
	-rfbport "$vnc_port" -interface 127.0.0.1 -nolisten tcp -SecurityTypes None \
	>"$work/Xvnc.log" 2>&1 &
pids+=($!)
wait_port "$vnc_port" Xvnc "${pids[-1]}" "$work/Xvnc.log"
echo "demo: Xvnc (pid ${pids[-1]}) serves display :$display on 127.0.0.1:$vnc_port" >&2

# Something to look at, and something that moves with the pointer.
for client in "xclock -update 1 -geometry 200x200+40+40" "xeyes -geometry 200x120+280+40"; do
	if command -v "${client%% *}" >/dev/null; then
		# shellcheck disable=SC2086 # the words of $client are its arguments
		DISPLAY=:$display $client >"$work/${client%% *}.log" 2>&1 &
		pids+=($!)
	fi
done

"$wsproxy" --web "$novnc" --record-dir "$record_dir" "$@" "127.0.0.1:$port" "127.0.0.1:$vnc_port" &
pids+=($!)
wsproxy_pid=${pids[-1]}
wait_port "$port" wsproxy "$wsproxy_pid"
echo "demo: wsproxy (pid $wsproxy_pid) listens on 127.0.0.1:$port and records to $record_dir" >&2

echo "Open http://localhost:$port/vnc.html?autoconnect=true&resize=scale"
echo "(X programs run on the desktop with DISPLAY=:$display. Press Ctrl-C to stop.)"
wait "$wsproxy_pid"

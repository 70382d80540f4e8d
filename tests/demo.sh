#!/bin/sh
# demo.sh - play a scripted conversation between a chat listener and a
# chat connector on loopback, then show what each side saw.
set -u
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT INT TERM

cat > "$dir/listener.txt" <<'LINES'
Hello, client!
Fine, thanks. Did you read the README?
Then you know how this ends.
LINES
cat > "$dir/connector.txt" <<'LINES'
Hi back to you server! How are you doing?
Yes: one message each, in turn.
QUIT
LINES

./chat --listen 127.0.0.1:0 --once < "$dir/listener.txt" \
    > "$dir/listener.out" 2> "$dir/listener.err" &
pid=$!
# Wait (at most 5 s) for the listener to say where it listens.
tries=0
until grep -q '^Listening on ' "$dir/listener.err"; do
	tries=$((tries + 1))
	if [ $tries -gt 250 ] || ! kill -0 $pid 2>/dev/null; then
		cat "$dir/listener.err" >&2
		echo "demo: the listener did not start" >&2
		exit 1
	fi
	sleep 0.02
done
port=$(sed -n 's/^Listening on .*:\([0-9]*\)$/\1/p' "$dir/listener.err")

./chat --connect 127.0.0.1:"$port" < "$dir/connector.txt" \
    > "$dir/connector.out" 2> "$dir/connector.err"
cstatus=$?
wait $pid
lstatus=$?

for side in listener connector; do
	echo "=== $side: typed (stdin)"
	cat "$dir/$side.txt"
	echo "=== $side: saw (stdout)"
	cat "$dir/$side.out"
	echo "=== $side: status (stderr)"
	cat "$dir/$side.err"
	echo
done
echo "exit status: listener $lstatus, connector $cstatus"
[ $lstatus -eq 0 ] && [ $cstatus -eq 0 ]

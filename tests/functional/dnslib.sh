# dnslib.sh - a real authoritative DNS server (nsd) for the functional
# tests, inside the test's network namespace on 127.0.0.1:53, where the
# namespace's resolv.conf already points. Source after lib.sh, call
# tg_netns_create first.
#
#   dns_zone ORIGIN <<EOF ... records ... EOF   - write ORIGIN's zone file
#       (SOA and NS are added; names in records are relative to ORIGIN)
#   dns_start                                  - start nsd with every zone
#   dns_stop                                   - stop it (lookups then time out)
#   dns_suite NAME [conf overrides...]         - tg_suite with tollgate asking it
#   dns_down_suite NAME [conf overrides...]    - the same with nsd stopped
#       once the daemon runs

DNS_DIR=""
DNS_PID=""
DNS_ZONES=""

dns_zone() {
	local origin=$1
	DNS_DIR=${DNS_DIR:-$TG_DIR/dns}
	mkdir -p "$DNS_DIR"
	{
		printf '$ORIGIN %s.\n$TTL 300\n' "$origin"
		printf '@ IN SOA ns.%s. hostmaster.%s. 1 3600 600 86400 300\n' "$origin" "$origin"
		printf '@ IN NS ns.%s.\n' "$origin"
		cat
	} >"$DNS_DIR/$origin.zone"
	DNS_ZONES="$DNS_ZONES $origin"
}

dns_start() {
	local z
	tg_need_cmd nsd
	[ -n "$TG_NETNS" ] || { echo "dns_start: no network namespace" >&2; return 1; }
	DNS_DIR=${DNS_DIR:-$TG_DIR/dns}
	mkdir -p "$DNS_DIR"
	{
		cat <<CONF
server:
  ip-address: 127.0.0.1
  port: 53
  zonesdir: "$DNS_DIR"
  pidfile: "$DNS_DIR/nsd.pid"
  database: ""
  username: ""
  chroot: ""
  logfile: "$DNS_DIR/nsd.log"
  xfrdfile: "$DNS_DIR/xfrd.state"
  zonelistfile: "$DNS_DIR/zone.list"
  rrl-ratelimit: 0
  verbosity: 1
remote-control:
  control-enable: no
CONF
		for z in $DNS_ZONES; do
			printf 'zone:\n  name: %s\n  zonefile: %s.zone\n' "$z" "$z"
		done
	} >"$DNS_DIR/nsd.conf"
	# exec straight into nsd so that $! is nsd itself
	$TG_NS_EXEC nsd -d -c "$DNS_DIR/nsd.conf" >>"$DNS_DIR/nsd.log" 2>&1 &
	DNS_PID=$!
	tg_track "$DNS_PID"
	# ready when it answers for the first zone
	z=${DNS_ZONES# }
	z=${z%% *}
	tg_wait_for 10 dns_answers "$z" || {
		echo "nsd did not start:" >&2
		cat "$DNS_DIR/nsd.log" >&2
		return 1
	}
}

# dns_answers NAME - the server gives an SOA for NAME
dns_answers() {
	tg_ns nslookup -type=SOA "$1" 127.0.0.1 >/dev/null 2>&1 && return 0
	# no nslookup: try a TCP connect to port 53
	tg_ns bash -c 'exec 3<>/dev/tcp/127.0.0.1/53' 2>/dev/null
}

dns_stop() {
	[ -n "$DNS_PID" ] || return 0
	tg_kill_pid "$DNS_PID" 10
	DNS_PID=""
}

# dns_suite_start NAME [conf overrides...] - tg_suite_start, tollgate
# asking our nsd: AuthservID mx.example.org, Nameservers 127.0.0.1,
# DNSTimeout 2s, CheckTimeout 10s, then the overrides
dns_suite_start() {
	local name="$1"
	shift
	tg_suite_start "$name" "AuthservID mx.example.org" "Nameservers 127.0.0.1" \
	    "DNSTimeout 2s" "CheckTimeout 10s" "$@"
}

# dns_suite NAME [conf overrides...] - dns_suite_start, then tg_suite_run
dns_suite() {
	dns_suite_start "$@" && tg_suite_run "$1"
}

# dns_down_suite NAME [conf overrides...] - dns_suite, but nsd stops
# once the daemon has started: every lookup of NAME.lua goes unanswered
dns_down_suite() {
	dns_suite_start "$@" || return 1
	dns_stop
	tg_suite_run "$1"
}

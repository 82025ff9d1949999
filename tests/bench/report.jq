# report.jq - turns the raw runs of run-bench.sh (jq -s: an array of
# loadgen/smtp-source records) into the saved report: medians per
# set-up, the same-run ratios, the soak figures, and the raw runs.
def median: sort | if length == 0 then null
	elif length % 2 == 1 then .[(length / 2 | floor)]
	else (.[length / 2 - 1] + .[length / 2]) / 2 end;
def r(n): if . == null then null else (. * pow(10; n) | round) / pow(10; n) end;
# pct(p) - percentile p of a sorted array, as loadgen takes it
def pct(p): if length == 0 then null else .[(p / 100 * (length - 1) + 0.5 | floor)] end;
# lat(p; k) - runs with every latency (loadgen -L: the 1-session slices)
# pooled; otherwise the median of the runs' own percentile k
def lat(p; k): (map(.lat_all_ms // empty) | add // []) as $all
	| if ($all | length) > 0 then ($all | sort | pct(p)) else (map(.lat_ms[k] // empty) | median) end;
def agg: {
	setup: .[0].setup, socket: (.[0].socket // null), concurrency: .[0].concurrency,
	messages: .[0].messages, reps: length,
	msgs_per_s: (map(.msgs_per_s) | median | r(1)),
	lat_p50_ms: (lat(50; "p50") | r(3)),
	lat_p99_ms: (lat(99; "p99") | r(3)),
	filter_cpu_s_per_1000: (map(.filter.cpu_s_per_1000 // empty) | median | r(3)),
	filter_peak_rss_kb: (map(.filter.peak_rss_kb // empty) | max),
	system_cpu_s_per_1000: (map(.system_cpu_s_per_1000 // empty) | median | r(3)),
	fds_before: (map(.filter.fds_before // empty) | min),
	fds_after: (map(.filter.fds_after // empty) | max),
	outcomes: .[0].outcomes,
	errors: (map(.outcomes.error // 0) | add)
};
def groups(k): [.[] | select(.kind == k and .rep > 0)] | group_by([.setup, .concurrency]) | map(agg);
def find(rows; s; c): [rows[] | select(.setup == s and .concurrency == c)] | first;
def ratio(x; y): if x == null or y == null or y == 0 then null else (x / y | r(2)) end;
# pairs(raw; s; base; c) - [s's run, base's run] of each slice (the
# slices of a repetition run the set-ups in turn) with c sessions
def pairs(raw; s; base; c):
	[raw[] | select(.kind == "e2e" and .concurrency == c and .rep > 0 and (.slice // 0) > 0)] as $r
	| [$r[] | select(.setup == s) as $x
		| $r[] | select(.setup == base and .rep == $x.rep and .slice == $x.slice) | [$x, .]];
# added(raw; s; base) - the 1-session p50 latency s adds over base: the
# median of the slices' differences; null when the runs have no slices
def added(raw; s; base):
	pairs(raw; s; base; 1) | map(.[0].lat_ms.p50 - .[1].lat_ms.p50)
	| if length == 0 then null else (median | r(3)) end;
# pratio(raw; s; base) - s's msg/s over base's at 20 sessions: the
# median of the slices' ratios; null when the runs have no slices
def pratio(raw; s; base):
	pairs(raw; s; base; 20) | map(select(.[1].msgs_per_s > 0) | .[0].msgs_per_s / .[1].msgs_per_s)
	| if length == 0 then null else (median | r(2)) end;
def sock_ratios(raw; e; src; m; sfx):
	(find(e; "tollgate-" + sfx; 20)) as $c | (find(e; "null-" + sfx; 20)) as $b
	| (find(e; "nulln-" + sfx; 20)) as $bn | (find(e; "none"; 20)) as $a
	| (find(e; "chain-" + sfx; 20)) as $d
	| (find(e; "tollgate-" + sfx; 1)) as $c1 | (find(e; "none"; 1)) as $a1
	| (find(e; "chain-" + sfx; 1)) as $d1
	| {
		"c/b": (pratio(raw; "tollgate-" + sfx; "null-" + sfx) // ratio($c.msgs_per_s; $b.msgs_per_s)),
		"c/b'": (pratio(raw; "tollgate-" + sfx; "nulln-" + sfx)
			// ratio($c.msgs_per_s; $bn.msgs_per_s)),
		"c/a": (pratio(raw; "tollgate-" + sfx; "none") // ratio($c.msgs_per_s; $a.msgs_per_s)),
		"c/d": (pratio(raw; "tollgate-" + sfx; "chain-" + sfx) // ratio($c.msgs_per_s; $d.msgs_per_s)),
		"cpu d/c": ratio($d.filter_cpu_s_per_1000; $c.filter_cpu_s_per_1000),
		"tollgate_added_p50_ms": (added(raw; "tollgate-" + sfx; "none")
			// (if $c1 and $a1 then ($c1.lat_p50_ms - $a1.lat_p50_ms | r(3)) else null end)),
		"tollgate_added_p99_ms": (if $c1 and $a1 then ($c1.lat_p99_ms - $a1.lat_p99_ms | r(3)) else null end),
		"nullmilter_added_p50_ms": added(raw; "null-" + sfx; "none"),
		"tollgate_over_nullmilter_p50_ms": added(raw; "tollgate-" + sfx; "null-" + sfx),
		"record_all_c10": ratio(find(m; "tollgate-all-" + sfx; 10).msgs_per_s;
			find(m; "tollgate-" + sfx; 10).msgs_per_s),
		"record_all_c100": ratio(find(m; "tollgate-all-" + sfx; 100).msgs_per_s;
			find(m; "tollgate-" + sfx; 100).msgs_per_s),
		"chain_added_p50_ms": (added(raw; "chain-" + sfx; "none")
			// (if $d1 and $a1 then ($d1.lat_p50_ms - $a1.lat_p50_ms | r(3)) else null end)),
		"smtp_source c/b": ratio(find(src; "tollgate-" + sfx; 20).msgs_per_s; find(src; "null-" + sfx; 20).msgs_per_s),
		"smtp_source c/a": ratio(find(src; "tollgate-" + sfx; 20).msgs_per_s; find(src; "none"; 20).msgs_per_s),
		"smtp_source c/d": ratio(find(src; "tollgate-" + sfx; 20).msgs_per_s; find(src; "chain-" + sfx; 20).msgs_per_s)
	};
. as $raw
| groups("milter") as $m | groups("e2e") as $e | groups("smtp-source") as $s
| {
	meta: {date: $date, commit: $commit, src_changes_uncommitted: $dirty, quick: ($quick == 1),
		reps: $reps, cores: $cores, tollgate: $tollgate, postfix: $postfix, chain: $chain,
		corpus_messages: $corpus, corpus_kb: $corpus_kb, e2e_sessions: 20},
	ratios: {unix: sock_ratios($raw; $e; $s; $m; "u"), inet: sock_ratios($raw; $e; $s; $m; "i")},
	e2e: $e, milter: $m, smtp_source: $s,
	soak: ([$raw[] | select(.kind == "soak")] | first),
	runs: $raw
}

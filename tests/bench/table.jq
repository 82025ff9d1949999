# table.jq - the report of report.jq as one plain-text table
def lpad(n): tostring as $s | ([range(0; n - ($s | length))] | map(" ") | join("")) + $s;
def rpad(n): tostring as $s | $s + ([range(0; n - ($s | length))] | map(" ") | join(""));
def v: if . == null then "-" else . end;
def mb: if . == null then "-" else (. / 1024 * 10 | round) / 10 end;
def name: if . == "none" then "(a) no milter"
	elif startswith("null-") then "(b) nullmilter"
	elif startswith("nulln-") then "(b') nullmilter -N"
	elif startswith("tollgate-all-") then "(c') tg record all"
	elif startswith("tollgate-") then "(c) tollgate"
	elif startswith("chain-") then "(d) spf+dkim+dmarc"
	else . end;
def sock: if . == "none" then "-" elif endswith("-u") then "unix" else "inet" end;
. as $r
| "tollgate bench \(.meta.date)  commit \(.meta.commit)\(if .meta.src_changes_uncommitted > 0 then "+changes" else "" end)  \(.meta.cores) cores  Postfix \(.meta.postfix)  \(if .meta.quick then "QUICK, " else "" end)median of \(.meta.reps)",
"corpus: \(.meta.corpus_messages) messages (\(.meta.corpus_kb) KB on disk), 70% pass SPF+DKIM+DMARC",
"",
"END TO END  loadgen -S -> Postfix -> smtp-sink; 20 sessions (throughput), 1 session (latency)",
("setup" | rpad(20)) + ("sock" | rpad(5)) + ("msg/s" | lpad(8)) + ("filterCPU" | lpad(10)) + ("peakMB" | lpad(8))
	+ ("sysCPU" | lpad(8)) + ("|1s p50" | lpad(9)) + ("p99 ms" | lpad(8)) + ("rejects" | lpad(8)),
(.e2e | map(select(.concurrency == 20)) | sort_by(.setup | sock, name)[] as $x
	| ([$r.e2e[] | select(.setup == $x.setup and .concurrency == 1)] | first) as $one
	| ($x.setup | name | rpad(20)) + ($x.setup | sock | rpad(5)) + ($x.msgs_per_s | v | lpad(8))
	+ ($x.filter_cpu_s_per_1000 | v | lpad(10)) + ($x.filter_peak_rss_kb | mb | lpad(8))
	+ ($x.system_cpu_s_per_1000 | v | lpad(8))
	+ ("|" + ($one.lat_p50_ms | v | tostring) | lpad(9)) + ($one.lat_p99_ms | v | lpad(8))
	+ (($x.outcomes.reject // 0) | tostring | lpad(8))),
"  filterCPU = CPU seconds per 1000 messages of the filter process(es); sysCPU = whole machine",
"",
"RATIOS (same run)                    unix    inet",
(["c/b", "c/b'", "c/a", "c/d", "cpu d/c", "tollgate_added_p50_ms", "tollgate_added_p99_ms",
  "nullmilter_added_p50_ms", "tollgate_over_nullmilter_p50_ms", "chain_added_p50_ms",
  "record_all_c10", "record_all_c100", "smtp_source c/b", "smtp_source c/a", "smtp_source c/d"][] as $k
	| ($k | rpad(32)) + ($r.ratios.unix[$k] | v | lpad(8)) + ($r.ratios.inet[$k] | v | lpad(8))),
"",
"MILTER LEVEL  loadgen straight to the filter socket",
("setup" | rpad(20)) + ("sock" | rpad(5)) + ("conns" | lpad(6)) + ("msg/s" | lpad(9)) + ("p50 ms" | lpad(8))
	+ ("p99 ms" | lpad(8)) + ("CPU/1000" | lpad(9)) + ("peakMB" | lpad(8)) + ("fds" | lpad(8)) + ("errors" | lpad(7)),
(.milter | sort_by([(.setup | sock), (.setup | name), .concurrency])[] as $x
	| ($x.setup | name | rpad(20)) + ($x.setup | sock | rpad(5)) + ($x.concurrency | lpad(6))
	+ ($x.msgs_per_s | v | lpad(9)) + ($x.lat_p50_ms | v | lpad(8)) + ($x.lat_p99_ms | v | lpad(8))
	+ ($x.filter_cpu_s_per_1000 | v | lpad(9)) + ($x.filter_peak_rss_kb | mb | lpad(8))
	+ ("\($x.fds_before)>\($x.fds_after)" | lpad(8)) + ($x.errors | lpad(7))),
"",
"SMTP-SOURCE cross-check  20 sessions, one generated 4 KB message (SPF pass, unsigned)",
(.smtp_source | sort_by(.setup | sock, name)[] as $x
	| ($x.setup | name | rpad(20)) + ($x.setup | sock | rpad(5)) + ($x.msgs_per_s | v | lpad(8))
	+ ($x.filter_cpu_s_per_1000 | v | lpad(10))),
(if .soak then "", "SOAK  \(.soak.messages) messages, \(.soak.concurrency) connections: \(.soak.msgs_per_s | floor) msg/s, peak RSS \(.soak.filter.peak_rss_kb) kB, RSS before \(.soak.filter.rss_kb_before) kB, after \(.soak.filter.rss_kb) kB, fds \(.soak.filter.fds_before) -> \(.soak.filter.fds_after), errors \(.soak.outcomes.error)" else empty end)

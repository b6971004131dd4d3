-- Ends every wrk run of the bench: prints the summary on one line that
-- bench/measure.py reads (times in microseconds).
done = function(summary, latency, requests)
	local e = summary.errors
	io.write(string.format(
	    "BENCH requests=%d duration_us=%d bytes=%d p50_us=%d p99_us=%d " ..
	    "connect=%d read=%d write=%d status=%d timeout=%d\n",
	    summary.requests, summary.duration, summary.bytes,
	    latency:percentile(50), latency:percentile(99),
	    e.connect, e.read, e.write, e.status, e.timeout))
end

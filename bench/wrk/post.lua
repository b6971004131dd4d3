-- 1 MiB POST bodies; run.sh appends summary.lua to this for wrk's -s.
wrk.method = "POST"
wrk.body = string.rep("x", 1048576)
wrk.headers["Content-Type"] = "application/octet-stream"

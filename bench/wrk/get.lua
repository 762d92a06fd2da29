-- GET of wrk's URL path (e.g. /v1/models), with an SDK's Authorization header.
wrk.headers["Authorization"] = "Bearer sk-client-bench"
wrk.headers["Accept"] = "application/json"
dofile("bench/wrk/report.lua")

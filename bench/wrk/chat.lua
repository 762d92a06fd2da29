-- Non-streamed chat completion POST, with the headers the OpenAI Python SDK sends.
-- Run from the repository root: wrk -s bench/wrk/chat.lua http://127.0.0.1:PORT
wrk.method = "POST"
wrk.path = "/v1/chat/completions"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Accept"] = "application/json"
-- BENCH_KEY: the client key to send (the issued-key row's); BENCH_USER_JWT: Open WebUI's signed user, when set.
wrk.headers["Authorization"] = "Bearer " .. (os.getenv("BENCH_KEY") or "sk-client-bench")
if os.getenv("BENCH_USER_JWT") then wrk.headers["X-OpenWebUI-User-Jwt"] = os.getenv("BENCH_USER_JWT") end
wrk.headers["User-Agent"] = "OpenAI/Python 1.51.0"
wrk.headers["X-Stainless-Lang"] = "python"
wrk.headers["X-Stainless-Package-Version"] = "1.51.0"
wrk.headers["X-Stainless-OS"] = "Linux"
wrk.headers["X-Stainless-Arch"] = "x64"
wrk.headers["X-Stainless-Runtime"] = "CPython"
wrk.headers["X-Stainless-Runtime-Version"] = "3.12.7"
wrk.headers["X-Stainless-Retry-Count"] = "0"
-- BENCH_MODEL picks the model id (the routing row asks for the two-target model).
wrk.body = '{"model":"' .. (os.getenv("BENCH_MODEL") or "bench-model") .. '","messages":[{"role":"system","content":"You are a helpful assistant."},' ..
  '{"role":"user","content":"Write one sentence about the sea, in the voice of a lighthouse keeper."}],' ..
  '"temperature":0.7,"max_tokens":256,"stream":false}'
dofile("bench/wrk/report.lua")

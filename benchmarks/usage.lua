-- wrk script: POST /v1/usage with a fresh idempotency id per call.
-- The key comes from the environment (TEAMKEYS_BENCH_KEY).
local counter = 0
local key = os.getenv("TEAMKEYS_BENCH_KEY")
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "Bearer " .. key
request = function()
  counter = counter + 1
  local body = string.format(
    '{"id": "%s-%d-%d", "model": "gpt-x", "input_tokens": 120, "output_tokens": 40}',
    tostring(math.random(1, 1e9)), os.time(), counter)
  return wrk.format(nil, nil, nil, body)
end

-- The cost of one training step's gradient all-reduce on N machines, in the
-- alpha-beta model (a message of m bytes takes alpha + m / beta), for rnnc's
-- deterministic reduction (runtime/parallel.c) and two others:
--
--   rnnc      the running sum through the ranks in order, in segments of
--             s = 64 KiB (K = ceil(S / s) of them: a pipeline), then the sum
--             broadcast from the last rank (MPI_Bcast, a pipelined binary tree
--             for messages this size):
--               (N - 2 + K) (alpha + s / beta) + (ceil(log2 N) + K - 1) (alpha + 2 s / beta)
--   ring      MPI_Allreduce's ring (reduce-scatter + allgather): bandwidth-
--             optimal, but the order of its sums depends on N, so the bytes
--             would too:  2 (N - 1) (alpha + S / (N beta))
--   gather    every rank's gradient to rank 0 in rank order, summed there,
--             broadcast: deterministic but rank 0's link carries (N - 1) S:
--               (N - 1) (alpha + S / beta) + ceil(log2 N) (alpha + S / beta)
--
-- Each machine computes a micro-batch of the per-machine batch (weak
-- scaling: the global batch grows with N), taking `compute` seconds, and the
-- reduction starts when all have finished: steps per second
-- = 1 / (compute + all-reduce). Bytes per rank: what a middle rank of the
-- chain receives and sends (S each way in the chain, about S each way in the
-- broadcast).
--
-- usage: lua5.4 bench/allreduce_model.lua PARAMS BYTES_PER_PARAM COMPUTE_MS BATCH_PER_MACHINE
-- prints a Markdown table.
local params, real, compute_ms, batch = tonumber(arg[1]), tonumber(arg[2]), tonumber(arg[3]), tonumber(arg[4])
assert(params and real and compute_ms and batch, "usage: allreduce_model.lua PARAMS BYTES COMPUTE_MS BATCH")
local S = params * real
local seg = math.min(S, 65536)
local K = math.ceil(S / seg)
local compute = compute_ms / 1e3
-- 10 Gbit/s Ethernet through TCP; 100 Gbit/s InfiniBand or RoCE (RDMA)
local nets = {
  { name = "10 Gbit/s", beta = 10e9 / 8, alpha = 25e-6 },
  { name = "100 Gbit/s", beta = 100e9 / 8, alpha = 2e-6 },
}

local function log2ceil(n)
  return math.ceil(math.log(n, 2) - 1e-12)
end

local function rnnc(n, net)
  return (n - 2 + K) * (net.alpha + seg / net.beta) + (log2ceil(n) + K - 1) * (net.alpha + 2 * seg / net.beta)
end

local function ring(n, net)
  return 2 * (n - 1) * (net.alpha + S / (n * net.beta))
end

local function gather(n, net)
  return (n - 1) * (net.alpha + S / net.beta) + log2ceil(n) * (net.alpha + S / net.beta)
end

local function rate(t)
  return string.format("%.1f", 1 / (compute + t))
end

print(string.format("S = %d parameters x %d bytes = %.0f KB per gradient, %d segments of %.0f KB; compute "
  .. "%.2f ms per step for a batch of %d per machine; 10 Gbit/s: alpha %g us (TCP), 100 Gbit/s: alpha %g us (RDMA).",
  params, real, S / 1e3, K, seg / 1e3, compute_ms, batch, nets[1].alpha * 1e6, nets[2].alpha * 1e6))
print("")
print("| machines | global batch | bytes per rank per step (in / out) | rnnc all-reduce, 10 Gbit/s (ms) | steps/s "
  .. "| rnnc all-reduce, 100 Gbit/s (ms) | steps/s | ring (MPI_Allreduce, not bit-identical) steps/s, 10 / 100 "
  .. "| gather to rank 0 steps/s, 10 / 100 |")
print("| ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- | --- |")
for _, n in ipairs({ 8, 16, 32, 64, 128, 256 }) do
  local a, b = rnnc(n, nets[1]), rnnc(n, nets[2])
  print(string.format("| %d | %d | %.0f KB / %.0f KB | %.2f | %s | %.3f | %s | %s / %s | %s / %s |", n, n * batch,
    2 * S / 1e3, 2 * S / 1e3, a * 1e3, rate(a), b * 1e3, rate(b), rate(ring(n, nets[1])), rate(ring(n, nets[2])),
    rate(gather(n, nets[1])), rate(gather(n, nets[2]))))
end

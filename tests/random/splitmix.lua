-- The seeded stream the random model makers draw from (make_models.lua,
-- make_graphs.lua): splitmix64. Lua 5.4 integers are 64-bit two's
-- complement with wrapping + and *, and >> is a logical shift, so this is
-- bit-exact everywhere.
local splitmix = {}

function splitmix.new(seed)
  local state = seed
  local r = {}
  function r.next64()
    state = state + 0x9E3779B97F4A7C15
    local z = state
    z = (z ~ (z >> 30)) * 0xBF58476D1CE4E5B9
    z = (z ~ (z >> 27)) * 0x94D049BB133111EB
    return z ~ (z >> 31)
  end
  -- Start again from another seed (a stream of its own).
  function r.reseed(s)
    state = s
  end
  -- Uniform integer in [lo, hi] (the modulo bias of a 63-bit draw is negligible).
  function r.int(lo, hi)
    return lo + (r.next64() >> 1) % (hi - lo + 1)
  end
  -- True with probability p.
  function r.chance(p)
    return (r.next64() >> 11) * (1.0 / 9007199254740992.0) < p
  end
  function r.pick(list)
    return list[r.int(1, #list)]
  end
  return r
end

return splitmix

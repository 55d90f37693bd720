std = "lua54"
max_line_length = 120

-- Model descriptions are run in the DSL's environment (generator/dsl.lua),
-- which defines the Keras names they use.
files["tests/fuzz/models/regressions"] = { ignore = { "113" } }
files["tests/import/graphs"] = { ignore = { "113" } }

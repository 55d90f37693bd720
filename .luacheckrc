std = "lua54"
max_line_length = 120
-- model descriptions (the fuzzer's regression cases) read the DSL's globals
exclude_files = { "tests/fuzz/models/regressions/*.lua" }

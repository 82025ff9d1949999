-- dkim-cap.lua - DKIMMaxSignatures 2: of three signatures the top two
-- are verified, the last result says one more was left out.
dofile(FUNCDIR .. "/mtlib.lua")
dofile(FUNCDIR .. "/dkim-lib.lua")

dkim_case("three signatures, two verified", "three.eml",
    { { "pass (2048-bit key)", "three.eml", 1 },
      { "pass (1024-bit key; 1 more signature not verified, DKIMMaxSignatures 2)",
        "three.eml", 2 } })
dkim_case("two signatures are within the cap", "two.eml",
    { { "pass (1024-bit key)", "two.eml", 1 },
      { "fail (signature mismatch)", "two.eml", 2 } })

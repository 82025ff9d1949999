-- spf-lib.lua - helpers of the spf-*.lua suites (after mtlib.lua).

-- spf_entry - the "spf=..." element of our Authentication-Results
-- header (it also holds dkim= and dmarc=), or nil when it has none
function spf_entry(conn)
	local v = header_added(conn, "Authentication-Results")
	if v == nil then return nil, nil end
	return v:match("\n\t(spf=[^;]*)"), v
end

-- authres - an Authentication-Results header was inserted, ours, and
-- its spf element is exactly want ("spf=pass smtp.mailfrom=..."), or
-- absent when want is nil
function authres(conn, want)
	yes("Authentication-Results inserted",
	    mt.eom_check(conn, MT_HDRINSERT, "Authentication-Results"))
	local got, v = spf_entry(conn)
	yes("Authentication-Results starts with our authserv-id",
	    v ~= nil and v:sub(1, 15) == "mx.example.org;", v)
	eq("Authentication-Results spf element", want, got)
end

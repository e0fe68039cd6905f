-- jsvformat: the pretty-printer of ServiceStack.Text 3.9.35 (JsvFormatter)
-- as spec/lokad-store-format.md 9.4 describes it, quote-blind, for building
-- test bodies: format(compact, newline) returns the stored body.
local sub, rep = string.sub, string.rep

local function format(s, nl)
  local out, tabs, first = {}, 0, true
  local function tabline(k) out[#out + 1] = nl .. rep("\t", k) end
  local i, n = 1, #s
  while i <= n do
    local c = sub(s, i, i)
    local prev = i > 1 and sub(s, i - 1, i - 1) or ""
    local nx = sub(s, i + 1, i + 1)
    if c == "{" or c == "[" then
      if prev == ":" and (nx == "}" or nx == "]") then
        out[#out + 1] = c .. nx
        i = i + 1
      else
        if prev == ":" then tabline(tabs) end
        out[#out + 1] = c
        tabs = tabs + 1
        tabline(tabs)
        first = true
      end
    elseif c == "}" or c == "]" then
      tabs = tabs - 1
      tabline(tabs)
      out[#out + 1] = c
      first = true
    elseif c == "," then
      out[#out + 1] = c
      tabline(tabs)
      first = true
    else
      out[#out + 1] = c
      if c == ":" and first then
        out[#out + 1] = " "
        first = false
      end
    end
    i = i + 1
  end
  return nl .. table.concat(out) .. nl
end

return { format = format }

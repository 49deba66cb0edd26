-- scripts/bench/load's mixed workload for wrk: of every ten requests, eight reads by
-- an analyst (pages of projects and awards, the agencies, the portfolio) and two
-- pushes of 50 new projects by an agency token. Tokens come from the environment
-- (ICTMON_LOAD_ANALYST, ICTMON_LOAD_AGENCY); each thread numbers its own projects.

local analyst = "Bearer " .. os.getenv("ICTMON_LOAD_ANALYST")
local agency = "Bearer " .. os.getenv("ICTMON_LOAD_AGENCY")
local reads = { "/v1/projects?limit=100", "/v1/awards?limit=100",
	"/v1/agencies?limit=50", "/v1/projects?limit=20&sort=-planned_cost" }
local threads = 0

function setup(thread)
	threads = threads + 1
	thread:set("tid", threads)
end

local n = 0

function request()
	n = n + 1
	if n % 10 == 3 or n % 10 == 8 then
		local records = {}
		for i = 1, 50 do
			records[i] = string.format(
			    '{"id":"LOAD-%d-%d-%d","title":"Plataforma de carga %d",'
			    .. '"status":"planned","planned_cost":%d,"currency":"CLP"}',
			    tid, n, i, i, 1000 * i)
		end
		return wrk.format("POST", "/v1/projects", {
			["Authorization"] = agency,
			["Content-Type"] = "application/json" },
		    '{"projects":[' .. table.concat(records, ",") .. "]}")
	end
	return wrk.format("GET", reads[n % #reads + 1], { ["Authorization"] = analyst })
end

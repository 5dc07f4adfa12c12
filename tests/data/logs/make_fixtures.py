#!/usr/bin/env python3
"""Writes the `logs analyze` fixtures beside this file (re-run to regenerate).

Shapes: Codex CLI rust rollouts (cli_version 0.58.0: session_meta / turn_context /
response_item / event_msg token_count with info.total_token_usage and
last_token_usage) and Claude Code 2.1.5 transcripts (assistant rows with
message.usage, requestId, isSidechain; subagents in SESSION/subagents/).
Every prose field holds the marker SECRET so a test can prove none is printed.
Expected totals are in tests/logs_cli.rs.
"""
import gzip, json, os

HERE = os.path.dirname(os.path.abspath(__file__))


def write(rel, lines, gz=False):
    path = os.path.join(HERE, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    text = "".join((l if isinstance(l, str) else json.dumps(l, separators=(",", ":"))) + "\n" for l in lines)
    if gz:
        with gzip.open(path, "wt") as f:
            f.write(text)
    else:
        with open(path, "w") as f:
            f.write(text)


def usage(i, c, o):
    return {"input_tokens": i, "cached_input_tokens": c, "output_tokens": o,
            "reasoning_output_tokens": o // 3, "total_tokens": i + o}


def cx(ts, kind, payload):
    return {"timestamp": ts, "type": kind, "payload": payload}


def tc(ts, last, total):
    info = {"total_token_usage": usage(*total), "model_context_window": 272000}
    if last is not None:
        info["last_token_usage"] = usage(*last)
    return cx(ts, "event_msg", {"type": "token_count", "info": info,
                                "rate_limits": {"primary": {"used_percent": 3.0}}})


def user(ts, text):
    return cx(ts, "response_item", {"type": "message", "role": "user",
                                    "content": [{"type": "input_text", "text": text}]})


def codex():
    day = "codex/sessions/2026/01/10/"
    main_id = "019b0000-0000-7000-8000-000000000001"
    t = "2026-01-10T09:00:"
    write(day + f"rollout-2026-01-10T09-00-00-{main_id}.jsonl", [
        cx(t + "00.000Z", "session_meta", {"id": main_id, "cwd": "/home/u/proj", "originator": "codex_cli_rs",
                                         "cli_version": "0.58.0", "source": "cli", "model_provider": "openai",
                                         "instructions": "SECRET instructions"}),
        cx(t + "00.100Z", "turn_context", {"cwd": "/home/u/proj", "approval_policy": "on-request", "model": "gpt-5-codex", "effort": "medium"}),
        user(t + "00.200Z", "SECRET prompt: fix the token_count parser"),
        tc(t + "05.000Z", (12000, 0, 300), (12000, 0, 300)),
        tc(t + "05.050Z", (12000, 0, 300), (12000, 0, 300)),  # repeated, totals unchanged
        cx(t + "05.100Z", "event_msg", {"type": "token_count", "info": None, "rate_limits": {}}),  # rate limits only
        cx(t + "06.000Z", "response_item", {"type": "function_call_output", "call_id": "c1", "output": "SECRET tool output"}),
        tc(t + "12.000Z", (15000, 11800, 200), (27000, 11800, 500)),
        tc(t + "30.000Z", (40000, 39000, 1000), (67000, 50800, 1500)),
        '{"timestamp":"2026-01-10T09:00:31.000Z","type":"event_msg","payload":{"type":"token_count","info":{"total_tok',  # truncated
        cx(t + "40.000Z", "turn_context", {"cwd": "/home/u/proj", "model": "gpt-5.1-codex"}),
        cx(t + "41.000Z", "event_msg", {"type": "agent_message", "message": "SECRET answer"}),
        tc(t + "50.000Z", (110000, 109000, 500), (177000, 159800, 2000)),
        tc(t + "50.010Z", (110000, 109000, 500), (177000, 159800, 2000)),
        tc(t + "50.020Z", (110000, 109000, 500), (177000, 159800, 2000)),
    ])
    fork_id = "019b0000-0000-7000-8000-000000000002"
    t = "2026-01-10T10:00:"
    write(day + f"rollout-2026-01-10T10-00-00-{fork_id}.jsonl", [
        cx(t + "00.000Z", "session_meta", {"id": fork_id, "forked_from_id": main_id, "cwd": "/home/u/proj",
                                         "cli_version": "0.58.0", "source": "cli", "model_provider": "openai"}),
        # the parent's history replayed in the second the fork was made
        cx(t + "00.001Z", "turn_context", {"cwd": "/home/u/proj", "model": "gpt-5-codex"}),
        user(t + "00.002Z", "SECRET prompt: fix the token_count parser"),
        tc(t + "00.003Z", (12000, 0, 300), (12000, 0, 300)),
        tc(t + "00.004Z", (15000, 11800, 200), (27000, 11800, 500)),
        tc(t + "00.005Z", (40000, 39000, 1000), (67000, 50800, 1500)),
        cx(t + "01.000Z", "turn_context", {"cwd": "/home/u/proj", "model": "gpt-5-codex"}),
        user(t + "01.100Z", "SECRET prompt: now try the other branch"),
        tc(t + "08.000Z", (70000, 66000, 400), (137000, 116800, 1900)),
        tc(t + "20.000Z", None, (217000, 195800, 2500)),  # no last_token_usage: totals differenced
    ])
    arch_id = "019a0000-0000-7000-8000-000000000003"
    write(f"codex/archived_sessions/rollout-2025-12-20T08-00-00-{arch_id}.jsonl.gz", [
        cx("2025-12-20T08:00:00.000Z", "session_meta", {"id": arch_id, "cwd": "/home/u/old", "cli_version": "0.58.0", "source": "cli"}),
        cx("2025-12-20T08:00:00.100Z", "turn_context", {"cwd": "/home/u/old", "model": "gpt-5-codex"}),
        user("2025-12-20T08:00:00.200Z", "SECRET prompt: archived"),
        tc("2025-12-20T08:00:04.000Z", (5000, 0, 100), (5000, 0, 100)),
        tc("2025-12-20T08:00:09.000Z", (8000, 4900, 150), (13000, 4900, 250)),
    ], gz=True)
    # Codex's prompt history: text only, of no known kind, never read past its head
    write("codex/history.jsonl", [{"session_id": main_id, "ts": 1768035600, "text": "SECRET history"}])


def claude_row(sid, n, msg_id, req, usage, side=False, ts="2026-01-11T10:00:00.000Z", text="SECRET reply", agent=None):
    row = {"parentUuid": f"p{n}", "isSidechain": side, "userType": "external", "cwd": "/home/u/proj",
           "sessionId": sid, "version": "2.1.5", "gitBranch": "main",
           "message": {"id": msg_id, "type": "message", "role": "assistant", "model": "claude-sonnet-4-5-20250929",
                       "content": [{"type": "text", "text": text}], "stop_reason": None, "stop_sequence": None,
                       "usage": dict(usage, service_tier="standard")},
           "requestId": req, "type": "assistant", "uuid": f"u{n}", "timestamp": ts}
    if agent:
        row["agentId"] = agent
    return row


def cu(i, cc, cr, o):
    return {"input_tokens": i, "cache_creation_input_tokens": cc, "cache_read_input_tokens": cr,
            "cache_creation": {"ephemeral_5m_input_tokens": cc, "ephemeral_1h_input_tokens": 0}, "output_tokens": o}


def claude():
    sid = "5f0c2d1e-0000-4000-8000-00000000aaaa"
    proj = "claude/projects/-home-u-proj/"
    user = {"parentUuid": None, "isSidechain": False, "type": "user", "sessionId": sid, "version": "2.1.5",
            "message": {"role": "user", "content": "SECRET question with \"usage\" in it"},
            "uuid": "u0", "timestamp": "2026-01-11T09:59:58.000Z"}
    write(proj + f"{sid}.jsonl", [
        {"type": "summary", "summary": "SECRET summary", "leafUuid": "u9"},
        user,
        # one streamed response written three times; only output_tokens grows
        claude_row(sid, 1, "msg_01A", "req_01A", cu(3, 2000, 15000, 1)),
        claude_row(sid, 2, "msg_01A", "req_01A", cu(3, 2000, 15000, 1)),
        claude_row(sid, 3, "msg_01A", "req_01A", cu(3, 2000, 15000, 412)),
        claude_row(sid, 4, "msg_01B", "req_01B", cu(5, 500, 17500, 95), ts="2026-01-11T10:00:20.000Z"),
        '{"parentUuid":"p5","isSidechain":false,"type":"assistant","message":{"id":"msg_01X","usage":{"input_tokens":',  # truncated
        claude_row(sid, 6, "msg_01C", "req_01C", cu(2, 30000, 0, 10), ts="2026-01-11T10:01:00.000Z"),
        claude_row(sid, 7, "msg_01C", "req_01C", cu(2, 30000, 0, 250), ts="2026-01-11T10:01:00.000Z"),
        {"parentUuid": "p7", "isSidechain": False, "sessionId": sid, "type": "assistant", "uuid": "u8",
         "timestamp": "2026-01-11T10:02:00.000Z", "message": {"id": "msg_syn", "model": "<synthetic>", "role": "assistant",
         "content": [{"type": "text", "text": "SECRET No response requested."}],
         "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}},
    ])
    sub = proj + f"{sid}/subagents/agent-a1b2c3.jsonl"
    write(sub, [
        claude_row(sid, 11, "msg_01S1", "req_01S1", cu(4, 8000, 0, 300), side=True, agent="a1b2c3"),
        claude_row(sid, 12, "msg_01S2", "req_01S2", cu(6, 200, 8000, 40), side=True, agent="a1b2c3"),
        claude_row(sid, 13, "msg_01S2", "req_01S2", cu(6, 200, 8000, 120), side=True, agent="a1b2c3"),
    ])
    with open(os.path.join(HERE, proj + f"{sid}/subagents/agent-a1b2c3.meta.json"), "w") as f:
        json.dump({"agentType": "general-purpose", "spawnDepth": 1}, f)


def requests():
    # TerminalBench-style run log: request, first delta and response timestamps
    def at(s):
        whole, frac = divmod(round(s * 1000), 1000)
        h, rem = divmod(whole, 3600)
        m, sec = divmod(rem, 60)
        return f"2026-01-12T{8 + h:02d}:{m:02d}:{sec:02d}.{frac:03d}Z"
    rows = ["task,provider,model,request_time,first_token_time,end_time,input_tokens,cached_tokens,output_tokens,prompt"]
    calls = [  # task, provider, model, start, ttft, decode, in, cached, out
        ("task-a", "openrouter", "qwen3.6-27b", 0, 0.8, 4.0, 6000, 0, 200),
        ("task-a", "openrouter", "qwen3.6-27b", 10, 1.1, 4.0, 14000, 12000, 204),
        ("task-a", "openrouter", "qwen3.6-27b", 25, 4.0, 4.4, 40000, 2000, 198),
        ("task-a", "openrouter", "qwen3.6-27b", 40, 3.2, 5.0, 70000, 66000, 208),
        ("task-b", "openai", "gpt-5.5", 100, 1.3, 1.0, 65000, 60000, 180),
        ("task-b", "openai", "gpt-5.5", 1000, 1.2, 1.0, 66000, 64000, 179),
    ]
    for task, prov, model, t0, ttft, dec, i, c, o in calls:
        rows.append(f'{task},{prov},{model},{at(t0)},{at(t0 + ttft)},{at(t0 + ttft + dec)},{i},{c},{o},"SECRET prompt, with a comma"')
    rows.insert(4, "task-a,openrouter,qwen3.6-27b,2026-01-12T08:00:20.000Z")  # a short row
    write("requests/terminalbench-run.csv", rows)
    write("requests/openrouter-export.jsonl", [
        {"session_id": "chat-1", "provider": "openrouter", "model": "gpt-5.4-mini", "request_time": 1768291200,
         "ttft_s": 0.9, "total_s": 2.9, "prompt_tokens": 20000, "cached_input_tokens": 18000, "completion_tokens": 320,
         "output": "SECRET completion"},
        {"session_id": "chat-1", "provider": "openrouter", "model": "gpt-5.4-mini", "request_time": 1768291210,
         "ttft_s": 0.7, "total_s": 2.7, "prompt_tokens": 21000, "cached_input_tokens": 20000, "completion_tokens": 300},
        {"session_id": "chat-1", "model": "gpt-5.4-mini", "completion_tokens": 3, "output": "SECRET no input count"},
    ])


codex()
claude()
requests()

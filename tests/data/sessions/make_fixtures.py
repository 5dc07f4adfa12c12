#!/usr/bin/env python3
"""Writes the import fixtures: a Codex CLI rollout (shapes of cli_version
0.58, rollout lines {timestamp, type, payload}) and a Claude Code transcript
with one subagent file (shapes of Claude Code 2.1.x: version 2.1.5, subagents
in SESSION/subagents/agent-ID.jsonl since 2.1.2). Hand-written content, no
real user data. Run from this folder; the output is committed."""
import json, os

def w(path, rows):
    os.makedirs(os.path.dirname(path) or ".", exist_ok=True)
    with open(path, "w") as f:
        for r in rows:
            f.write(json.dumps(r, separators=(",", ":")) + "\n")

SRC = "\n".join(f"{i:>4}\tfn parse_{i}(s: &str) -> Option<u32> {{ s.trim().parse().ok() }}" for i in range(1, 9))
TEST_OUT = "running 3 tests\ntest parse_works ... FAILED\n---- parse_works stdout ----\nassertion `left == right` failed\n  left: None\n right: Some(7)\n"

def ts(s):
    return f"2026-01-10T09:00:{s:02d}.000Z"

def usage(inp, cached, out, tot):
    return {"type": "token_count", "info": {
        "total_token_usage": {"input_tokens": tot[0], "cached_input_tokens": tot[1], "output_tokens": tot[2], "reasoning_output_tokens": 0, "total_tokens": tot[0] + tot[2]},
        "last_token_usage": {"input_tokens": inp, "cached_input_tokens": cached, "output_tokens": out, "reasoning_output_tokens": 0, "total_tokens": inp + out},
        "model_context_window": 272000}, "rate_limits": None}

codex = [
    {"timestamp": ts(0), "type": "session_meta", "payload": {"id": "019b0000-0000-7000-8000-00000000c0de", "timestamp": ts(0), "cwd": "/home/u/proj", "originator": "codex_cli_rs", "cli_version": "0.58.0", "source": "cli", "model_provider": "openai",
        "base_instructions": {"text": "You are Codex, a coding agent running in the user's terminal. Keep changes small and run the tests."}}},
    {"timestamp": ts(0), "type": "turn_context", "payload": {"cwd": "/home/u/proj", "approval_policy": "on-request", "sandbox_policy": {"type": "workspace-write"}, "model": "gpt-5-codex", "effort": "medium", "summary": "auto"}},
    {"timestamp": ts(0), "type": "response_item", "payload": {"type": "message", "role": "developer", "content": [{"type": "input_text", "text": "<permissions instructions>Commands run in a workspace-write sandbox.</permissions instructions>"}]}},
    {"timestamp": ts(0), "type": "response_item", "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "<environment_context>\n  <cwd>/home/u/proj</cwd>\n  <shell>bash</shell>\n</environment_context>"}]}},
    {"timestamp": ts(1), "type": "response_item", "payload": {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "The parse test fails. Fix it."}]}},
    {"timestamp": ts(1), "type": "event_msg", "payload": {"type": "user_message", "message": "The parse test fails. Fix it.", "images": []}},
    {"timestamp": ts(3), "type": "response_item", "payload": {"type": "reasoning", "summary": [{"type": "summary_text", "text": "**Reading the file**"}], "content": None, "encrypted_content": "gAAAAB-fixture"}},
    {"timestamp": ts(3), "type": "response_item", "payload": {"type": "function_call", "name": "shell", "arguments": "{\"command\":[\"bash\",\"-lc\",\"cat src/parse.rs\"]}", "call_id": "call_1"}},
    {"timestamp": ts(3), "type": "event_msg", "payload": usage(4310, 0, 52, (4310, 0, 52))},
    {"timestamp": ts(4), "type": "response_item", "payload": {"type": "function_call_output", "call_id": "call_1", "output": json.dumps({"output": SRC, "metadata": {"exit_code": 0, "duration_seconds": 0.01}})}},
    {"timestamp": ts(6), "type": "response_item", "payload": {"type": "function_call", "name": "shell", "arguments": "{\"command\":[\"bash\",\"-lc\",\"cargo test parse\"]}", "call_id": "call_2"}},
    {"timestamp": ts(6), "type": "event_msg", "payload": usage(4530, 4224, 41, (8840, 4224, 93))},
    {"timestamp": ts(6), "type": "event_msg", "payload": usage(4530, 4224, 41, (8840, 4224, 93))},
    {"timestamp": ts(9), "type": "response_item", "payload": {"type": "function_call_output", "call_id": "call_2", "output": json.dumps({"output": TEST_OUT, "metadata": {"exit_code": 101, "duration_seconds": 2.5}})}},
    {"timestamp": ts(12), "type": "response_item", "payload": {"type": "reasoning", "summary": [], "content": None, "encrypted_content": "gAAAAB-fixture-2"}},
    {"timestamp": ts(12), "type": "response_item", "payload": {"type": "custom_tool_call", "status": "completed", "call_id": "call_3", "name": "apply_patch", "input": "*** Begin Patch\n*** Update File: src/parse.rs\n@@\n-    s.trim().parse().ok()\n+    s.trim().trim_end_matches(';').parse().ok()\n*** End Patch"}},
    {"timestamp": ts(12), "type": "event_msg", "payload": usage(4660, 4480, 88, (13500, 8704, 181))},
    {"timestamp": ts(13), "type": "response_item", "payload": {"type": "custom_tool_call_output", "call_id": "call_3", "output": "Success. Updated the following files:\nM src/parse.rs\n"}},
    {"timestamp": ts(15), "type": "response_item", "payload": {"type": "message", "role": "assistant", "content": [{"type": "output_text", "text": "Fixed: parse now ignores a trailing semicolon."}]}},
    {"timestamp": ts(15), "type": "event_msg", "payload": usage(4720, 4608, 14, (18220, 13312, 195))},
    {"timestamp": ts(15), "type": "event_msg", "payload": {"type": "agent_message", "message": "Fixed: parse now ignores a trailing semicolon."}},
]
w("codex-rollout.jsonl", codex)

SID = "7c1d0e2f-0000-4000-8000-00000000beef"
def line(kind, uuid, parent, t, message, **extra):
    r = {"parentUuid": parent, "isSidechain": False, "userType": "external", "cwd": "/home/u/proj", "sessionId": SID, "version": "2.1.5", "gitBranch": "main", "type": kind, "message": message, "uuid": uuid, "timestamp": t}
    r.update(extra)
    return r

def amsg(mid, blocks, inp, cc, cr, out):
    return {"id": mid, "type": "message", "role": "assistant", "model": "claude-sonnet-4-5", "content": blocks, "stop_reason": None,
            "usage": {"input_tokens": inp, "cache_creation_input_tokens": cc, "cache_read_input_tokens": cr, "output_tokens": out, "service_tier": "standard"}}

claude = [
    {"type": "file-history-snapshot", "messageId": "u1", "snapshot": {"trackedFileBackups": {}}, "isSnapshotUpdate": False},
    line("user", "u1", None, ts(0), {"role": "user", "content": "The parse test fails. Fix it."}),
    # one response streamed as two lines (thinking, then a tool call), same message.id
    line("assistant", "a1", "u1", ts(2), amsg("msg_01", [{"type": "thinking", "thinking": "Read the file first.", "signature": "sig"}], 3, 14200, 0, 8), requestId="req_01"),
    line("assistant", "a2", "a1", ts(2), amsg("msg_01", [{"type": "tool_use", "id": "toolu_01", "name": "Read", "input": {"file_path": "/home/u/proj/src/parse.rs"}}], 3, 14200, 0, 61), requestId="req_01"),
    line("user", "u2", "a2", ts(3), {"role": "user", "content": [{"tool_use_id": "toolu_01", "type": "tool_result", "content": SRC}]}, toolUseResult={"type": "text"}),
    line("assistant", "a3", "u2", ts(5), amsg("msg_02", [{"type": "tool_use", "id": "toolu_02", "name": "Task", "input": {"description": "Run the tests", "prompt": "Run cargo test parse and report failures"}}], 3, 310, 14200, 72), requestId="req_02"),
    line("user", "u3", "a3", ts(14), {"role": "user", "content": [{"tool_use_id": "toolu_02", "type": "tool_result", "content": [{"type": "text", "text": "1 test failed: parse_works (left: None, right: Some(7))"}]}]}),
    line("assistant", "a4", "u3", ts(16), amsg("msg_03", [{"type": "text", "text": "The input has a trailing semicolon; I will trim it."}, {"type": "tool_use", "id": "toolu_03", "name": "Edit", "input": {"file_path": "/home/u/proj/src/parse.rs", "old_string": "s.trim().parse()", "new_string": "s.trim().trim_end_matches(';').parse()"}}], 3, 120, 14510, 95), requestId="req_03"),
    line("user", "u4", "a4", ts(17), {"role": "user", "content": [{"tool_use_id": "toolu_03", "type": "tool_result", "content": "The file /home/u/proj/src/parse.rs has been updated."}, {"type": "image", "source": {"type": "base64", "media_type": "image/png", "data": "iVBORw0KGgo="}}]}),
    line("assistant", "a5", "u4", ts(18), {"id": "msg_syn", "type": "message", "role": "assistant", "model": "<synthetic>", "content": [{"type": "text", "text": "API Error"}], "usage": {"input_tokens": 0, "output_tokens": 0, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}),
    line("assistant", "a6", "u4", ts(19), amsg("msg_04", [{"type": "text", "text": "Fixed: parse ignores a trailing semicolon."}], 3, 60, 14630, 12), requestId="req_04"),
    {"type": "summary", "summary": "Fix parse test", "leafUuid": "a6"},
]
w(f"claude/{SID}.jsonl", claude)

def side(kind, uuid, parent, t, message, **extra):
    r = line(kind, uuid, parent, t, message, **extra)
    r.update({"isSidechain": True, "agentId": "b2c3d4"})
    return r

agent = [
    side("user", "s1", None, ts(6), {"role": "user", "content": "Run cargo test parse and report failures"}),
    side("assistant", "s2", "s1", ts(7), amsg("msg_s1", [{"type": "tool_use", "id": "toolu_s1", "name": "Bash", "input": {"command": "cargo test parse"}}], 3, 5100, 0, 30), requestId="req_s1"),
    side("user", "s3", "s2", ts(10), {"role": "user", "content": [{"tool_use_id": "toolu_s1", "type": "tool_result", "content": TEST_OUT}]}),
    side("assistant", "s4", "s3", ts(12), amsg("msg_s2", [{"type": "text", "text": "1 test failed: parse_works (left: None, right: Some(7))"}], 3, 90, 5100, 20), requestId="req_s2"),
]
w(f"claude/{SID}/subagents/agent-b2c3d4.jsonl", agent)
with open(f"claude/{SID}/subagents/agent-b2c3d4.meta.json", "w") as f:
    json.dump({"agentType": "general-purpose", "spawnDepth": 1}, f)
    f.write("\n")

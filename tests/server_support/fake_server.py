#!/usr/bin/env python3
"""A scripted fake llama-server / OpenAI-compatible server for rooftune's tests.

FAKE_MODE picks the behaviour: ok, crash_load, load_error, never_ready,
hang, early, malformed, crash_request, crash_request_traceback (a Python
error line in the log first, as mlx_lm.server writes), no_tokenize, bad_usage (no /tokenize and
usage.prompt_tokens = -7), oom_load (an allocation
failure in the log, then abort), killed_load (SIGKILL, as the OOM killer does),
serve_on_help (`--help` starts serving, as some wrappers
do), echo_auth (every POST answers 401 echoing the request's headers, as some
proxies do). FAKE_PIDFILE gets our pid.
FAKE_API_KEY makes every POST require `Authorization: Bearer <key>`.
"""
import json, os, signal, sys, time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

mode = os.environ.get("FAKE_MODE", "ok")
args = sys.argv[1:]
if "--version" in args:
    print("version: fake 1 (build 0)")
    sys.exit(0)
if "--help" in args and mode != "serve_on_help":
    # No flag lines: rooftune then rejects no extra flag on this binary.
    print("fake llama-server for tests")
    sys.exit(0)
port = int(args[args.index("--port") + 1]) if "--port" in args else 8080
if "--help" in args:
    port = 0  # serve_on_help: always binds, so it really does hang
    if os.environ.get("FAKE_HELP_PIDFILE"):
        with open(os.environ["FAKE_HELP_PIDFILE"], "w") as f:
            f.write(str(os.getpid()))
if os.environ.get("FAKE_PIDFILE"):
    with open(os.environ["FAKE_PIDFILE"], "w") as f:
        f.write(str(os.getpid()))
print("0.00.001 I srv    load_model: loading model 'fake.gguf'", flush=True)
if mode == "crash_load":
    print("0.00.002 I srv    load_model: initializing, n_slots = 4, n_ctx_slot = 4096, kv_unified = 'true'", flush=True)
    print("0.00.003 E fake: about to die", flush=True)
    os.kill(os.getpid(), signal.SIGSEGV)
if mode == "load_error":
    print("0.00.002 E llama_model_load: error loading model: fake tensor data is truncated", flush=True)
    print("0.00.003 E srv  llama_server: exiting due to model loading error", flush=True)
    sys.exit(1)
if mode == "oom_load":
    print("0.00.002 E ggml_backend_cpu_buffer_type_alloc_buffer: failed to allocate buffer of size 4294967296", flush=True)
    print("0.00.003 E llama_init_from_model: failed to initialize the context: failed to allocate compute pp buffers", flush=True)
    os.kill(os.getpid(), signal.SIGABRT)
if mode == "killed_load":
    os.kill(os.getpid(), signal.SIGKILL)
if mode == "never_ready":
    while True:
        time.sleep(1)
print("0.00.004 I srv    load_model: initializing, n_slots = 4, n_ctx_slot = 4096, kv_unified = 'true'", flush=True)
key = os.environ.get("FAKE_API_KEY")


class H(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *a):
        pass

    def send_json(self, code, obj):
        b = json.dumps(obj).encode()
        self.send_response(code)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)

    def do_GET(self):
        if self.path == "/health":
            self.send_json(200, {"status": "ok"})
        else:
            self.send_json(404, {"error": "not found"})

    def event(self, obj):
        data = obj if isinstance(obj, str) else json.dumps(obj)
        self.wfile.write(f"data: {data}\n\n".encode())
        self.wfile.flush()

    def do_POST(self):
        n = int(self.headers.get("Content-Length", "0"))
        body = json.loads(self.rfile.read(n) or b"{}")
        if mode == "echo_auth":
            echoed = "; ".join(f"{k.lower()}: {v}" for k, v in self.headers.items())
            return self.send_json(401, {"error": {"message": f"unauthorized; request was: {echoed}"},
                                        "headers": dict(self.headers.items())})
        if key and self.headers.get("Authorization") != f"Bearer {key}":
            return self.send_json(401, {"error": {"message": "bad key"}})
        if self.path == "/tokenize":
            if mode in ("no_tokenize", "bad_usage"):
                return self.send_json(404, {"error": "not found"})
            if mode == "hang":
                time.sleep(3600)
            return self.send_json(200, {"tokens": [ord(c) % 250 for c in body.get("content", "")]})
        chat = self.path.endswith("/chat/completions")
        if not (chat or self.path == "/completion"):
            return self.send_json(404, {"error": "not found"})
        if mode == "crash_request_traceback":
            print("RuntimeError: [fake] out of memory while serving", flush=True)
        if mode in ("crash_request", "crash_request_traceback"):
            os.kill(os.getpid(), signal.SIGSEGV)
        if mode == "hang":
            time.sleep(3600)
        prompt = body.get("prompt") or body["messages"][0]["content"]
        n_prompt = len(prompt)
        n_gen = int(body.get("n_predict") or body.get("max_tokens") or 8)
        self.send_response(200)
        self.send_header("Content-Type", "text/event-stream")
        self.send_header("Connection", "close")
        self.end_headers()
        self.close_connection = True
        if mode == "malformed":
            self.event("{not json")
            return
        timings = {"cache_n": 0, "prompt_n": n_prompt, "prompt_ms": 2.0 + n_prompt * 0.01,
                   "predicted_n": n_gen, "predicted_ms": n_gen * 1.0}
        if chat:
            self.event({"choices": [{"index": 0, "delta": {"role": "assistant", "content": None}}]})
        for i in range(n_gen):
            if mode == "early" and i == 2:
                return
            time.sleep(0.001)
            if chat:
                field = "reasoning_content" if i < n_gen // 2 else "content"
                self.event({"choices": [{"index": 0, "delta": {field: "x"}, "finish_reason": None}]})
            else:
                self.event({"content": "x", "tokens": [7], "stop": False})
        if chat:
            self.event({"choices": [{"index": 0, "delta": {}, "finish_reason": "length"}]})
            if mode == "bad_usage":  # a plain OpenAI server with a broken count
                self.event({"choices": [], "usage": {"prompt_tokens": -7, "completion_tokens": n_gen}})
            else:
                self.event({"choices": [], "usage": {"prompt_tokens": n_prompt + 5, "completion_tokens": n_gen,
                            "prompt_tokens_details": {"cached_tokens": 0}}, "timings": timings})
            self.event("[DONE]")
        else:
            self.event({"content": "", "tokens": [], "stop": True, "stop_type": "limit",
                        "tokens_evaluated": n_prompt, "tokens_predicted": n_gen, "timings": timings})


ThreadingHTTPServer.daemon_threads = True
ThreadingHTTPServer(("127.0.0.1", port), H).serve_forever()

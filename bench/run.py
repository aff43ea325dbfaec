#!/usr/bin/env python3
"""Centralino PBX benchmarks, each beside Kamailio where the comparison makes sense.

Prints:
  * registrations/s with digest auth (SIPp REGISTER -> 401 -> REGISTER -> 200),
  * calls/s with RTP flowing (SIPp caller -> PBX -> SIPp callee, media through the relay),
  * CPU microseconds per relayed RTP packet (process CPU time / packets relayed),
  * CTI event latency: SIP state change -> lamp event at 1, 100 and 1,000 CTI clients, server
    memory per client, one slow client (bench/cti-bench, see bench/cti.md),
  * the cti-core softphone's media: CPU per active call leg (G.711 and Opus, release build),
    added latency of the jitter buffer (clean and with 5 % loss + 40 ms jitter), memory with one
    call up (bench/softphone-bench),
  * the web UI: time to the first live directory with 1,000 extensions, lamp event to DOM,
    JS heap (ui/tests/bench.mjs in Chromium),
  * the desktop app (cti-desktop, release): cold start to the UI on screen, and memory (the
    app plus its WebKit processes), under Xvfb,
  * call-center queues: calls/s entering a queue and answered by its agents (SIPp callers and
    agents through the server), and the CPU cost of the live statistics with 50 queues x 200
    agents (bench/callcenter-bench, the sans-IO call center on a simulated clock).

Kamailio runs as registrar + stateful proxy with the same passwords; it relays no media, so
the RTP figure has no Kamailio column. Everything runs on 127.0.0.1 and stops by itself.

Usage: bench/run.py [--quick] [--cti-only] [--softphone-only] [--ui-only] [--desktop-only] [--callcenter-only]   (needs sipp and kamailio; installs them with apt if missing)
"""
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FLAGS = {"--quick", "--cti-only", "--softphone-only", "--ui-only", "--desktop-only", "--callcenter-only"}
# A full run takes many minutes and builds in release: never start one on a typo or a --help.
if any(a in ("-h", "--help") for a in sys.argv[1:]):
    print(__doc__)
    sys.exit(0)
_unknown = [a for a in sys.argv[1:] if a not in FLAGS]
if _unknown:
    sys.exit(f"bench/run.py: unknown argument(s) {' '.join(_unknown)}; see --help")
QUICK = "--quick" in sys.argv
CTI_ONLY = "--cti-only" in sys.argv
SOFTPHONE_ONLY = "--softphone-only" in sys.argv
UI_ONLY = "--ui-only" in sys.argv
DESKTOP_ONLY = "--desktop-only" in sys.argv
CALLCENTER_ONLY = "--callcenter-only" in sys.argv
# Where cargo puts its builds (CARGO_TARGET_DIR when set, as cargo itself reads it).
TARGET = os.environ.get("CARGO_TARGET_DIR") or os.path.join(ROOT, "target")
QUEUE_CALLS = 500 if QUICK else 3000
QUEUE_RATE = 100 if QUICK else 400
REG_COUNT = 2000 if QUICK else 20000
REG_RATE = 5000 if QUICK else 20000
CALLS = 1000 if QUICK else 5000
CALL_RATE = 200 if QUICK else 500
RTP_CALLS = 20 if QUICK else 50
RTP_SECONDS = 10 if QUICK else 20


def need(binary, package):
    if shutil.which(binary) is None:
        subprocess.run(["apt-get", "install", "-y", "-qq", package], check=True,
                       env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"))


def free_port(kind=socket.SOCK_DGRAM):
    s = socket.socket(socket.AF_INET, kind)
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def users_csv(tmp):
    path = os.path.join(tmp, "users.csv")
    with open(path, "w") as f:
        f.write("SEQUENTIAL\n")
        for n in range(201, 209):
            # SIPp expands a keyword injected from the CSV, not one nested in the scenario.
            f.write(f"{n};[authentication username={n} password=demo{n}]\n")
    return path


def sipp(args, cwd, timeout=600):
    t0 = time.monotonic()
    p = subprocess.run(["sipp", *args, "-nostdin", "-timeout", f"{timeout}s"], cwd=cwd,
                       capture_output=True, text=True)
    return p, time.monotonic() - t0


class Pbx:
    def __init__(self, tmp, name="pbx", setup=()):
        self.dir = os.path.join(tmp, name)
        os.makedirs(self.dir)
        exe = os.path.join(TARGET, "release", "pbx-server")
        self.exe = exe
        # Seed in a separate process: argon2's 19 MiB working sets would otherwise stay in
        # the server's heap and hide its steady-state memory.
        subprocess.run([exe, "--data-dir", self.dir, "seed-demo"], check=True, env=dict(os.environ, RUST_LOG="warn"))
        for args in setup:
            subprocess.run([exe, "--data-dir", self.dir, *args], check=True, env=dict(os.environ, RUST_LOG="warn"))
        self.proc = subprocess.Popen(
            [exe, "--data-dir", self.dir, "run", "--bind", "127.0.0.1", "--sip-port", "0",
             "--http-port", "0", "--cti-port", "0", "--qualify-interval", "0", "--rtp-min", "30000", "--rtp-max", "39999"],
            stdout=subprocess.PIPE, stderr=open(os.path.join(self.dir, "pbx.log"), "w"), text=True,
            env=dict(os.environ, RUST_LOG="warn"))
        line = self.proc.stdout.readline().split()
        assert line and line[0] == "READY", line
        kv = dict(x.split("=", 1) for x in line[1:])
        self.sip, self.http = kv["sip"], kv["http"]

    def metrics(self):
        with urllib.request.urlopen(f"http://{self.http}/metrics") as r:
            return json.load(r)

    def cpu_seconds(self):
        with open(f"/proc/{self.proc.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        ticks = os.sysconf("SC_CLK_TCK")
        return (int(fields[11]) + int(fields[12])) / ticks

    def rss_kib(self):
        with open(f"/proc/{self.proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1])
        return 0

    def stop(self):
        self.proc.terminate()
        self.proc.wait(timeout=10)


class Kamailio:
    def __init__(self, tmp):
        self.port = free_port()
        cfg = open(os.path.join(ROOT, "bench", "kamailio.cfg.in")).read().replace("@PORT@", str(self.port))
        path = os.path.join(tmp, "kamailio.cfg")
        open(path, "w").write(cfg)
        self.proc = subprocess.Popen(["kamailio", "-f", path, "-DD", "-E", "-m", "256", "-M", "32"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        time.sleep(1.5)
        self.sip = f"127.0.0.1:{self.port}"

    def stop(self):
        self.proc.terminate()
        try:
            self.proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.proc.kill()


def tone(tmp):
    import math
    path = os.path.join(tmp, "tone.pcmu")
    # Any PCMU bytes will do for load; 0xFF is mu-law silence, keep it audible-ish anyway.
    data = bytes(0xFF if (i // 20) % 2 else 0x80 + int(10 * math.sin(i)) % 16 for i in range(8000))
    open(path, "wb").write(data)


def bench_registrations(target, tmp):
    csv = users_csv(tmp)
    p, elapsed = sipp([target, "-sf", os.path.join(ROOT, "bench", "sipp", "register_csv.xml"), "-i", "127.0.0.1",
                       "-p", str(free_port()), "-inf", csv, "-m", str(REG_COUNT), "-r", str(REG_RATE), "-l", "200"], tmp)
    ok = count(p.stdout, "Successful call")
    return ok / elapsed, ok, elapsed


def count(out, label):
    # SIPp's final screen: "Successful call   |  ...  | N" ; take the last column of the line.
    for line in out.splitlines():
        if label in line:
            parts = [x.strip() for x in line.split("|") if x.strip()]
            try:
                return int(parts[-1].split()[0])
            except (ValueError, IndexError):
                pass
    return 0


def register_callee(target, tmp, port):
    p, _ = sipp([target, "-sf", os.path.join(ROOT, "bench", "sipp", "register.xml"), "-i", "127.0.0.1",
                 "-p", str(port), "-s", "202", "-au", "202", "-ap", "demo202", "-m", "1"], tmp)
    assert p.returncode == 0, p.stdout + p.stderr


def bench_calls(target, tmp, calls, rate, talk_ms, concurrent=None, sample=None, media=True):
    port = free_port()
    register_callee(target, tmp, port)
    uas = os.path.join(ROOT, "tests", "sipp", "uas_answer.xml") if media else os.path.join(ROOT, "bench", "sipp", "uas_nomedia.xml")
    uac = os.path.join(ROOT, "tests", "sipp", "uac_call.xml") if media else os.path.join(ROOT, "bench", "sipp", "uac_nomedia.xml")
    callee = subprocess.Popen(["sipp", target, "-sf", uas,
                               "-i", "127.0.0.1", "-p", str(port), "-mp", "50000", "-nostdin",
                               "-timeout", "300s"], cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    time.sleep(0.5)
    args = [target, "-sf", uac, "-i", "127.0.0.1",
            "-p", str(free_port()), "-mp", "52000", "-s", "202", "-set", "caller", "201", "-au", "201",
            "-ap", "demo201", "-m", str(calls), "-r", str(rate), "-d", str(talk_ms)]
    if concurrent:
        args += ["-l", str(concurrent)]
    if sample is None:
        p, elapsed = sipp(args, tmp)
    else:
        # Sample the server while the calls are up.
        t0 = time.monotonic()
        proc = subprocess.Popen(["sipp", *args, "-nostdin", "-timeout", "600s"], cwd=tmp,
                                stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        time.sleep(talk_ms / 2000)
        sample()
        out, err = proc.communicate()
        p = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
        elapsed = time.monotonic() - t0
    callee.terminate()
    callee.wait()
    return count(p.stdout, "Successful call"), count(p.stdout, "Failed call"), elapsed


def bench_cti():
    """CTI event latency: bench/cti-bench starts its own release pbx-server and prints its figures."""
    subprocess.run(["cargo", "build", "--release", "-p", "pbx-server", "-p", "cti-bench"], cwd=ROOT, check=True)
    release = os.path.join(TARGET, "release")
    args = [os.path.join(release, "cti-bench"), "--pbx", os.path.join(release, "pbx-server")]
    if QUICK:
        args += ["--rounds", "50"]
    print("\n== CTI event latency ==", flush=True)
    p = subprocess.run(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    print(p.stdout, flush=True)
    if p.returncode != 0:
        print(f"cti-bench failed (exit status {p.returncode})", flush=True)


SOFTPHONE_LABELS = [
    ("cpu_per_leg_pcmu_pct", "CPU per active call leg, G.711 u-law (% of one core)"),
    ("cpu_per_leg_opus_pct", "CPU per active call leg, Opus (% of one core)"),
    ("jitter_clean_pcmu_mean_ms", "jitter buffer added latency, clean loopback: mean ms"),
    ("jitter_clean_pcmu_max_ms", "jitter buffer added latency, clean loopback: max ms"),
    ("jitter_clean_opus_mean_ms", "jitter buffer added latency, clean, Opus: mean ms"),
    ("jitter_loss5_jitter40_mean_ms", "jitter buffer added latency, 5% loss + 40 ms jitter: mean ms"),
    ("jitter_loss5_jitter40_max_ms", "jitter buffer added latency, 5% loss + 40 ms jitter: max ms"),
    ("jitter_loss5_jitter40_target_ms", "jitter buffer target, 5% loss + 40 ms jitter: ms"),
    ("rss_idle_kib", "process RSS before any call (KiB)"),
    ("rss_one_call_kib", "process RSS with one call up, both legs in-process (KiB)"),
]


def bench_softphone():
    """The softphone's media loop (bench/softphone-bench, a cti-core example), release build."""
    subprocess.run(["cargo", "build", "--release", "-p", "cti-core", "--example", "softphone-bench"],
                   cwd=ROOT, check=True)
    exe = os.path.join(TARGET, "release", "examples", "softphone-bench")
    args = [exe] + (["--quick"] if QUICK else [])
    print("\n== softphone media (cti-core, 10 calls = 20 legs per codec) ==", flush=True)
    p = subprocess.run(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    figures = dict(line.split(" ", 1) for line in p.stdout.splitlines() if " " in line)
    for key, label in SOFTPHONE_LABELS:
        print(f"{label:<70}{figures.get(key, '?'):>12}", flush=True)
    if p.returncode != 0:
        print(f"softphone-bench failed (exit status {p.returncode})", flush=True)


def bench_ui():
    """The web UI alone in Chromium: ui/tests/bench.mjs against a stand-in CTI server."""
    ui = os.path.join(ROOT, "ui")
    print("\n== web UI (1,000 extensions, Chromium) ==", flush=True)
    if not os.path.isdir(os.path.join(ui, "node_modules")):
        subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ui, check=True)
    subprocess.run(["npm", "run", "build"], cwd=ui, check=True, stdout=subprocess.DEVNULL)
    p = subprocess.run(["npm", "run", "--silent", "bench"], cwd=ui, stdout=subprocess.PIPE, text=True)
    print(p.stdout, flush=True)
    if p.returncode != 0:
        print(f"ui bench failed (exit status {p.returncode})", flush=True)


def tree_mem_kib(pid, field):
    """`field` (`Rss:` or `Pss:`, from smaps_rollup) summed over a process and its descendants
    (the app and its WebKit processes), KiB. PSS shares the common libraries out instead of
    counting them once per process, as RSS does."""
    children = {}
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            with open(f"/proc/{d}/stat") as f:
                ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            children.setdefault(ppid, []).append(int(d))
        except (OSError, ValueError, IndexError):
            continue
    total, todo = 0, [pid]
    while todo:
        p = todo.pop()
        todo.extend(children.get(p, []))
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                for line in f:
                    if line.startswith(field):
                        total += int(line.split()[1])
        except OSError:
            pass
    return total


def bench_desktop():
    """cti-desktop (release) under its own Xvfb: process start to the UI calling `ui_ready`,
    and the memory of the app with its WebKit processes at the sign-in page."""
    need("Xvfb", "xvfb")
    ui = os.path.join(ROOT, "ui")
    if not os.path.isfile(os.path.join(ui, "dist", "index.html")):
        if not os.path.isdir(os.path.join(ui, "node_modules")):
            subprocess.run(["npm", "ci", "--no-audit", "--no-fund"], cwd=ui, check=True)
        subprocess.run(["npm", "run", "build"], cwd=ui, check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cargo", "build", "--release", "-p", "cti-desktop"], cwd=ROOT, check=True)
    target = TARGET
    exe = os.path.join(target, "release", "cti-desktop")
    print("\n== desktop app (cti-desktop release, Xvfb) ==", flush=True)
    display = next(n for n in range(140, 400) if not os.path.exists(f"/tmp/.X{n}-lock"))
    xvfb = subprocess.Popen(["Xvfb", f":{display}", "-screen", "0", "1400x900x24", "-nolisten", "tcp"],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    starts, rss, pss = [], [], []
    try:
        deadline = time.time() + 10
        while not os.path.exists(f"/tmp/.X11-unix/X{display}") and time.time() < deadline:
            time.sleep(0.05)
        for _ in range(2 if QUICK else 5):
            cfg = tempfile.mkdtemp(prefix="centralino-desktop-")
            with open(os.path.join(cfg, "desktop.json"), "w") as f:
                json.dump({"api": {"enabled": True, "port": 0, "token": "bench-token-0123456789abcdef"}}, f)
            env = dict(os.environ, DISPLAY=f":{display}", RUST_LOG="info", CENTRALINO_DESKTOP_CONFIG_DIR=cfg)
            t0 = time.monotonic()
            app = subprocess.Popen([exe], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
            ready = None
            try:
                for line in app.stdout:
                    if "ui ready" in line:
                        ready = time.monotonic() - t0
                        break
                if ready is None:
                    print("the app exited before its UI was ready", flush=True)
                    break
                starts.append(ready * 1000)
                time.sleep(2)
                rss.append(tree_mem_kib(app.pid, "Rss:"))
                pss.append(tree_mem_kib(app.pid, "Pss:"))
            finally:
                app.terminate()
                try:
                    app.wait(10)
                except subprocess.TimeoutExpired:
                    app.kill()
                shutil.rmtree(cfg, ignore_errors=True)
    finally:
        xvfb.terminate()
        xvfb.wait()
    if starts:
        runs = ", ".join(f"{t:.0f}" for t in starts)
        print(f"{'cold start to UI on screen (ms, each run a new process)':<70}{runs:>30}", flush=True)
        print(f"{'memory at sign-in, app + WebKit processes, PSS / RSS (MiB, median)':<70}"
              f"{sorted(pss)[len(pss) // 2] / 1024:>22.1f} / {sorted(rss)[len(rss) // 2] / 1024:.1f}",
              flush=True)


def iso_ms(s):
    from datetime import datetime
    return int(datetime.fromisoformat(s.replace("Z", "+00:00")).timestamp() * 1000)


def bench_queue_throughput(tmp):
    """Calls through a queue: SIPp callers dial queue 600 (rrmemory, 7 agents 202-208 registered
    on one SIPp UAS that answers at once, ring_busy so an agent in a call takes the next one),
    talk 1 s and hang up. Rates come from the records' queue rows."""
    agents = [str(n) for n in range(202, 209)]
    setup = [["set-queue", "600", "strategy=rrmemory", "wrapup_s=0", "ring_busy=1", "max_wait_s=0"]]
    setup += [["set-queue-member", "600", a, "0"] for a in agents]
    pbx = Pbx(tmp, "pbx-queue", setup)
    try:
        port = free_port()
        for a in agents:
            p, _ = sipp([pbx.sip, "-sf", os.path.join(ROOT, "bench", "sipp", "register.xml"), "-i", "127.0.0.1",
                         "-p", str(port), "-s", a, "-au", a, "-ap", f"demo{a}", "-m", "1"], tmp)
            assert p.returncode == 0, p.stdout + p.stderr
        uas = subprocess.Popen(["sipp", pbx.sip, "-sf", os.path.join(ROOT, "bench", "sipp", "uas_answer_now.xml"),
                                "-i", "127.0.0.1", "-p", str(port), "-nostdin", "-timeout", "600s"],
                               cwd=tmp, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        time.sleep(0.5)
        cpu0, t0 = pbx.cpu_seconds(), time.monotonic()
        p, elapsed = sipp([pbx.sip, "-sf", os.path.join(ROOT, "bench", "sipp", "uac_nomedia.xml"), "-i", "127.0.0.1",
                           "-p", str(free_port()), "-s", "600", "-set", "caller", "201", "-au", "201", "-ap", "demo201",
                           "-m", str(QUEUE_CALLS), "-r", str(QUEUE_RATE), "-d", "1000"], tmp)
        cpu = pbx.cpu_seconds() - cpu0
        wall = time.monotonic() - t0
        uas.terminate()
        uas.wait()
        failed = count(p.stdout, "Failed call")
        time.sleep(1)
        out = subprocess.run([pbx.exe, "--data-dir", pbx.dir, "cdr", "--json"], capture_output=True, text=True,
                             env=dict(os.environ, RUST_LOG="warn")).stdout
    finally:
        pbx.stop()
    rows = [d for r in (json.loads(l) for l in out.splitlines() if l.strip())
            for d in r["details"] if d["detail_destination_type"] == "queue"]
    enters = sorted(iso_ms(d["detail_enter_datetime"]) for d in rows)
    answers = sorted(iso_ms(d["detail_answer_datetime"]) for d in rows if d["detail_answer_datetime"])
    waits = [iso_ms(d["detail_answer_datetime"]) - iso_ms(d["detail_enter_datetime"])
             for d in rows if d["detail_answer_datetime"]]
    rate = lambda ts: (len(ts) - 1) * 1000 / max(ts[-1] - ts[0], 1) if len(ts) > 1 else 0.0
    print(f"\n== call-center queue throughput (SIPp, queue 600, 7 agents, target {QUEUE_RATE}/s, 1 s talk) ==",
          flush=True)
    print(f"{'calls entering the queue / s':<60}{rate(enters):>12.1f}", flush=True)
    print(f"{'calls answered by agents / s':<60}{rate(answers):>12.1f}", flush=True)
    print(f"{'calls offered / answered / failed (SIPp)':<60}{f'{len(enters)} / {len(answers)} / {failed}':>12}", flush=True)
    if waits:
        waits.sort()
        print(f"{'wait in queue ms: mean / p99 / max':<60}"
              f"{f'{sum(waits) / len(waits):.1f} / {waits[int(len(waits) * 0.99) - 1]} / {waits[-1]}':>12}", flush=True)
    print(f"{'pbx-server CPU during the run (% of one core)':<60}{cpu * 100 / max(wall, 0.001):>12.1f}", flush=True)


CALLCENTER_LABELS = [
    ("events", "call-center events simulated (enter, ring, answer, end, abandon, timers)"),
    ("events_per_simulated_s", "events per simulated second"),
    ("calls_offered", "calls offered"),
    ("calls_answered", "calls answered"),
    ("calls_abandoned", "calls abandoned"),
    ("decide_us_per_event", "CPU us per event: call-center decisions (poll, strategies)"),
    ("stats_us_per_event", "CPU us per event: live statistics (views of what changed)"),
    ("views_sent_per_event", "queue/agent views that changed per event"),
    ("stats_core_pct", "live statistics at this load (% of one core)"),
    ("full_rebuild_us_per_event", "for comparison: all 50 queue views rebuilt, us per event"),
]


def bench_callcenter():
    """Live statistics with 50 queues x 200 agents (bench/callcenter-bench), release build."""
    subprocess.run(["cargo", "build", "--release", "-p", "pbx-server", "--bins", "--example", "callcenter-bench"],
                   cwd=ROOT, check=True)
    exe = os.path.join(TARGET, "release", "examples", "callcenter-bench")
    args = [exe] + (["--quick"] if QUICK else [])
    p = subprocess.run(args, cwd=ROOT, stdout=subprocess.PIPE, text=True)
    figures = dict(line.split(" ", 1) for line in p.stdout.splitlines() if " " in line)
    print(f"\n== call-center live statistics ({figures.get('queues', '?')} queues x "
          f"{figures.get('members_per_queue', '?')} agents, {figures.get('agents', '?')} agents in 5 queues each, "
          f"{figures.get('simulated_s', '?')} s simulated) ==", flush=True)
    for key, label in CALLCENTER_LABELS:
        print(f"{label:<76}{figures.get(key, '?'):>10}", flush=True)
    if p.returncode != 0:
        print(f"callcenter-bench failed (exit status {p.returncode})", flush=True)
    need("sipp", "sip-tester")
    tmp = tempfile.mkdtemp(prefix="centralino-bench-cc-")
    try:
        bench_queue_throughput(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def main():
    if CALLCENTER_ONLY:
        bench_callcenter()
        return
    if UI_ONLY:
        bench_ui()
        return
    if DESKTOP_ONLY:
        bench_desktop()
        return
    if CTI_ONLY:
        bench_cti()
        return
    if SOFTPHONE_ONLY:
        bench_softphone()
        return
    need("sipp", "sip-tester")
    need("kamailio", "kamailio")
    subprocess.run(["cargo", "build", "--release", "-p", "pbx-server"], cwd=ROOT, check=True)
    tmp = tempfile.mkdtemp(prefix="centralino-bench-")
    tone(tmp)
    rows = []

    pbx = Pbx(tmp)
    kam = Kamailio(tmp)
    try:
        # First, on the fresh server: steady-state memory and relay cost.
        time.sleep(1)
        rss0 = pbx.rss_kib()
        seen = {}

        def sample():
            seen["rss"] = pbx.rss_kib()
            seen["calls"] = pbx.metrics()["active_calls"]
            seen["p0"], seen["c0"] = pbx.metrics()["rtp_packets_relayed"], pbx.cpu_seconds()
            time.sleep(RTP_SECONDS / 4)
            seen["p1"], seen["c1"] = pbx.metrics()["rtp_packets_relayed"], pbx.cpu_seconds()

        ok, failed, elapsed = bench_calls(pbx.sip, tmp, RTP_CALLS, RTP_CALLS, RTP_SECONDS * 1000, RTP_CALLS, sample)
        packets = seen["p1"] - seen["p0"]
        us = (seen["c1"] - seen["c0"]) * 1e6 / max(packets, 1)
        rows.append((f"CPU us per relayed RTP packet ({seen['calls']} calls up, {packets:,} packets)", f"{us:.2f}",
                     "n/a (no relay)"))
        per_call = (seen["rss"] - rss0) / max(seen["calls"], 1)
        rows.append(("pbx-server memory: idle RSS MiB / KiB per connected call", f"{rss0 / 1024:.1f} / {per_call:.0f}",
                     "n/a"))
        r_pbx, n_pbx, t_pbx = bench_registrations(pbx.sip, tmp)
        r_kam, n_kam, t_kam = bench_registrations(kam.sip, tmp)
        rows.append((f"registrations/s (digest, target {REG_RATE}/s, 200 concurrent)", f"{r_pbx:,.0f}", f"{r_kam:,.0f}"))
        print(f"registrations: centralino {n_pbx} in {t_pbx:.1f}s, kamailio {n_kam} in {t_kam:.1f}s", flush=True)

        talk = 1000
        ok, failed, elapsed = bench_calls(pbx.sip, tmp, CALLS, CALL_RATE, talk)
        cps_pbx = ok / max(elapsed - talk / 1000, 0.001)
        kok, kfailed, kelapsed = bench_calls(kam.sip, tmp, CALLS, CALL_RATE, talk)
        cps_kam = kok / max(kelapsed - talk / 1000, 0.001)
        rows.append((f"calls/s with RTP (target {CALL_RATE}/s, {talk} ms talk)", f"{cps_pbx:,.1f} ({failed} failed)",
                     f"{cps_kam:,.1f} ({kfailed} failed, media not relayed)"))
        ok, failed, elapsed = bench_calls(pbx.sip, tmp, CALLS, CALL_RATE, talk, media=False)
        cps_pbx = ok / max(elapsed - talk / 1000, 0.001)
        kok, kfailed, kelapsed = bench_calls(kam.sip, tmp, CALLS, CALL_RATE, talk, media=False)
        cps_kam = kok / max(kelapsed - talk / 1000, 0.001)
        rows.append((f"calls/s signalling only (target {CALL_RATE}/s)", f"{cps_pbx:,.1f} ({failed} failed)",
                     f"{cps_kam:,.1f} ({kfailed} failed)"))

    finally:
        pbx.stop()
        kam.stop()
    width = max(len(r[0]) for r in rows) + 2
    print()
    print(f"{'figure':<{width}}{'centralino':>24}  {'kamailio 5.6':>40}")
    for name, a, b in rows:
        print(f"{name:<{width}}{a:>24}  {b:>40}")
    shutil.rmtree(tmp, ignore_errors=True)
    bench_cti()
    bench_softphone()
    bench_ui()
    bench_desktop()
    bench_callcenter()


if __name__ == "__main__":
    main()

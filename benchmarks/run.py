"""The ratio benchmark suite: `python -m benchmarks.run --mode quick|full|ci [--gate]`.

One run: build or reuse the template (benchmarks.seed), clone it, capture the service's SQL
(benchmarks.capture), serve the service and the raw floor (benchmarks.floor_app) with the same gunicorn
sync workers, then measure every scenario of goals.toml as a ratio to its floor in interleaved rounds
(service, floor, service, floor, ...; medians). When the floor itself varies too much (coefficient of
variation above `cv_threshold`) more rounds run, up to `max_rounds`; a scenario still noisy is marked so.
Writes benchmarks/results/<date>-<mode>.json and benchmarks/RESULTS.md. With --gate, exits 1 when a ratio
misses its CI gate.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import platform
import re
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
import uuid
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import psycopg
from psycopg import sql

from benchmarks.common import (
    BENCH_DIR,
    GUNICORN,
    PYTHON,
    RESULTS_DIR,
    ROOT,
    bench_env,
    conninfo,
    cv,
    load_goals,
    median,
    template_name,
)

LUA = str(BENCH_DIR / "lua" / "bench.lua")
SERVICE_PORT = int(os.environ.get("BENCH_SERVICE_PORT", "18731"))
FLOOR_PORT = SERVICE_PORT + 1
WORKERS = os.environ.get("BENCH_WORKERS", "2")
HTTPS = {"X-Forwarded-Proto": "https"}


def log(message: str) -> None:
    print(f"[bench {datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


# --- processes -----------------------------------------------------------------------------------------


def run(
    argv: list[str], env: dict[str, str] | None = None, **kwargs: Any
) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(argv, cwd=ROOT, env=env, text=True, capture_output=True, check=True, **kwargs)  # noqa: S603
    except subprocess.CalledProcessError as exc:
        raise SystemExit(
            f"{argv[:4]} failed ({exc.returncode}):\n{exc.stdout[-2000:]}\n{exc.stderr[-4000:]}"
        ) from exc


@contextlib.contextmanager
def gunicorn(app: str, port: int, env: dict[str, str], log_path: Path) -> Iterator[None]:
    handle = log_path.open("w")
    process = subprocess.Popen(  # noqa: S603 - fixed argv
        [GUNICORN, app, "--workers", WORKERS, "--worker-class", "sync", "--bind", f"127.0.0.1:{port}",
         "--backlog", "256", "--timeout", "120", "--log-level", "warning"],
        cwd=ROOT, env=env, stdout=handle, stderr=subprocess.STDOUT, start_new_session=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                probe = urllib.request.Request(f"http://127.0.0.1:{port}/healthz", headers=HTTPS)
                urllib.request.urlopen(probe, timeout=2)  # noqa: S310
                break
            except OSError as exc:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"gunicorn {app} did not start: see {log_path}") from exc
                if getattr(exc, "code", None) is not None:  # an HTTP error answer: it is up
                    break
                time.sleep(0.5)
        yield
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=30)
        handle.close()


def wrk(
    url: str,
    *,
    seconds: float,
    connections: int,
    headers: dict[str, str],
    post_body: Path | None = None,
) -> dict[str, float]:
    argv = ["wrk", "-t", str(min(connections, 2)), "-c", str(connections), "-d", f"{max(1, round(seconds))}s",
            "--latency", "--timeout", "30s", "-s", LUA]  # fmt: skip
    for name, value in {**HTTPS, **headers}.items():
        argv += ["-H", f"{name}: {value}"]
    env = dict(os.environ)
    if post_body is not None:
        env["BENCH_POST_BODY"] = str(post_body)
        env["BENCH_NONCE"] = uuid.uuid4().hex[:10]
    result = run([*argv, url], env=env)
    line = next(x for x in result.stdout.splitlines() if x.startswith("BENCH_JSON "))
    data: dict[str, float] = json.loads(line.removeprefix("BENCH_JSON "))
    data["rps"] = data["requests"] / (data["duration_us"] / 1e6)
    if data["non2xx"] or data["socket_errors"]:
        raise SystemExit(
            f"wrk {url}: {data['non2xx']} non-2xx answers, {data['socket_errors']} socket errors"
        )
    return data


def interleaved(
    series: dict[str, Callable[[], dict[str, float]]],
    *,
    floor: str,
    metric: str,
    rounds: int,
    max_rounds: int,
    threshold: float,
) -> dict[str, Any]:
    """Rounds of every series in turn; more rounds while the floor's `metric` varies above `threshold`."""
    samples: dict[str, list[dict[str, float]]] = {name: [] for name in series}
    while True:
        for name, measure in series.items():
            samples[name].append(measure())
        done = len(samples[floor])
        noise = cv([s[metric] for s in samples[floor]])
        if done >= rounds and (noise <= threshold or done >= max_rounds):
            break
        if done >= rounds:
            log(f"  floor {floor} CV {noise:.2f} > {threshold}: one more round")
    return {"samples": samples, "floor_cv": noise, "valid": noise <= threshold, "rounds": done}


def med(result: dict[str, Any], name: str, metric: str) -> float:
    return median([s[metric] for s in result["samples"][name]])


# --- the run -------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    mem_kb = 0
    with contextlib.suppress(OSError, StopIteration):
        mem_line = next(x for x in Path("/proc/meminfo").read_text().splitlines() if x.startswith("MemTotal"))
        mem_kb = int(mem_line.split()[1])
    with psycopg.connect(conninfo("postgres")) as conn:
        row = conn.execute("SHOW server_version").fetchone()
        pg = row[0] if row else "?"
    return {
        "nproc": os.cpu_count(),
        "cpu": cpu,
        "memory_gib": round(mem_kb / 1024 / 1024, 1),
        "postgresql": pg,
        "python": platform.python_version(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }


class Run:
    def __init__(self, mode: str, cfg: dict[str, Any], goals: dict[str, Any], workdir: Path) -> None:
        self.mode, self.cfg, self.goals, self.workdir = mode, cfg, goals, workdir
        self.threshold = float(goals.get("cv_threshold", 0.15))
        self.ratios: dict[str, dict[str, Any]] = {}
        self.context: dict[str, Any] = {}
        self.profiles: dict[str, str] = {}

    def rounds(
        self, series: dict[str, Callable[[], dict[str, float]]], floor: str, metric: str
    ) -> dict[str, Any]:
        return interleaved(
            series,
            floor=floor,
            metric=metric,
            rounds=int(self.cfg["rounds"]),
            max_rounds=int(self.cfg["max_rounds"]),
            threshold=self.threshold,
        )

    def record(self, key: str, value: float, *, detail: dict[str, Any], valid: bool = True) -> None:
        self.ratios[key] = {"value": value, "valid": valid, **detail}
        log(f"  {key} = {value:.3f}")

    def g(self, path: str, *, conns: int, headers: dict[str, str], port: int = SERVICE_PORT,
          post: Path | None = None) -> Callable[[], dict[str, float]]:  # fmt: skip
        seconds = float(self.cfg["round_seconds"])
        url = f"http://127.0.0.1:{port}{path}"
        return lambda: wrk(url, seconds=seconds, connections=conns, headers=headers, post_body=post)


def scenario_submit(r: Run, cap: dict[str, Any], keys: dict[str, str]) -> None:
    log("submission: service vs raw WSGI floor (POST, 2 connections)")
    body = json.dumps(cap["submission_body"])
    path = r.workdir / "submission.json"
    path.write_text(body)
    lab = {"Authorization": f"Api-Key {keys['lab_key']}"}
    result = r.rounds(
        {
            "service": r.g("/api/v1/incidents/", conns=2, headers=lab, post=path),
            "floor": r.g("/submit", conns=2, headers={}, port=FLOOR_PORT, post=path),
        },
        "floor",
        "rps",
    )
    svc_rps, floor_rps = med(result, "service", "rps"), med(result, "floor", "rps")
    svc_p99, floor_p99 = med(result, "service", "p99_us"), med(result, "floor", "p99_us")
    detail = {
        "service_rps": svc_rps,
        "floor_rps": floor_rps,
        "rounds": result["rounds"],
        "floor_cv": result["floor_cv"],
    }
    r.record("submit_throughput", svc_rps / floor_rps, detail=detail, valid=result["valid"])
    detail = {"service_p99_ms": svc_p99 / 1000, "floor_p99_ms": floor_p99 / 1000, "rounds": result["rounds"]}
    r.record("submit_p99", svc_p99 / floor_p99, detail=detail, valid=result["valid"])


def scenario_list(r: Run, cap: dict[str, Any], keys: dict[str, str]) -> None:
    reviewer = {"Authorization": f"Api-Key {keys['reviewer_key']}"}
    log("triage list: service vs raw list floor (2 connections)")
    result = r.rounds(
        {
            "service": r.g("/api/v1/incidents/", conns=2, headers=reviewer),
            "floor": r.g("/list", conns=2, headers={}, port=FLOOR_PORT),
        },
        "floor",
        "rps",
    )
    svc, floor = med(result, "service", "rps"), med(result, "floor", "rps")
    r.context["list_service_rps"], r.context["list_floor_rps"] = svc, floor
    detail = {
        "service_rps": svc,
        "floor_rps": floor,
        "rounds": result["rounds"],
        "floor_cv": result["floor_cv"],
    }
    r.record("list_throughput", svc / floor, detail=detail, valid=result["valid"])

    log("triage list p99, one connection; page 1 vs deep page; searches; web triage page")
    one = {
        "list": r.g("/api/v1/incidents/", conns=1, headers=reviewer),
        "floor": r.g("/list", conns=1, headers={}, port=FLOOR_PORT),
        "deep": r.g(cap["deep_url"], conns=1, headers=reviewer),
        "search_rare": r.g(cap["search_rare_url"], conns=1, headers=reviewer),
        "search_common": r.g(cap["search_common_url"], conns=1, headers=reviewer),
        "triage_page": r.g("/triage/", conns=1, headers={"Cookie": cap["session_cookie"]}),
    }
    # Validity on the floor's mean: a p99 of a few milliseconds jitters between rounds even when quiet.
    result = r.rounds(one, "floor", "mean_us")
    p = {name: med(result, name, "p99_us") / 1000 for name in one}
    p95 = {name: med(result, name, "p95_us") / 1000 for name in one}
    mean = {name: med(result, name, "mean_us") / 1000 for name in one}
    r.context["one_connection_p99_ms"] = p
    r.context["one_connection_p95_ms"] = p95
    r.context["one_connection_mean_ms"] = mean
    valid, rounds = result["valid"], result["rounds"]
    floor_cv = result["floor_cv"]
    detail = {"service_p99_ms": p["list"], "floor_p99_ms": p["floor"], "rounds": rounds, "floor_cv": floor_cv}
    r.record("list_p99", p["list"] / p["floor"], detail=detail, valid=valid)
    list_cv = cv([s["mean_us"] for s in result["samples"]["list"]])
    detail = {"page": cap["deep_page"], "deep_mean_ms": mean["deep"], "page1_mean_ms": mean["list"]}
    detail.update(rounds=rounds, page1_cv=list_cv)
    r.record("deep_page", mean["deep"] / mean["list"], detail=detail, valid=list_cv <= r.threshold)
    detail = {"search_p99_ms": p["search_rare"], "list_p99_ms": p["list"], "rows": cap["search_rare_rows"]}
    r.record("search_selective_p99", p["search_rare"] / p["list"], detail=detail, valid=valid)
    detail = {"broad_p99_ms": p["search_common"], "selective_p99_ms": p["search_rare"], "rounds": rounds}
    r.record("search_broad_p99", p["search_common"] / p["search_rare"], detail=detail, valid=valid)
    detail = {"triage_p95_ms": p95["triage_page"], "api_list_p95_ms": p95["list"], "rounds": rounds}
    r.record("web_triage_p95", p95["triage_page"] / p95["list"], detail=detail, valid=valid)
    page1, deep = cap["list_queries_page1"], cap["list_queries_deep"]
    # Not constant across pages: recorded as infinite, so it fails whatever the counts.
    count = float(max(page1, deep)) if page1 == deep else float("inf")
    r.record(
        "list_queries", count, detail={"page1": page1, "deep": deep, "triage_page": cap["triage_queries"]}
    )


def _timed_get(url: str, headers: dict[str, str]) -> tuple[float, bytes]:
    request = urllib.request.Request(url, headers={**HTTPS, **headers})  # noqa: S310
    started = time.perf_counter()
    with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
        data: bytes = response.read()
    return time.perf_counter() - started, data


def _timed_copy(database: str, query: str) -> tuple[float, int]:
    with psycopg.connect(conninfo(database)) as conn, conn.cursor() as cur:
        started = time.perf_counter()
        size = 0
        with cur.copy(f"COPY ({query}) TO STDOUT") as copy:
            for block in copy:
                size += len(block)
        return time.perf_counter() - started, size


def scenario_exports(r: Run, cap: dict[str, Any], keys: dict[str, str], database: str) -> None:
    log("exports: snapshot jsonl and STIX pages vs COPY ... TO STDOUT of the same rows")
    reviewer = {"Authorization": f"Api-Key {keys['reviewer_key']}"}
    base = f"http://127.0.0.1:{SERVICE_PORT}"
    snapshot_sql = "SELECT * FROM incidents_incident WHERE tlp = 'clear' ORDER BY public_id"
    stix_pages = 5
    list_sql = next(s for s in cap["list_sql"] if 'FROM "incidents_incident"' in s)
    stix_sql = re.sub(r"LIMIT \d+\s*$", f"LIMIT {200 * stix_pages}", list_sql)

    def snapshot() -> dict[str, float]:
        seconds, data = _timed_get(f"{base}/api/v1/snapshots/incidents.jsonl", {})
        return {"rows_per_s": data.count(b"\n") / seconds, "rows": data.count(b"\n"), "s": seconds}

    def snapshot_copy() -> dict[str, float]:
        seconds, _ = _timed_copy(database, snapshot_sql)
        return {"rows_per_s": _count(database, snapshot_sql) / seconds, "s": seconds}

    def stix() -> dict[str, float]:
        url, rows, total = f"{base}/api/v1/incidents/stix?limit=200", 0, 0.0
        for _ in range(stix_pages):
            request = urllib.request.Request(url, headers={**HTTPS, **reviewer})  # noqa: S310
            started = time.perf_counter()
            with urllib.request.urlopen(request, timeout=600) as response:  # noqa: S310
                bundle = json.loads(response.read())
                link = response.headers.get("Link", "")
            total += time.perf_counter() - started
            rows += sum(1 for o in bundle.get("objects", []) if o.get("type") == "incident")
            found = re.search(r"<([^>]+)>", link)
            if not found:
                break
            parts = urlsplit(found.group(1))
            url = f"{base}{parts.path}?{parts.query}"
        return {"rows_per_s": rows / total, "rows": rows, "s": total}

    def stix_copy() -> dict[str, float]:
        seconds, _ = _timed_copy(database, stix_sql)
        return {"rows_per_s": 200 * stix_pages / seconds, "s": seconds}

    result = r.rounds(
        {"snapshot": snapshot, "snapshot_copy": snapshot_copy, "stix": stix, "stix_copy": stix_copy},
        "snapshot_copy",
        "rows_per_s",
    )
    for name, floor in (("snapshot", "snapshot_copy"), ("stix", "stix_copy")):
        svc, flo = med(result, name, "rows_per_s"), med(result, floor, "rows_per_s")
        rows = result["samples"][name][-1].get("rows", 0)
        r.record(f"{name}_export", svc / flo, detail={"service_rows_per_s": svc, "copy_rows_per_s": flo,
                 "rows": rows, "rounds": result["rounds"], "floor_cv": result["floor_cv"]},
                 valid=result["valid"])  # fmt: skip


def _count(database: str, query: str) -> int:
    with psycopg.connect(conninfo(database)) as conn:
        row = conn.execute(f"SELECT count(*) FROM ({query}) AS q").fetchone()  # noqa: S608
        return int(row[0]) if row else 0


def scenario_import(r: Run, env: dict[str, str]) -> None:
    log(f"bulk import: import_evaluations of {r.cfg['import_rows']} rows vs COPY")
    result = run([PYTHON, "-m", "benchmarks.import_bench", "--rows", str(r.cfg["import_rows"]),
                  "--rounds", str(r.cfg["import_rounds"])], env=env)  # fmt: skip
    data = json.loads(result.stdout.strip().splitlines()[-1])
    imp, cop = median(data["import_s"]), median(data["copy_s"])
    r.record("bulk_import", cop / imp, detail={"import_s": imp, "copy_s": cop, "rows": data["rows"],
             "import_rows_per_s": data["rows"] / imp, "copy_rows_per_s": data["rows"] / cop,
             "rounds": len(data["import_s"]), "copy_cv": cv(data["copy_s"])})  # fmt: skip


def scenario_openapi(r: Run, env: dict[str, str]) -> None:
    log("OpenAPI generation vs manage.py check (hyperfine)")
    manage = f"{PYTHON} manage.py"
    commands = {"check": f"{manage} check", "spectacular": f"{manage} spectacular --file /dev/null"}
    samples: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(int(r.cfg["hyperfine_rounds"])):
        out = r.workdir / "hyperfine.json"
        warmup, runs = str(r.cfg.get("hyperfine_warmup", 1)), str(r.cfg["hyperfine_runs"])
        argv = ["hyperfine", "--style", "none", "--warmup", warmup, "--runs", runs, "--export-json", str(out)]
        run([*argv, *commands.values()], env=env)
        for name, entry in zip(commands, json.loads(out.read_text())["results"], strict=True):
            samples[name].append(entry["median"])
    check, spec = median(samples["check"]), median(samples["spectacular"])
    r.record("openapi", spec / check, detail={"spectacular_s": spec, "check_s": check,
             "rounds": len(samples["check"]), "floor_cv": cv(samples["check"])},
             valid=cv(samples["check"]) <= r.threshold)  # fmt: skip


def floors_context(r: Run, capture_path: Path, env: dict[str, str]) -> None:
    log("context floors: list SQL through psycopg (no HTTP), pgbench select-only ceiling")
    result = run([PYTHON, "-m", "benchmarks.floor_app", "--capture", str(capture_path),
                  "--seconds", str(r.cfg["round_seconds"])], env=env)  # fmt: skip
    r.context["raw_psycopg_list_rps"] = json.loads(result.stdout)["rps"]
    name = f"redline_bench_pgbench_{os.getpid()}"
    with psycopg.connect(conninfo("postgres"), autocommit=True) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        pg = [
            "-h",
            env.get("BENCH_PGHOST", "127.0.0.1"),
            "-p",
            env.get("BENCH_PGPORT", "5432"),
            "-U",
            "postgres",
        ]
        run(["pgbench", *pg, "-i", "-q", "-s", "5", name])
        out = run(["pgbench", *pg, "-S", "-c", "2", "-j", "2", "-T", str(int(r.cfg["round_seconds"])), name])
        tps = re.search(r"tps = ([0-9.]+)", out.stdout)
        r.context["pgbench_select_only_tps"] = float(tps.group(1)) if tps else None
    finally:
        with psycopg.connect(conninfo("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def profile_hot(r: Run, env: dict[str, str], failing: list[str]) -> None:
    """A pyinstrument summary of the request behind each failing scenario (benchmarks.profile)."""
    for key in failing:
        with contextlib.suppress(SystemExit, subprocess.TimeoutExpired):
            out = run([PYTHON, "-m", "benchmarks.profile", key], env=env, timeout=900)
            r.profiles[key] = out.stdout


def _passes(value: float, op: str, limit: float) -> bool:
    return value >= limit if op == ">=" else value <= limit


def evaluate(r: Run) -> list[dict[str, Any]]:
    rows = []
    for target in r.goals["targets"]:
        measured = r.ratios.get(target["id"])
        if measured is None:
            continue
        value, op = measured["value"], target["op"]
        rows.append(
            {
                **target,
                "measured": value,
                "pass_target": _passes(value, op, target["target"]),
                "pass_gate": _passes(value, op, target["gate"]),
                "valid": measured["valid"],
                "detail": {k: v for k, v in measured.items() if k not in ("value", "valid")},
            }
        )
    return rows


def write_results(r: Run, rows: list[dict[str, Any]], info: dict[str, Any]) -> Path:
    RESULTS_DIR.mkdir(exist_ok=True)
    stamp = datetime.now(UTC)
    path = RESULTS_DIR / f"{stamp:%Y-%m-%d}-{r.mode}.json"
    document = {**info, "finished_at": stamp.isoformat(), "targets": rows, "context": r.context,
                "profiles": r.profiles}  # fmt: skip
    path.write_text(json.dumps(document, indent=1, default=str) + "\n")
    lines = [
        "# Benchmark results",
        "",
        f"Mode **{r.mode}** ({info['size']} incidents, seed {info['seed']}), {stamp:%Y-%m-%d %H:%M} UTC, "
        f"{info['duration_s']:.0f} s. Raw figures: `{path.relative_to(ROOT)}` (benchmarks/run.py)",
        "",
        f"Machine: {info['machine']['nproc']} CPUs ({info['machine']['cpu']}), "
        f"{info['machine']['memory_gib']} GiB, PostgreSQL {info['machine']['postgresql']}, Python "
        f"{info['machine']['python']}; load average at start {info['machine']['load_average_at_start']}. "
        "Shared machine: absolute times are context only; the ratios are measured in the same run.",
        "",
        "| Scenario | Ratio | Target | Gate (CI) | Target met | Valid | Context |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        context = ", ".join(f"{k} {_fmt(v)}" for k, v in row["detail"].items())
        lines.append(
            f"| {row['what']} | **{row['measured']:.3f}** | {row['op']} {row['target']} "
            f"| {row['op']} {row['gate']} | {'pass' if row['pass_target'] else '**FAIL**'} "
            f"| {'yes' if row['valid'] else 'noisy'} | {context} |"
        )
    lines += [
        "",
        "Context floors (same run): " + ", ".join(f"{k} {_fmt(v)}" for k, v in r.context.items()),
        "",
    ]
    failing = [row for row in rows if not row["pass_target"]]
    if failing:
        lines += ["## Targets not met", ""]
        for row in failing:
            lines += [f"### {row['id']}: {row['measured']:.3f} (target {row['op']} {row['target']})", ""]
            profile = r.profiles.get(row["id"])
            if profile:
                lines += [
                    "Profile of the hot request (pyinstrument, trimmed):",
                    "",
                    "```",
                    profile.strip(),
                    "```",
                    "",
                ]
    notes = BENCH_DIR / "NOTES.md"
    if notes.exists():
        lines += ["## Analysis (benchmarks/NOTES.md, written by hand)", "", notes.read_text().strip(), ""]
    # RESULTS.md is the record of a quick or full run; a CI gate run keeps its table next to its JSON.
    report = BENCH_DIR / "RESULTS.md" if r.mode != "ci" else path.with_suffix(".md")
    report.write_text("\n".join(lines) + "\n")
    return path


def _fmt(value: Any) -> str:
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"
    if isinstance(value, dict):
        return "{" + ", ".join(f"{k}: {_fmt(v)}" for k, v in value.items()) + "}"
    return str(value)


def main() -> None:
    parser = argparse.ArgumentParser(description="Redline ratio benchmarks")
    parser.add_argument("--mode", choices=["quick", "full", "ci"], default="quick")
    parser.add_argument("--gate", action="store_true", help="exit 1 when a ratio misses its CI gate")
    parser.add_argument("--size", type=int, help="override the mode's number of incidents")
    parser.add_argument("--only", help="comma-separated scenario groups: submit,list,exports,import,openapi")
    parser.add_argument("--profile", action="store_true", help="profile the requests of failing targets")
    args = parser.parse_args()
    # A terminated run still drops its clone and stops its servers (the finally blocks).
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    goals = load_goals()
    cfg = dict(goals["modes"][args.mode])
    if args.size:
        cfg["size"] = args.size
    size, seed = int(cfg["size"]), int(cfg["seed"])
    groups = set((args.only or "submit,list,exports,import,openapi").split(","))
    started = time.monotonic()
    info: dict[str, Any] = {"mode": args.mode, "size": size, "seed": seed, "config": cfg}
    info.update(machine=machine(), started_at=datetime.now(UTC).isoformat())
    log(f"mode {args.mode}: {size} incidents, seed {seed}")
    seeded = run([PYTHON, "-m", "benchmarks.seed", "--size", str(size), "--seed", str(seed)], timeout=7200)
    log(seeded.stdout.strip().replace("\n", " | "))
    template = template_name(size, seed)
    clone = f"redline_bench_run_{os.getpid()}"
    with psycopg.connect(conninfo("postgres"), autocommit=True) as admin:
        admin.execute(
            sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(clone), sql.Identifier(template))
        )
    env = bench_env(clone)
    r = Run(args.mode, cfg, goals, Path(tempfile.mkdtemp(prefix="redline-bench-")))
    try:
        run([PYTHON, "manage.py", "collectstatic", "--noinput", "-v", "0"], env=env)
        capture_path = r.workdir / "capture.json"
        out = run([PYTHON, "-m", "benchmarks.capture", "--out", str(capture_path),
                   "--deep-page", str(cfg["deep_page"])], env=env)  # fmt: skip
        log(out.stdout.strip())
        cap = json.loads(capture_path.read_text())
        with psycopg.connect(conninfo(clone)) as conn:
            keys = dict(
                conn.execute("SELECT key, value FROM bench_marker WHERE key LIKE '%%_key'").fetchall()
            )
        floor_env = {**env, "BENCH_CAPTURE": str(capture_path)}
        with (
            gunicorn("config.wsgi:application", SERVICE_PORT, env, r.workdir / "service.log"),
            gunicorn("benchmarks.floor_app:application", FLOOR_PORT, floor_env, r.workdir / "floor.log"),
        ):
            if "list" in groups:
                scenario_list(r, cap, keys)
            if "submit" in groups:
                scenario_submit(r, cap, keys)
            if "exports" in groups:
                scenario_exports(r, cap, keys, clone)
        if "import" in groups:
            scenario_import(r, env)
        if "openapi" in groups:
            scenario_openapi(r, env)
        floors_context(r, capture_path, floor_env)
        rows = evaluate(r)
        if args.profile:
            profile_hot(
                r,
                {**env, "BENCH_CAPTURE": str(capture_path)},
                [x["id"] for x in rows if not x["pass_target"]],
            )
        info["duration_s"] = time.monotonic() - started
        path = write_results(r, rows, info)
        log(f"results: {path.relative_to(ROOT)} and its table (benchmarks/RESULTS.md unless mode ci)")
    finally:
        with psycopg.connect(conninfo("postgres"), autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(clone)))
        _drop_queue(env)
    for row in rows:
        mark = "ok  " if row["pass_gate"] else "GATE"
        limits = f"target {row['op']} {row['target']}, gate {row['gate']}"
        missed = "" if row["pass_target"] else "  [target missed]"
        log(f"{mark} {row['id']}: {row['measured']:.3f} ({limits}){missed}")
    if args.gate and not all(row["pass_gate"] for row in rows):
        sys.exit(1)


def _drop_queue(env: dict[str, str]) -> None:
    """The run's private broker queue (tasks the service published: nobody consumes them here)."""
    with contextlib.suppress(Exception):
        from kombu import Connection

        with Connection(env["CELERY_BROKER_URL"]) as conn:
            conn.default_channel.queue_delete(env["CELERY_TASK_DEFAULT_QUEUE"])


if __name__ == "__main__":
    main()

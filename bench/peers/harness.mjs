// Shared harness of the Node peer benchmarks (ts_bench.mjs, mastra_bench.mjs). It runs the
// same cases as bench/client_bench.cpp, reads the same config file and writes the same JSON
// shape, so bench/report.mjs can put the three clients side by side.
//
// A client adapter provides:
//   name, version          what is measured
//   open(target, i)        a connected client with its tools listed -> { handle, tools }
//   call(handle, target, tool, args, timeoutMs) one call of the tool -> the result's text
//   close(handle)          the client's own disconnect
//   protocol(handle)       the protocol revision it negotiated (for the report)
// Everything is bounded: per-case time limits from the config and a timeout on every await.
import fs from "node:fs";
import http from "node:http";
import { performance } from "node:perf_hooks";

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function withTimeout(promise, ms, what) {
  let timer;
  return Promise.race([
    promise.finally(() => clearTimeout(timer)),
    new Promise((_, reject) => {
      timer = setTimeout(() => reject(new Error(`${what}: no answer within ${ms} ms`)), ms);
      timer.unref?.();
    }),
  ]);
}

const sorted = (v) => [...v].sort((a, b) => a - b);
function pct(v, p) {
  if (v.length === 0) return null;
  const s = sorted(v);
  return s[Math.min(s.length - 1, Math.floor(p * s.length))];
}
const cpuMicros = () => {
  const u = process.cpuUsage();
  return u.user + u.system;
};
// As client_bench's Usage: user and system CPU, minor faults and context switches of this
// process, so that per-call deltas compare like with like.
const usage = () => {
  const r = process.resourceUsage();
  return { user: r.userCPUTime, sys: r.systemCPUTime, minflt: r.minorPageFault,
           nvcsw: r.voluntaryContextSwitches, nivcsw: r.involuntaryContextSwitches };
};
const usagePerCall = (a, b, calls) => ({
  user_us: (b.user - a.user) / calls, sys_us: (b.sys - a.sys) / calls, minor_faults: (b.minflt - a.minflt) / calls,
  voluntary_switches: (b.nvcsw - a.nvcsw) / calls, involuntary_switches: (b.nivcsw - a.nivcsw) / calls,
});
const rssKib = () => Math.round(process.memoryUsage.rss() / 1024);
const statusField = (name) =>
  Number(new RegExp(`^${name}:\\s*(\\d+)`, "m").exec(fs.readFileSync("/proc/self/status", "utf8"))?.[1] ?? 0);
const threads = () => statusField("Threads");
// Peak RSS (VmHWM) from now on: writing 5 to clear_refs resets it (Linux 4.0 and later).
function resetPeakRss() {
  try {
    fs.writeFileSync("/proc/self/clear_refs", "5");
    return true;
  } catch {
    return false;
  }
}

// Collect garbage until RSS holds still (V8 gives pages back lazily), for at most 5 s.
async function settleGc() {
  let last = -1;
  let still = 0;
  const until = performance.now() + 5000;
  while (still < 3 && performance.now() < until) {
    globalThis.gc?.();
    await sleep(150);
    const now = rssKib();
    still = Math.abs(now - last) <= 64 ? still + 1 : 0;
    last = now;
  }
}
const heapKib = () => {
  const m = process.memoryUsage();
  return Math.round((m.heapUsed + m.external) / 1024);
};

// Descendants of this process (children, grandchildren, ...), from /proc: [live, zombies].
function descendants() {
  const parent = new Map();
  const state = new Map();
  for (const d of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(d)) continue;
    try {
      const stat = fs.readFileSync(`/proc/${d}/stat`, "utf8");
      const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
      state.set(Number(d), rest[0]);
      parent.set(Number(d), Number(rest[1]));
    } catch {
      /* gone */
    }
  }
  let live = 0;
  let zombies = 0;
  for (const [pid] of parent) {
    let p = parent.get(pid);
    for (let hops = 0; p && hops < 64; ++hops) {
      if (p === process.pid) {
        if (state.get(pid) === "Z") ++zombies;
        else ++live;
        break;
      }
      p = parent.get(p);
    }
  }
  return [live, zombies];
}

function getSessions(url) {
  return new Promise((resolve) => {
    const req = http.get(url, { agent: false, timeout: 5000 }, (res) => {
      let body = "";
      res.on("data", (c) => (body += c));
      res.on("end", () => {
        try {
          resolve(JSON.parse(body).sessions);
        } catch {
          resolve(null);
        }
      });
    });
    req.on("timeout", () => req.destroy());
    req.on("error", () => resolve(null));
  });
}

export async function runBench(adapter) {
  const argv = process.argv.slice(2);
  const arg = (name) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const list = (name) => arg(name)?.split(",").filter(Boolean);
  const onlyCases = list("--cases");
  const onlyTargets = list("--targets");
  const configPath = arg("--config");
  const outPath = arg("--out");
  if (!configPath || !outPath) {
    process.stderr.write(`usage: ${adapter.name}_bench.mjs --config FILE --out FILE [--cases LIST] [--targets LIST]\n`);
    process.exit(2);
  }
  const cfg = JSON.parse(fs.readFileSync(configPath, "utf8"));
  const callTimeout = cfg.call_timeout_ms ?? 30000;
  const limitMs = (cfg.case_time_limit_s ?? 60) * 1000;
  const out = {
    client: adapter.name,
    client_version: adapter.version,
    runtime: `node ${process.version}`,
    smoke: !!cfg.smoke,
    results: {},
  };
  const log = (m) => process.stderr.write(`[${adapter.name}] ${m}\n`);

  const open = (t, i) => withTimeout(adapter.open(t, i), callTimeout, `open ${t.id}`);
  const close = (h) => withTimeout(Promise.resolve(adapter.close(h)), callTimeout, "close").catch((e) => log(`close: ${e.message}`));
  let seq = 0;
  const call = async (h, t) => {
    const text = `hi ${seq++}`;
    const got = await withTimeout(adapter.call(h, t, "echo", { [t.echo_arg]: text }, callTimeout), callTimeout, `call ${t.id}`);
    if (got !== text) throw new Error(`echo returned ${JSON.stringify(got)?.slice(0, 200)}, expected ${JSON.stringify(text)}`);
  };

  const cases = {
    async cold(t) {
      const times = [];
      let tools = 0;
      let protocol = null;
      await close((await open(t, -1)).handle); // warm-up, not counted: the first connection to a server
      const deadline = performance.now() + limitMs;
      for (let i = 0; i < cfg.cold_runs && performance.now() < deadline; ++i) {
        const t0 = performance.now();
        const { handle, tools: n } = await open(t, i);
        times.push(performance.now() - t0);
        tools = n;
        if (i === 0) protocol = adapter.protocol?.(handle) ?? null;
        await close(handle);
      }
      return { runs: times.length, median_ms: pct(times, 0.5), p90_ms: pct(times, 0.9), min_ms: pct(times, 0), tools, protocol };
    },
    async seq(t) {
      const { handle } = await open(t, 0);
      try {
        for (let i = 0; i < cfg.warmup_calls; ++i) await call(handle, t);
        // As client_bench: seq_rounds rounds of seq_calls calls; CPU per call is the median round's.
        const lat = [];
        const perRound = [];
        const usageRounds = [];
        const deadline = performance.now() + limitMs;
        const t0 = performance.now();
        for (let r = 0; r < Math.max(1, cfg.seq_rounds ?? 1) && performance.now() < deadline; ++r) {
          const u0 = usage();
          let done = 0;
          for (; done < cfg.seq_calls && performance.now() < deadline; ++done) {
            const s = performance.now();
            await call(handle, t);
            lat.push((performance.now() - s) * 1000);
          }
          if (done === 0) continue;
          const u1 = usage();
          perRound.push((u1.user + u1.sys - u0.user - u0.sys) / done);
          usageRounds.push(usagePerCall(u0, u1, done));
        }
        const secs = (performance.now() - t0) / 1000;
        return { calls: lat.length, seconds: secs, calls_per_s: lat.length / secs, p50_us: pct(lat, 0.5), p99_us: pct(lat, 0.99),
                 cpu_us_per_call: pct(perRound, 0.5), cpu_us_per_call_rounds: perRound,
                 usage_per_call_rounds: usageRounds };
      } finally {
        await close(handle);
      }
    },
    async conc(t) {
      const { handle } = await open(t, 0);
      try {
        for (let i = 0; i < cfg.warmup_calls; ++i) await call(handle, t);
        const lat = [];
        const deadline = performance.now() + limitMs;
        let next = 0;
        const worker = async () => {
          while (next < cfg.conc_calls && performance.now() < deadline) {
            ++next;
            const s = performance.now();
            await call(handle, t);
            lat.push((performance.now() - s) * 1000);
          }
        };
        const c0 = cpuMicros();
        const u0 = usage();
        const t0 = performance.now();
        await Promise.all(Array.from({ length: cfg.conc_inflight }, worker));
        const secs = (performance.now() - t0) / 1000;
        const cpu = cpuMicros() - c0;
        return { calls: lat.length, inflight: cfg.conc_inflight, seconds: secs, calls_per_s: lat.length / secs, p50_us: pct(lat, 0.5),
                 p99_us: pct(lat, 0.99), cpu_us_per_call: cpu / lat.length, usage_per_call: usagePerCall(u0, usage(), lat.length) };
      } finally {
        await close(handle);
      }
    },
    // N calls of the `sleep` tool, all started at once through one client, for each run the
    // target lists ({calls, sleep_ms}; a 0 ms sleep is the HTTP burst). Each run has a fresh
    // client; wall time, the process's CPU, peak RSS and thread count, and failures.
    async inflight(t) {
      const runs = [];
      const timeout = cfg.inflight_timeout_ms ?? callTimeout;
      for (const { calls: n, sleep_ms: ms } of t.inflight ?? []) {
        const { handle } = await open(t, 0);
        try {
          const one = () => withTimeout(adapter.call(handle, t, "sleep", { ms }, timeout), timeout, `sleep ${t.id}`);
          if (String(await one()) !== String(ms)) throw new Error("the sleep tool did not answer its ms");
          globalThis.gc?.();
          const peakReset = resetPeakRss();
          const rssBase = rssKib();
          const threadsBase = threads();
          let threadsPeak = threadsBase;
          const sampler = setInterval(() => (threadsPeak = Math.max(threadsPeak, threads())), 20);
          let failures = 0;
          let firstError = null;
          const c0 = cpuMicros();
          const t0 = performance.now();
          const results = await Promise.all(
            Array.from({ length: n }, () =>
              one().then(
                (got) => (String(got) === String(ms) ? 1 : Promise.reject(new Error(`sleep returned ${JSON.stringify(got)?.slice(0, 200)}`))),
              ).catch((e) => {
                ++failures;
                // fetch's own message is "fetch failed"; what failed is its cause.
                firstError ??= `${e?.message ?? e}${e?.cause ? `: ${e.cause.message ?? e.cause}` : ""}`.slice(0, 300);
                return 0;
              }),
            ),
          );
          const secs = (performance.now() - t0) / 1000;
          const cpu = cpuMicros() - c0;
          clearInterval(sampler);
          threadsPeak = Math.max(threadsPeak, threads());
          runs.push({ calls: n, sleep_ms: ms, ok: results.reduce((a, b) => a + b, 0), failures, first_error: firstError,
                      seconds: secs, cpu_ms: cpu / 1000, cpu_us_per_call: cpu / n, rss_base_kib: rssBase,
                      rss_peak_kib: peakReset ? statusField("VmHWM") : null, threads_base: threadsBase, threads_peak: threadsPeak,
                      timeout_ms: timeout });
        } finally {
          await close(handle);
        }
      }
      return { runs };
    },
    // Memory: `n` clients connected (tools listed) at once, plus one warm-up client opened
    // first so that code loading is not counted; then everything is disconnected.
    async mem(t) {
      const n = t.transport === "http" ? cfg.mem_http_clients : cfg.mem_stdio_clients;
      // Exercise the code paths first (opened and closed, not counted), so that the garbage
      // of loading and first use is collected before the baseline, not during the case.
      for (let i = 0; i < (cfg.mem_prewarm ?? 5); ++i) await close((await open(t, 90000 + i)).handle);
      await sleep(cfg.settle_ms ?? 500); // children of the pre-warm clients exit
      const sessions0 = t.sessions_url ? await getSessions(t.sessions_url) : null;
      const [children0] = descendants();
      const handles = [];
      let rssBase;
      let threadsBase;
      let heapBase;
      try {
        handles.push((await open(t, 100000)).handle);
        await call(handles[0], t);
        await settleGc();
        rssBase = rssKib();
        heapBase = heapKib();
        threadsBase = threads();
        const deadline = performance.now() + limitMs;
        for (let i = 0; i < n && performance.now() < deadline; ++i) handles.push((await open(t, 100001 + i)).handle);
      } catch (e) {
        for (const h of handles) await close(h);
        throw e;
      }
      const opened = handles.length - 1;
      await settleGc();
      const rssConnected = rssKib();
      const heapConnected = heapKib();
      const threadsConnected = threads();
      const [childrenConnected] = descendants();
      const sessionsConnected = t.sessions_url ? (await getSessions(t.sessions_url)) - sessions0 : null;
      for (const h of handles) await close(h);
      handles.length = 0;
      const [childrenLeft, zombiesLeft] = descendants();
      await sleep(cfg.settle_ms ?? 500);
      const [childrenLeftLater, zombiesLeftLater] = descendants();
      const sessionsLeft = t.sessions_url ? (await getSessions(t.sessions_url)) - sessions0 : null;
      await settleGc();
      const rssAfter = rssKib();
      return {
        clients: opened + 1,
        rss_base_kib: rssBase,
        rss_connected_kib: rssConnected,
        rss_per_client_kib: (rssConnected - rssBase) / Math.max(1, opened),
        rss_after_disconnect_kib: rssAfter,
        // V8 heap used + external per client: what the JS objects take, whatever RSS shows
        // (V8 fills pages it already holds, and gives others back lazily).
        heap_per_client_kib: (heapConnected - heapBase) / Math.max(1, opened),
        threads_base: threadsBase,
        threads_connected: threadsConnected,
        rss_returned_kib: rssConnected - rssAfter,
        children_connected: childrenConnected - children0,
        children_left: childrenLeft - children0,
        zombies_left: zombiesLeft,
        children_left_after_settle: childrenLeftLater - children0,
        zombies_left_after_settle: zombiesLeftLater,
        sessions_connected: sessionsConnected,
        sessions_left: sessionsLeft,
      };
    },
  };

  for (const t of cfg.targets) {
    const wanted = t.cases.filter((c) => !onlyCases || onlyCases.includes(c));
    if ((onlyTargets && !onlyTargets.includes(t.id)) || wanted.length === 0) continue;
    out.results[t.id] = {};
    let unreachable;
    for (const c of wanted) {
      if (!cases[c]) continue;
      if (unreachable) {
        out.results[t.id][c] = { error: `skipped: ${unreachable}` };
        continue;
      }
      log(`${t.id} ${c}`);
      const t0 = performance.now();
      try {
        out.results[t.id][c] = await cases[c](t);
      } catch (e) {
        log(`${t.id} ${c} failed: ${e?.message ?? e}`);
        out.results[t.id][c] = { error: String(e?.message ?? e).slice(0, 500) };
        if (c === "cold") unreachable = "the client could not connect (see cold)";
      }
      out.results[t.id][c].wall_s = (performance.now() - t0) / 1000;
    }
  }
  fs.writeFileSync(outPath, JSON.stringify(out, null, 2) + "\n");
  // Peers may keep handles (timers, hooks) alive; the harness is done.
  process.exit(0);
}

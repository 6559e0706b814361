// Run inside a worker container: `docker exec <container> node -e <this file's text> <mode> ...`
// (tasks/drivers/container_stop.py; what it prints is read by tasks/knowledge/stop_reach.py).
//
//   snapshot <port>...  every process (status, stat, cmdline, socket inodes), /proc/net/tcp and tcp6,
//                       and for the processes connected to one of the ports, the files of their code
//                       that register a SIGTERM/SIGINT handler. One JSON line.
//   stop <ms> <SIG:pid:starttime>...  send each its signal once (only if it is still the same
//                       process), wait until all have exited or <ms> passed. One JSON line.
"use strict";
const fs = require("fs");
const path = require("path");

const [mode, ...args] = process.argv.slice(1);
const read = (p) => {
  try {
    return fs.readFileSync(p, "utf8");
  } catch {
    return null;
  }
};
const startTime = (pid) => {
  const stat = read(`/proc/${pid}/stat`);
  if (stat === null) return null;
  const rest = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
  return { state: rest[0], start: rest[19] };
};

const CODE = /\.(c|m)?(j|t)sx?$/;
// A listener call (`process.on(`, `proc.once(` ...): with a SIGTERM/SIGINT literal in the same file, a handler.
const LISTEN = /\.\s*(on|once|addListener|prependListener|prependOnceListener)\s*\(/;
const MAX_FILES = 400;

function entries(proc) {
  // The files a process runs: its arguments that are code files outside node_modules.
  const found = [];
  for (const raw of proc.cmdline.slice(1)) {
    const arg = raw.startsWith("file://") ? raw.slice(7) : raw;
    if (arg.startsWith("-") || arg === "") continue;
    const full = path.resolve(proc.cwd || "/", arg);
    if (full.includes("/node_modules/")) continue;
    // `node dist/main` and `node .` are files too: Node adds .js/.mjs/.cjs, or a folder's index.js.
    const tries = CODE.test(full) ? [full] : [full + ".js", full + ".mjs", full + ".cjs", path.join(full, "index.js")];
    for (const candidate of tries) {
      try {
        if (fs.statSync(candidate).isFile()) {
          found.push(candidate);
          break;
        }
      } catch {}
    }
  }
  return found;
}

// What a file loads: `require("x")`, `import("x")`, `from "x"`, `import "x"` (plain text, as the handler test).
const SPECIFIER = /(?:\brequire\s*\(\s*|\bimport\s*\(\s*|\bfrom\s+|\bimport\s+)(["'`])([^"'`\s]+)\1/g;
const EXTENSIONS = [".js", ".mjs", ".cjs", ".ts", ".mts", ".cts", ".jsx", ".tsx"];

function codeFile(base) {
  // The file Node (or tsx) loads for a path: itself, with an extension, a `.ts` imported as `.js`, a folder's index.
  const tries = [base, ...EXTENSIONS.map((e) => base + e), base.replace(/\.(m|c)?js$/, ".$1ts")];
  tries.push(...EXTENSIONS.map((e) => path.join(base, "index" + e)));
  for (const candidate of tries) {
    try {
      if (CODE.test(candidate) && fs.statSync(candidate).isFile()) return candidate;
    } catch {}
  }
  return null;
}

function workspacePackage(from, name) {
  // A bare specifier's package when it is the app's own code: the node_modules/<name> Node would find
  // links to a folder outside any node_modules (a workspace package, `file:` or `link:`).
  for (let dir = from; ; dir = path.dirname(dir)) {
    try {
      const real = fs.realpathSync(path.join(dir, "node_modules", name));
      return real.includes("/node_modules/") ? null : real;
    } catch {}
    if (dir === path.dirname(dir)) return null;
  }
}

function loads(file, text) {
  // The app's own code a file loads (relative paths, workspace packages); dependencies are not read.
  const found = [];
  for (const m of text.matchAll(SPECIFIER)) {
    const spec = m[2];
    if (/^\.{0,2}\//.test(spec)) {
      const target = codeFile(path.resolve(path.dirname(file), spec));
      if (target && !target.includes("/node_modules/")) found.push(target);
    } else if (!spec.startsWith("node:")) {
      const parts = spec.split("/");
      const pkg = workspacePackage(path.dirname(file), parts.slice(0, spec.startsWith("@") ? 2 : 1).join("/"));
      if (pkg) found.push(pkg);
    }
  }
  return found;
}

function scan(proc) {
  // The entry files' folders, and the app's own code they load from elsewhere (a shared package of
  // the monorepo, where the worker's signal handler often lives).
  const files = entries(proc);
  const result = { entries: files, files: 0, sigterm: [], sigint: [] };
  const seen = new Set();
  const queue = [];
  for (const f of files) queue.push(f, path.dirname(f));
  while (queue.length && result.files < MAX_FILES) {
    const item = queue.shift();
    let real = item;
    try {
      real = fs.realpathSync(item); // a folder linked twice (or into itself) is read once
    } catch {}
    if (seen.has(real)) continue;
    seen.add(real);
    let st;
    try {
      st = fs.statSync(item);
    } catch {
      continue;
    }
    if (st.isDirectory()) {
      let names = [];
      try {
        names = fs.readdirSync(item).sort();
      } catch {}
      for (const n of names) if (n !== "node_modules" && !n.startsWith(".")) queue.push(path.join(item, n));
    } else if (st.isFile() && CODE.test(item) && st.size < 4 * 1024 * 1024) {
      const text = read(item);
      if (text === null) continue;
      result.files += 1;
      queue.push(...loads(item, text));
      if (!LISTEN.test(text)) continue;
      if (/["'`]SIGTERM["'`]/.test(text)) result.sigterm.push(item);
      if (/["'`]SIGINT["'`]/.test(text)) result.sigint.push(item);
    }
  }
  return result;
}

function snapshot(ports) {
  const procs = [];
  for (const name of fs.readdirSync("/proc")) {
    if (!/^\d+$/.test(name) || Number(name) === process.pid) continue;
    const status = read(`/proc/${name}/status`);
    if (status === null) continue;
    const cmdline = (read(`/proc/${name}/cmdline`) || "").split("\0");
    if (cmdline.length && cmdline[cmdline.length - 1] === "") cmdline.pop();
    let cwd = "";
    try {
      cwd = fs.readlinkSync(`/proc/${name}/cwd`);
    } catch {}
    const sockets = [];
    try {
      for (const fd of fs.readdirSync(`/proc/${name}/fd`)) {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(fs.readlinkSync(`/proc/${name}/fd/${fd}`));
          if (m) sockets.push(m[1]);
        } catch {}
      }
    } catch {}
    procs.push({ pid: Number(name), status, stat: read(`/proc/${name}/stat`) || "", cmdline, cwd, sockets });
  }
  const tcp = read("/proc/net/tcp") || "";
  const tcp6 = read("/proc/net/tcp6") || "";
  // Which sockets lead to Redis, only to know whose code to read (the report is judged in Python).
  const inodes = new Set();
  for (const line of (tcp + "\n" + tcp6).split("\n")) {
    const f = line.trim().split(/\s+/);
    if (f.length < 10 || f[3] !== "01") continue;
    if (ports.includes(parseInt(f[2].split(":")[1], 16))) inodes.add(f[9]);
  }
  const scans = {};
  for (const proc of procs) if (proc.sockets.some((s) => inodes.has(s))) scans[proc.pid] = scan(proc);
  return { self: process.pid, procs, tcp, tcp6, scans };
}

function stop(ms, items) {
  const began = Date.now();
  const targets = items.map((item) => {
    const [signal, pid, start] = item.split(":");
    const t = { pid: Number(pid), signal, start, sent: false, exited: false, error: "" };
    const now = startTime(pid);
    if (now === null || now.start !== start) {
      t.exited = true; // gone before the signal: nothing to do
      t.after_ms = 0;
      return t;
    }
    try {
      process.kill(t.pid, signal);
      t.sent = true;
    } catch (e) {
      t.error = String(e.code || e.message);
    }
    return t;
  });
  const poll = () => {
    for (const t of targets) {
      if (t.exited) continue;
      const now = startTime(t.pid);
      if (now === null || now.start !== t.start || now.state === "Z") {
        t.exited = true;
        t.after_ms = Date.now() - began;
      }
    }
    const waiting = targets.filter((t) => !t.exited && t.sent);
    if (waiting.length === 0 || Date.now() - began >= ms) {
      const results = targets.map(({ pid, sent, exited, after_ms, error }) => ({ pid, sent, exited, after_ms, error }));
      process.stdout.write(JSON.stringify({ waited_ms: Date.now() - began, results }) + "\n");
      return;
    }
    setTimeout(poll, 50);
  };
  poll();
}

if (mode === "snapshot") {
  process.stdout.write(JSON.stringify(snapshot(args.map(Number))) + "\n");
} else if (mode === "stop") {
  stop(Number(args[0]), args.slice(1));
} else {
  process.stderr.write(`unknown mode ${mode}\n`);
  process.exitCode = 2;
}

/**
 * Go `time.Duration` strings, as the gateway sends `time_remaining` in a `path_busy` reply
 * (cvmfs-formats.md §5.1, §7): a sequence of decimal numbers with units, e.g. `1h2m3.5s`,
 * `300ms`, `-1.5h`, `0s`.
 */

const UNIT_NS: Record<string, number> = {
  ns: 1,
  us: 1e3,
  "µs": 1e3,
  "μs": 1e3,
  ms: 1e6,
  s: 1e9,
  m: 60e9,
  h: 3600e9,
};

/** Milliseconds in a Go duration string; undefined when the text is not one. */
export function parseGoDuration(text: string): number | undefined {
  let s = text.trim();
  let sign = 1;
  if (s.startsWith("-") || s.startsWith("+")) {
    if (s[0] === "-") sign = -1;
    s = s.slice(1);
  }
  if (s === "0") return 0;
  if (s === "") return undefined;
  const re = /^(\d+(?:\.\d*)?|\.\d+)(ns|us|µs|μs|ms|s|m|h)/;
  let ns = 0;
  while (s.length > 0) {
    const m = re.exec(s);
    if (!m) return undefined;
    ns += Number(m[1]) * (UNIT_NS[m[2] as string] as number);
    s = s.slice(m[0].length);
  }
  return (sign * ns) / 1e6;
}

/**
 * Format milliseconds the way Go's `Duration.String` does (`2h0m0.5s`, `1.5s`, `250ms`, `0s`),
 * so the dev gateway's `time_remaining` looks like the real one's.
 */
export function formatGoDuration(ms: number): string {
  let ns = Math.round(ms * 1e6);
  if (ns === 0) return "0s";
  const neg = ns < 0;
  ns = Math.abs(ns);
  let out: string;
  if (ns < 1e9) {
    const [unit, div] = ns < 1e3 ? ["ns", 1] : ns < 1e6 ? ["µs", 1e3] : ["ms", 1e6];
    out = `${trimFraction(ns, div as number)}${unit}`;
  } else {
    const h = Math.floor(ns / 3600e9);
    const m = Math.floor((ns % 3600e9) / 60e9);
    const s = trimFraction(ns % 60e9, 1e9);
    out = h > 0 ? `${h}h${m}m${s}s` : m > 0 ? `${m}m${s}s` : `${s}s`;
  }
  return neg ? `-${out}` : out;
}

/** `value / div` with up to 9 fraction digits and no trailing zeros. */
function trimFraction(value: number, div: number): string {
  const whole = Math.floor(value / div);
  const frac = value % div;
  if (frac === 0) return String(whole);
  const digits = String(div).length - 1;
  return `${whole}.${String(frac).padStart(digits, "0").replace(/0+$/, "")}`;
}

// The timeline's chart, built from the engine's answer by one pure function: lanes of primary
// backups, secondary replicas (with a copy's percentage), expiries, scheduled runs (past and to
// come) and skipped volumes; gaps longer than the target RPO shaded; a "now" line.
//
// Built for 100,000 backups: the engine never sends more points than the screen can tell apart
// (`POINTS_AT_MOST`); beyond that it counts them per lane and pixel column (buckets), drawn as
// bars coloured by their worst state, whose tooltip says how many and which states. One pass over
// each lane (O(n)), no progressive drawing (it kept the canvas redrawing in chunks for seconds) and
// no animation. Buckets, and backups above a few hundred, are drawn in large mode: one path per
// series instead of one element per symbol, which made each step of a pan three times cheaper
// (docs/console.md). Per-item styles would defeat large mode, so each look (available, failed,
// ...) is a series of its own, and large mode's symbols cannot be offset, so nothing relies on it.
import { DEFAULT_THEME } from "@mantine/core";

import type {
  BackupState,
  Gap,
  PastRun_Serialize,
  RunState,
  Timeline_Serialize,
  TimelineBucket,
  TimelinePoint_Serialize,
  UpcomingRun,
} from "../bindings";
import { KIND, when } from "../backups/words";
import type { EChartsCoreOption } from "./echarts";
import { num } from "../numbers";

export type Scheme = "light" | "dark";

/** The lanes, top to bottom. */
export const LANES = ["Primary backups", "Secondary replicas", "Expiries", "Scheduled runs", "Skipped"] as const;
const PRIMARY = 0;
const REPLICA = 1;
const EXPIRY = 2;
const RUNS = 3;
const SKIPPED = 4;

/**
 * A series of backups switches to large mode (one path for all its symbols) above this many
 * points. Below it each symbol is an element of its own, which grows when hovered: a few hundred
 * of them cost a pan step about 2 ms here, 1,000 of them about 8 ms.
 */
const LARGE_THRESHOLD = 300;

/**
 * Where each series' third value points: the backups (primary then replicas), the buckets, runs
 * or upcoming.
 */
export type Ref =
  | { kind: "point"; point: TimelinePoint_Serialize }
  | { kind: "bucket"; bucket: TimelineBucket }
  | { kind: "run"; run: PastRun_Serialize }
  | { kind: "upcoming"; run: UpcomingRun };

const POINT_SERIES = new Set(["primary", "primary-creating", "primary-failed", "replica", "replica-copying", "replica-failed", "expiry"]);
const BUCKET_SERIES = new Set([
  "bucket-primary",
  "bucket-primary-progress",
  "bucket-primary-failed",
  "bucket-primary-failmark",
  "bucket-replica",
  "bucket-replica-progress",
  "bucket-replica-failed",
  "bucket-replica-failmark",
  "bucket-expiry",
]);

/** The backups of a timeline in one array: primary ones first, then replicas (the series' refs). */
export function backupsOf(t: Timeline_Serialize): TimelinePoint_Serialize[] {
  return t.primary.concat(t.replicas);
}

/** What a chart event's series and value designate, if anything. */
export function refOf(t: Timeline_Serialize, seriesId: string | undefined, value: unknown): Ref | null {
  if (!seriesId || !Array.isArray(value) || typeof value[2] !== "number") return null;
  const i = value[2];
  if (POINT_SERIES.has(seriesId)) {
    const point = i < t.primary.length ? t.primary[i] : t.replicas[i - t.primary.length];
    return point ? { kind: "point", point } : null;
  }
  if (BUCKET_SERIES.has(seriesId)) {
    const bucket = t.buckets[i];
    return bucket ? { kind: "bucket", bucket } : null;
  }
  if (seriesId === "runs" || seriesId === "skipped") {
    const run = t.runs[i];
    return run ? { kind: "run", run } : null;
  }
  if (seriesId === "upcoming") {
    const run = t.upcoming[i];
    return run ? { kind: "upcoming", run } : null;
  }
  return null;
}

function escape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
}

const STATE_WORDS: Record<BackupState, string> = {
  available: "available for a restore",
  creating: "being taken",
  replicating: "being copied to the secondary site",
  failed: "failed",
};

/** A backup or replica in words (tooltip, list, selection). */
export function describePoint(p: TimelinePoint_Serialize): string {
  const what = p.site === "primary" ? "Primary backup" : "Secondary replica";
  const state =
    p.state === "replicating" && p.percent !== null
      ? `being copied to the secondary site (${Math.floor(p.percent)}% copied)`
      : STATE_WORDS[p.state];
  const expiry = p.expires_at ? `Retention deletes it on ${when(p.expires_at)}.` : "No expiry known.";
  const error = p.error ? ` Error: ${p.error}` : "";
  return `${what} «${p.name}» of ${p.volume_name}, ${KIND[p.kind].toLowerCase()}, taken ${when(p.created_at)}: ${state}. ${expiry}${error}`;
}

const RUN_WORDS: Record<RunState, string> = {
  running: "running",
  succeeded: "succeeded",
  partial: "partly done (some volumes skipped or failed)",
  failed: "failed",
  missed: "missed: no scheduler ran when it was due",
};

/** How many skipped volumes a tooltip names before it says how many more. */
const SKIPS_NAMED = 8;

export function describeRun(r: PastRun_Serialize): string {
  const head = `Scheduled run due ${when(r.due_at)}: ${RUN_WORDS[r.state]}.${r.message ? ` ${r.message}` : ""}`;
  if (r.skipped.length === 0) return head;
  const named = r.skipped.slice(0, SKIPS_NAMED).map((s) => `${s.volume_name}: ${s.message}`);
  const more = r.skipped.length > SKIPS_NAMED ? [`and ${r.skipped.length - SKIPS_NAMED} more`] : [];
  const n = r.skipped.length;
  return [`${head} It skipped ${n} ${n === 1 ? "volume" : "volumes"}:`, ...named, ...more].join("\n");
}

export function describeUpcoming(r: UpcomingRun): string {
  return `Scheduled run to come at ${r.at_local} (${when(r.at)} here).`;
}

export function describeGap(g: Gap, rpoHours: number): string {
  const hours = g.hours === null ? "?" : g.hours >= 48 ? `${(g.hours / 24).toFixed(1)} days` : `${g.hours.toFixed(1)} hours`;
  const tail = g.open
    ? `no usable backup since ${when(g.from)}: it is behind its target RPO now`
    : `from ${when(g.from)} to ${when(g.to)}`;
  return `Gap of ${hours} without a usable primary backup on ${g.volume_name} (target RPO ${rpoHours} hours), ${tail}.`;
}

const BUCKET_WHAT: Record<TimelineBucket["lane"], [string, string]> = {
  primary: ["primary backup", "primary backups"],
  replica: ["secondary replica", "secondary replicas"],
  expiry: ["backup or replica", "backups and replicas"],
};

/** A bucket in words: how many, when, and in which states (the worst first). */
export function describeBucket(b: TimelineBucket): string {
  const [one, many] = BUCKET_WHAT[b.lane];
  const what = `${num(b.count)} ${b.count === 1 ? one : many}`;
  const verb = b.lane === "expiry" ? (b.count === 1 ? "expires" : "expire") : "taken";
  const span = b.first === b.last ? `${verb} ${when(b.first)}` : `${verb} from ${when(b.first)} to ${when(b.last)}`;
  const states = [
    b.failed > 0 ? `${num(b.failed)} failed` : null,
    b.in_progress > 0 ? `${num(b.in_progress)} being taken or copied` : null,
    b.available > 0 ? `${num(b.available)} available` : null,
  ].filter(Boolean);
  return `${what} ${span}: ${states.join(", ")}. Too close together to draw one by one: click or press Enter to zoom in to them.`;
}

export function describe(ref: Ref): string {
  if (ref.kind === "point") return describePoint(ref.point);
  if (ref.kind === "bucket") return describeBucket(ref.bucket);
  if (ref.kind === "run") return describeRun(ref.run);
  return describeUpcoming(ref.run);
}

/** Colours from Mantine's palette, a lighter shade on the dark background. */
export function palette(scheme: Scheme) {
  const c = DEFAULT_THEME.colors;
  const shade = scheme === "dark" ? 4 : 6;
  return {
    primary: c.blue[shade],
    replica: c.grape[shade],
    creating: c.cyan[shade],
    failed: c.red[shade],
    expiry: scheme === "dark" ? c.gray[5] : c.gray[6],
    upcoming: scheme === "dark" ? c.gray[3] : c.gray[7],
    succeeded: c.green[shade],
    partial: c.orange[shade],
    missed: c.gray[5],
    skipped: c.orange[shade],
    gap: c.red[scheme === "dark" ? 8 : 3],
    gapOpen: c.red[scheme === "dark" ? 7 : 4],
    now: c.teal[shade],
    text: scheme === "dark" ? c.dark[0] : c.gray[8],
    dimmed: scheme === "dark" ? c.dark[2] : c.gray[6],
    line: scheme === "dark" ? c.dark[4] : c.gray[3],
    surface: scheme === "dark" ? c.dark[6] : "#ffffff",
    selected: scheme === "dark" ? c.yellow[4] : c.yellow[7],
  };
}

const RUN_COLOR: Record<RunState, keyof ReturnType<typeof palette>> = {
  running: "creating",
  succeeded: "succeeded",
  partial: "partial",
  failed: "failed",
  missed: "missed",
};

function ms(rfc3339: string): number {
  return Date.parse(rfc3339);
}

type Datum = [number, number, number];

/** Large series get their points as one flat typed array (x, lane, ref): no array per point. */
function flat(data: Datum[]): Float64Array {
  const out = new Float64Array(data.length * 3);
  for (let i = 0; i < data.length; i++) {
    const d = data[i]!;
    out[i * 3] = d[0];
    out[i * 3 + 1] = d[1];
    out[i * 3 + 2] = d[2];
  }
  return out;
}

function scatter(id: string, name: string, data: Datum[], color: string, extra: Record<string, unknown> = {}) {
  const typed = data.length > LARGE_THRESHOLD && extra.large !== false;
  return {
    id,
    name,
    type: "scatter",
    data: typed ? flat(data) : data,
    dimensions: typed ? ["x", "y", "ref"] : undefined,
    encode: typed ? { x: "x", y: "y" } : undefined,
    symbolSize: 9,
    itemStyle: { color },
    large: true,
    largeThreshold: LARGE_THRESHOLD,
    // Drawn at once: progressive chunks kept the canvas redrawing frame after frame.
    progressive: 0,
    emphasis: { scale: 1.6 },
    ...extra,
  };
}

/**
 * A ring: ECharts' "empty" symbols are filled white, which glares on the dark background. Few
 * points are drawn so (being taken, being copied, to come): not in large mode, which has no border.
 */
function hollow(color: string) {
  return { symbol: "circle", large: false, itemStyle: { color: "transparent", borderColor: color, borderWidth: 2 } };
}

/** The x range drawn: the window asked for, stretched to now. */
export function xRange(t: Timeline_Serialize): [number, number] {
  const from = ms(t.from);
  const to = Math.max(ms(t.to), ms(t.now));
  return [from, to];
}

/**
 * The chart's whole option for a timeline in a colour scheme. `zoom` (percent of the x axis) is
 * where the window was, so that a new answer or theme does not reset it.
 */
export function timelineOption(t: Timeline_Serialize, scheme: Scheme, zoom: [number, number] = [0, 100]): EChartsCoreOption {
  const p = palette(scheme);
  const primary: Datum[] = [];
  const primaryCreating: Datum[] = [];
  const primaryFailed: Datum[] = [];
  const replica: Datum[] = [];
  const copying: Datum[] = [];
  const replicaFailed: Datum[] = [];
  const expiry: Datum[] = [];
  // When the view has buckets, the expiries are the engine's expiry buckets (counted over the
  // whole window); the points' own ticks would count some twice.
  const pointExpiries = t.buckets.length === 0;
  let i = 0;
  for (const b of t.primary) {
    const d: Datum = [ms(b.created_at), PRIMARY, i];
    if (b.state === "failed") primaryFailed.push(d);
    else if (b.state === "available") primary.push(d);
    else primaryCreating.push(d);
    if (b.expires_at && pointExpiries) expiry.push([ms(b.expires_at), EXPIRY, i]);
    i++;
  }
  for (const b of t.replicas) {
    const d: Datum = [ms(b.created_at), REPLICA, i];
    if (b.state === "failed") replicaFailed.push(d);
    else if (b.state === "available") replica.push(d);
    else copying.push(d);
    if (b.expires_at && pointExpiries) expiry.push([ms(b.expires_at), EXPIRY, i]);
    i++;
  }
  // Buckets: one bar in the middle of its column, in a series per lane and look. A bar is red
  // only when all it counts failed, cyan while some are in progress, else the lane's colour; a
  // column where some failed gets red caps: a taller red bar behind its bar. (Coloured by the
  // worst state alone, one failure in forty made a week of mostly available backups read as a
  // red band.) In large mode from one bar: a pan redraws every bar. (Not from none: ECharts'
  // large mode fails on an empty series, and the whole page with it.)
  const bucketSeries: Record<string, Datum[]> = {};
  t.buckets.forEach((b, k) => {
    const x = (ms(b.start) + ms(b.end)) / 2;
    const look = b.failed === b.count ? "-failed" : b.in_progress > 0 ? "-progress" : "";
    const [id, lane] = b.lane === "primary" ? ["bucket-primary", PRIMARY] : b.lane === "replica" ? ["bucket-replica", REPLICA] : ["bucket-expiry", EXPIRY];
    const key = b.lane === "expiry" ? id : id + look;
    (bucketSeries[key] ??= []).push([x, lane, k]);
    if (b.lane !== "expiry" && b.failed > 0 && b.failed < b.count) (bucketSeries[id + "-failmark"] ??= []).push([x, lane, k]);
  });
  const bars = (id: string, name: string, color: string, height = 18) =>
    scatter(id, name, bucketSeries[id] ?? [], color, { symbol: "rect", symbolSize: [3, height], largeThreshold: 1 });
  const caps = (id: string, name: string, color: string) =>
    scatter(id, name, bucketSeries[id] ?? [], color, { symbol: "rect", symbolSize: [3, 30], largeThreshold: 1, z: 1 });
  const runs = t.runs.map((r, k) => ({
    value: [ms(r.due_at), RUNS, k],
    itemStyle: { color: p[RUN_COLOR[r.state]] },
  }));
  const skipped: Datum[] = [];
  t.runs.forEach((r, k) => {
    if (r.skipped.length > 0) skipped.push([ms(r.due_at), SKIPPED, k]);
  });
  const upcoming: Datum[] = t.upcoming.map((r, k) => [ms(r.at), RUNS, k]);
  const rpo = t.target_rpo.hours;
  const [min, max] = xRange(t);

  const tooltipText = (params: unknown): string => {
    const e = params as { componentType?: string; seriesId?: string; value?: unknown; name?: string };
    if (e.componentType === "markArea" || e.componentType === "markLine") return escape(e.name ?? "");
    const ref = refOf(t, e.seriesId, e.value);
    return ref ? escape(describe(ref)).replace(/\n/g, "<br/>") : "";
  };

  return {
    backgroundColor: "transparent",
    animation: false,
    textStyle: { color: p.text, fontFamily: "Inter, 'Segoe UI', Cantarell, 'Noto Sans', system-ui, sans-serif" },
    grid: { left: 150, right: 24, top: 24, bottom: 64 },
    tooltip: {
      trigger: "item",
      confine: true,
      backgroundColor: p.surface,
      borderColor: p.line,
      textStyle: { color: p.text, fontSize: 12 },
      extraCssText: "max-width: 420px; white-space: normal;",
      formatter: tooltipText,
    },
    xAxis: {
      type: "time",
      min,
      max,
      axisLine: { lineStyle: { color: p.line } },
      axisLabel: { color: p.dimmed, hideOverlap: true },
      splitLine: { show: true, lineStyle: { color: p.line, opacity: 0.5 } },
    },
    yAxis: {
      type: "category",
      data: [...LANES],
      inverse: true,
      axisLine: { lineStyle: { color: p.line } },
      axisTick: { show: false },
      axisLabel: { color: p.text, fontWeight: 600 },
      splitLine: { show: true, lineStyle: { color: p.line, opacity: 0.5 } },
    },
    dataZoom: [
      // "none": a zoom only maps the axis again; "filter" re-filtered every series on each step.
      { id: "inside", type: "inside", xAxisIndex: 0, start: zoom[0], end: zoom[1], filterMode: "none", minValueSpan: 60_000 },
      {
        id: "slider",
        type: "slider",
        xAxisIndex: 0,
        start: zoom[0],
        end: zoom[1],
        height: 22,
        bottom: 12,
        filterMode: "none",
        borderColor: p.line,
        textStyle: { color: p.dimmed },
        dataBackground: { lineStyle: { color: p.line }, areaStyle: { color: p.line } },
        labelFormatter: (v: number) => when(new Date(v).toISOString()),
      },
    ],
    series: [
      {
        id: "gaps",
        name: "Gaps longer than the target RPO",
        type: "scatter",
        data: [],
        silent: false,
        markArea: {
          silent: false,
          itemStyle: { color: p.gap, opacity: scheme === "dark" ? 0.25 : 0.3 },
          label: { show: false },
          emphasis: { label: { show: false } },
          data: t.gaps.map((g) => [
            {
              xAxis: ms(g.from),
              name: describeGap(g, rpo),
              itemStyle: g.open ? { color: p.gapOpen } : undefined,
            },
            { xAxis: ms(g.to) },
          ]),
        },
        markLine: {
          symbol: "none",
          // Silent: backups just taken sit on this line, and a click must reach them.
          silent: true,
          lineStyle: { color: p.now, type: "dashed", width: 1.5 },
          // At the top: the y axis is inverted, so the line starts there (at the bottom the label
          // would sit on the time axis' own labels).
          label: { formatter: "now", color: p.now, position: "start" },
          data: [{ xAxis: ms(t.now), name: `Now: ${when(t.now)}` }],
        },
      },
      scatter("primary", "Primary backups", primary, p.primary),
      scatter("primary-creating", "Primary backups being taken", primaryCreating, p.creating, hollow(p.creating)),
      scatter("primary-failed", "Failed primary backups", primaryFailed, p.failed, { symbol: "diamond" }),
      scatter("replica", "Secondary replicas", replica, p.replica),
      scatter("replica-copying", "Replicas being copied", copying, p.replica, {
        ...hollow(p.replica),
        symbolSize: 12,
        label: {
          show: true,
          position: "top",
          color: p.text,
          fontSize: 11,
          formatter: (e: { value: Datum }) => {
            const b = refOf(t, "replica-copying", e.value);
            const pct = b?.kind === "point" ? b.point.percent : null;
            return pct === null || pct === undefined ? "copying" : `${Math.floor(pct)}%`;
          },
        },
      }),
      scatter("replica-failed", "Failed replicas", replicaFailed, p.failed, { symbol: "diamond" }),
      scatter("expiry", "Expiries", expiry, p.expiry, { symbol: "rect", symbolSize: [2, 14] }),
      bars("bucket-primary", "Primary backups, counted", p.primary),
      bars("bucket-primary-progress", "Primary backups, counted, some being taken", p.creating),
      bars("bucket-primary-failed", "Primary backups, counted, all failed", p.failed),
      caps("bucket-primary-failmark", "Primary backups, counted, some failed", p.failed),
      bars("bucket-replica", "Secondary replicas, counted", p.replica),
      bars("bucket-replica-progress", "Secondary replicas, counted, some being copied", p.creating),
      bars("bucket-replica-failed", "Secondary replicas, counted, all failed", p.failed),
      caps("bucket-replica-failmark", "Secondary replicas, counted, some failed", p.failed),
      bars("bucket-expiry", "Expiries, counted", p.expiry, 14),
      {
        id: "runs",
        name: "Scheduled runs",
        type: "scatter",
        data: runs,
        symbol: "roundRect",
        symbolSize: 10,
        large: false,
        progressive: 0,
      },
      scatter("upcoming", "Scheduled runs to come", upcoming, p.upcoming, { ...hollow(p.upcoming), symbol: "roundRect", symbolSize: 10 }),
      scatter("skipped", "Skipped volumes", skipped, p.skipped, { symbol: "triangle", symbolSize: 11 }),
      // The selection, set by `selectionOverlay` without touching the rest.
      { id: "selected", type: "scatter", data: [], silent: true, z: 10 },
    ],
  };
}

/** Where a backup sits on the chart: its lane and instant. */
function placeOf(b: TimelinePoint_Serialize): [number, number] {
  return [ms(b.created_at), b.site === "primary" ? PRIMARY : REPLICA];
}

/** The selected point ringed, with a thin line from it to its expiry. Merged over the option. */
export function selectionOverlay(selected: TimelinePoint_Serialize | null, scheme: Scheme): EChartsCoreOption {
  const p = palette(scheme);
  if (!selected)
    return { series: [{ id: "selected", data: [], markLine: { data: [] } }] };
  const [x, lane] = placeOf(selected);
  return {
    series: [
      {
        id: "selected",
        data: [[x, lane]],
        symbol: "circle",
        symbolSize: 18,
        itemStyle: { color: "transparent", borderColor: p.selected, borderWidth: 3 },
        markLine: {
          symbol: ["none", "arrow"],
          silent: true,
          lineStyle: { color: p.selected, width: 1.5, type: "solid" },
          label: { show: false },
          data: selected.expires_at ? [[{ coord: [x, lane] }, { coord: [ms(selected.expires_at), lane] }]] : [],
        },
      },
    ],
  };
}

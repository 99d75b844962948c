import { MantineProvider } from "@mantine/core";
import { act, cleanup, fireEvent, render, screen, waitFor, within } from "@testing-library/react";
import { clearMocks } from "@tauri-apps/api/mocks";
import type { ReactNode } from "react";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";

import type { CloudAccount, DrConfig, Timeline_Serialize, TimelineBucket, TimelinePoint_Serialize } from "../bindings";
import { theme } from "../theme";
import { recordingEngine } from "../wizards/testEngine";
import { DrExports } from "./DrExports";
import type { ChartEvents } from "./EChart";
import { LANES, selectionOverlay } from "./option";
import { ordered, visibleRange, withDetail } from "./points";
import { Timeline, timelineOption, type ReadDetail } from "./Timeline";
import { TimelineTab } from "./TimelineTab";

// ECharts needs a canvas jsdom does not have: the chart is replaced by a stand-in that keeps what
// it was given, so a test can read the option and fire the chart's click and zoom events.
const chart = vi.hoisted(() => ({ last: null as null | { option: unknown; events?: unknown } }));
vi.mock("./EChart", async () => {
  const { forwardRef } = await import("react");
  return {
    EChart: forwardRef(function FakeChart(props: { option: unknown; events?: unknown; "data-testid"?: string }, ref) {
      void ref;
      chart.last = { option: props.option, events: props.events };
      return <div data-testid={props["data-testid"]} />;
    }),
  };
});

const ACCOUNTS: CloudAccount[] = [
  { id: "z1", name: "lab-azure", kind: "azure", endpoint: "https://management.azure.com", created_at: "2026-11-01T09:00:00Z" },
];

function point(id: string, over: Partial<TimelinePoint_Serialize> = {}): TimelinePoint_Serialize {
  return {
    backup_id: id,
    name: `Backup ${id}`,
    kind: "scheduled",
    site: "primary",
    state: "available",
    created_at: "2026-11-20T02:00:00Z",
    expires_at: "2026-11-27T02:00:00Z",
    volume_id: "disk-1",
    volume_name: "acme-pd-desk-0001-osdisk",
    percent: 100,
    replica_of: null,
    error: null,
    ...over,
  };
}

function bucket(lane: TimelineBucket["lane"], start: string, over: Partial<TimelineBucket> = {}): TimelineBucket {
  const s = Date.parse(start);
  return {
    lane,
    start,
    end: new Date(s + 3_600_000).toISOString(),
    first: new Date(s + 60_000).toISOString(),
    last: new Date(s + 3_000_000).toISOString(),
    count: 400,
    available: 400,
    in_progress: 0,
    failed: 0,
    worst: "available",
    ...over,
  };
}

/** The engine's answer for a crowded window: every backup counted in buckets, no point. */
function crowded(): Timeline_Serialize {
  return timeline({
    primary: [],
    replicas: [],
    buckets: [
      bucket("primary", "2026-11-18T02:00:00.000Z", { count: 400, available: 390, failed: 10, worst: "failed" }),
      bucket("primary", "2026-11-21T02:00:00.000Z", { count: 300, available: 298, in_progress: 2, worst: "creating" }),
      bucket("replica", "2026-11-21T03:00:00.000Z", { count: 250 }),
      bucket("expiry", "2026-11-28T02:00:00.000Z", { count: 40 }),
    ],
  });
}

function timeline(over: Partial<Timeline_Serialize> = {}): Timeline_Serialize {
  return {
    account_id: "z1",
    account_name: "lab-azure",
    frame_account: "acme-pd",
    volume: null,
    from: "2026-11-15T12:00:00Z",
    to: "2026-11-29T12:00:00Z",
    now: "2026-11-22T12:00:00Z",
    target_rpo: { account_id: "z1", hours: 24, source: "schedule" },
    primary: [
      point("p1", { created_at: "2026-11-18T02:00:00Z" }),
      point("p2", { created_at: "2026-11-21T02:00:00Z", name: "before update", kind: "manual" }),
      point("p3", { created_at: "2026-11-22T02:00:00Z", state: "failed", error: "quota exceeded" }),
    ],
    replicas: [
      point("r1", { site: "replica", created_at: "2026-11-18T02:10:00Z", replica_of: "p1" }),
      point("r2", { site: "replica", created_at: "2026-11-21T02:10:00Z", state: "replicating", percent: 42.7, replica_of: "p2" }),
    ],
    points_left_out: 0,
    buckets: [],
    upcoming: [{ at: "2026-11-23T02:00:00Z", at_local: "2026-11-23 03:00 CET" }],
    upcoming_left_out: 0,
    runs: [
      { due_at: "2026-11-18T02:00:00Z", state: "succeeded", job_id: "j1", message: null, skipped: [] },
      {
        due_at: "2026-11-21T02:00:00Z",
        state: "partial",
        job_id: "j2",
        message: null,
        skipped: [{ volume_id: "disk-2", volume_name: "acme-pd-desk-0002-osdisk", reason: "in_session", message: "bob is in session" }],
      },
    ],
    gaps: [
      {
        volume_id: "disk-1",
        volume_name: "acme-pd-desk-0001-osdisk",
        from: "2026-11-18T02:00:00Z",
        to: "2026-11-21T02:00:00Z",
        hours: 72,
        open: false,
      },
    ],
    gaps_left_out: 0,
    ...over,
  };
}

const PLAN = {
  backup_id: "p2",
  backup_name: "before update",
  account_id: "z1",
  account_name: "lab-azure",
  provider: "azure",
  frame_account: "acme-pd",
  volume_id: "disk-1",
  volume_name: "acme-pd-desk-0001-osdisk",
  kind: "persistent_desktop",
  owner: "alice@acme-pd.example",
  site: "primary",
  from_location: "westeurope",
  point_in_time: "2026-11-21T02:00:00Z",
  restored_on: "westeurope",
  in_place: true,
  vm: "acme-pd-desk-0001",
  powers_off: false,
  powers_on_after: false,
  safety_snapshot: "an incremental snapshot of acme-pd-desk-0001-osdisk as it is now",
  replaces_assigned_desktop: false,
  steps: ["Take a safety snapshot", "Swap the OS disk"],
  checks: [{ name: "Backup", status: "ok", message: "available" }],
  can_run: true,
};

type Series = { id: string; data: unknown[]; label?: { formatter: (e: unknown) => string }; markArea?: { data: unknown[][] } };
type Opt = {
  yAxis: { data: string[] };
  series: Series[];
  tooltip: { formatter: (p: unknown) => string };
};
const opt = (t: Timeline_Serialize) => timelineOption(t, "light") as unknown as Opt;
const series = (o: Opt, id: string) => {
  const s = o.series.find((x) => x.id === id);
  if (!s) throw new Error(`no series ${id}`);
  return s;
};

const wrap = (ui: ReactNode) =>
  render(
    <MantineProvider theme={theme} env="test">
      {ui}
    </MantineProvider>,
  );

afterEach(() => {
  cleanup();
  clearMocks();
  chart.last = null;
});

// jsdom lays nothing out: give scroll containers a size so the virtualised list draws a screenful.
const sizes = ["clientHeight", "clientWidth"] as const;
const saved = sizes.map((p) => Object.getOwnPropertyDescriptor(HTMLElement.prototype, p));
beforeAll(() => {
  Object.defineProperty(HTMLElement.prototype, "clientHeight", { configurable: true, get: () => 320 });
  Object.defineProperty(HTMLElement.prototype, "clientWidth", { configurable: true, get: () => 800 });
});
afterAll(() => {
  sizes.forEach((p, i) => saved[i] && Object.defineProperty(HTMLElement.prototype, p, saved[i]!));
});

describe("timelineOption", () => {
  it("builds the lanes from the engine's answer", () => {
    const t = timeline();
    const o = opt(t);
    expect(o.yAxis.data).toEqual([...LANES]);
    // Available primaries, failed ones, replicas: each drawn in its lane with its index.
    expect(series(o, "primary").data).toEqual([
      [Date.parse("2026-11-18T02:00:00Z"), 0, 0],
      [Date.parse("2026-11-21T02:00:00Z"), 0, 1],
    ]);
    expect(series(o, "primary-failed").data).toEqual([[Date.parse("2026-11-22T02:00:00Z"), 0, 2]]);
    expect(series(o, "replica").data).toEqual([[Date.parse("2026-11-18T02:10:00Z"), 1, 3]]);
    expect(series(o, "replica-copying").data).toEqual([[Date.parse("2026-11-21T02:10:00Z"), 1, 4]]);
    // Each point's expiry in the Expiries lane.
    expect(series(o, "expiry").data).toHaveLength(5);
    expect((series(o, "expiry").data[0] as number[])[1]).toBe(2);
    // Runs: the two past ones and the one to come in the Scheduled runs lane; the skip in its own.
    expect(series(o, "runs").data).toHaveLength(2);
    expect(series(o, "upcoming").data).toEqual([[Date.parse("2026-11-23T02:00:00Z"), 3, 0]]);
    expect(series(o, "skipped").data).toEqual([[Date.parse("2026-11-21T02:00:00Z"), 4, 1]]);
    // Tooltips say what a point is, in words, with the skip's reason.
    const tip = o.tooltip.formatter;
    expect(tip({ seriesId: "primary-failed", value: [0, 0, 2] })).toContain("Primary backup «Backup p3»");
    expect(tip({ seriesId: "primary-failed", value: [0, 0, 2] })).toContain("quota exceeded");
    expect(tip({ seriesId: "skipped", value: [0, 4, 1] })).toContain("acme-pd-desk-0002-osdisk: bob is in session");
    expect(tip({ seriesId: "upcoming", value: [0, 3, 0] })).toContain("2026-11-23 03:00 CET");
  });

  it("shades a gap longer than the target RPO, with its length in the tooltip", () => {
    const o = opt(timeline());
    const area = series(o, "gaps").markArea!.data;
    expect(area).toHaveLength(1);
    const [start, end] = area[0] as [{ xAxis: number; name: string }, { xAxis: number }];
    expect(start.xAxis).toBe(Date.parse("2026-11-18T02:00:00Z"));
    expect(end.xAxis).toBe(Date.parse("2026-11-21T02:00:00Z"));
    const text = o.tooltip.formatter({ componentType: "markArea", name: start.name });
    expect(text).toContain("Gap of 3.0 days");
    expect(text).toContain("target RPO 24 hours");
    // No gap, no shading.
    expect(series(opt(timeline({ gaps: [] })), "gaps").markArea!.data).toHaveLength(0);
  });

  it("labels a replicating replica with its percentage", () => {
    const o = opt(timeline());
    const copying = series(o, "replica-copying");
    expect(copying.label!.formatter({ value: copying.data[0] })).toBe("42%");
    expect(o.tooltip.formatter({ seriesId: "replica-copying", value: copying.data[0] })).toContain("42% copied");
  });

  it("keeps 100,000 points in one pass, in large mode", () => {
    const many = Array.from({ length: 100_000 }, (_, i) =>
      point(`b${i}`, { created_at: new Date(Date.parse("2026-11-15T12:00:00Z") + i * 6000).toISOString() }),
    );
    const t = timeline({ primary: many, replicas: [], gaps: [] });
    const started = performance.now();
    const o = opt(t);
    const took = performance.now() - started;
    const s = series(o, "primary") as unknown as { data: Float64Array; dimensions: string[]; large: boolean; progressive: number };
    // One flat typed array (instant, lane, index) instead of 100,000 small arrays.
    expect(s.data).toBeInstanceOf(Float64Array);
    expect(s.data).toHaveLength(300_000);
    expect(s.dimensions).toEqual(["x", "y", "ref"]);
    expect([s.data[3 * 99_999], s.data[3 * 99_999 + 1], s.data[3 * 99_999 + 2]]).toEqual([Date.parse(many[99_999]!.created_at), 0, 99_999]);
    expect(s.large).toBe(true);
    // Drawn at once: progressive chunks kept the canvas redrawing frame after frame.
    expect(s.progressive).toBe(0);
    expect(took).toBeLessThan(1500);
    // The list finds the visible slice by binary search.
    const ord = ordered(t);
    const [lo, hi] = visibleRange(ord, Date.parse(many[10]!.created_at), Date.parse(many[19]!.created_at));
    expect([lo, hi]).toEqual([10, 20]);
  });

  it("draws the engine's buckets as bars by worst state, each saying how many and which states", () => {
    const t = crowded();
    const o = opt(t);
    const mid = (start: string) => Date.parse(start) + 1_800_000;
    // 10 of 400 failed: the lane's colour with red caps (a taller red bar behind it), not a red bar.
    expect(series(o, "bucket-primary").data).toEqual([[mid("2026-11-18T02:00:00.000Z"), 0, 0]]);
    expect(series(o, "bucket-primary-failmark").data).toEqual([[mid("2026-11-18T02:00:00.000Z"), 0, 0]]);
    const bar = series(o, "bucket-primary") as unknown as { symbolSize: number[]; z?: number; largeThreshold: number; symbolOffset?: unknown };
    const cap = series(o, "bucket-primary-failmark") as unknown as typeof bar;
    expect(cap.symbolSize[1]).toBeGreaterThan(bar.symbolSize[1]!);
    expect(cap.z).toBeLessThan(bar.z ?? 2);
    // Every bucket series with a bar is drawn in large mode (one path): large mode ignores
    // symbol offsets, so none is used.
    for (const id of ["bucket-primary", "bucket-primary-failmark", "bucket-replica", "bucket-expiry"]) {
      const s = series(o, id) as unknown as typeof bar & { large: boolean };
      expect(s.large && s.largeThreshold === 1).toBe(true);
      expect(s.symbolOffset).toBeUndefined();
    }
    expect(series(o, "bucket-primary-failed").data).toHaveLength(0);
    // All of a column failed: a red bar, and no tick.
    const b0 = t.buckets[0]!;
    const allFailed = opt({ ...t, buckets: [{ ...b0, failed: b0.count, available: 0, in_progress: 0 }] });
    expect(series(allFailed, "bucket-primary-failed").data).toEqual([[mid("2026-11-18T02:00:00.000Z"), 0, 0]]);
    expect(series(allFailed, "bucket-primary-failmark").data).toHaveLength(0);
    expect(series(o, "bucket-primary-progress").data).toEqual([[mid("2026-11-21T02:00:00.000Z"), 0, 1]]);
    expect(series(o, "bucket-replica").data).toEqual([[mid("2026-11-21T03:00:00.000Z"), 1, 2]]);
    expect(series(o, "bucket-expiry").data).toEqual([[mid("2026-11-28T02:00:00.000Z"), 2, 3]]);
    expect(series(o, "primary").data).toHaveLength(0);
    const tip = o.tooltip.formatter({ seriesId: "bucket-primary-failed", value: [0, 0, 0] });
    expect(tip).toContain("400 primary backups taken from");
    expect(tip).toContain("10 failed, 390 available");
    expect(tip).toContain("zoom in");
    expect(o.tooltip.formatter({ seriesId: "bucket-primary-progress", value: [0, 0, 1] })).toContain("2 being taken or copied");
    expect(o.tooltip.formatter({ seriesId: "bucket-expiry", value: [0, 2, 3] })).toContain("40 backups and replicas expire");
    // With buckets, the expiries are the engine's expiry buckets: the points' ticks would count
    // some twice.
    const mixed = opt({ ...t, primary: [point("p9", { created_at: "2026-11-22T01:00:00Z" })] });
    expect(series(mixed, "expiry").data).toHaveLength(0);
  });

  it("a zoomed re-read replaces the overview's buckets inside its window only", () => {
    const t = crowded();
    const detail = timeline({
      from: "2026-11-20T00:00:00.000Z",
      to: "2026-11-23T00:00:00.000Z",
      primary: [point("d1", { created_at: "2026-11-21T02:01:00Z" })],
      replicas: [],
      buckets: [bucket("expiry", "2026-11-22T00:00:00.000Z", { count: 1 })],
      runs: [],
      gaps: [],
    });
    const v = withDetail(t, detail);
    // Nov 18 stays (outside), Nov 21's primary and replica buckets give way to the detail's point,
    // the expiry lane stays the overview's, and the runs and gaps are the overview's.
    expect(v.buckets.map((b) => `${b.lane} ${b.start}`)).toEqual(["primary 2026-11-18T02:00:00.000Z", "expiry 2026-11-28T02:00:00.000Z"]);
    expect(v.primary.map((p) => p.backup_id)).toEqual(["d1"]);
    expect(v.runs).toHaveLength(2);
    expect(v.gaps).toHaveLength(1);
    expect(withDetail(t, null)).toBe(t);
    // The list counts the bucket and the point in time order.
    const ord = ordered(v);
    expect(ord.items.map((i) => (i.kind === "point" ? i.point.backup_id : `${i.bucket.lane} x${i.bucket.count}`))).toEqual(["primary x400", "d1"]);
  });

  it("rings the selection and draws a line to its expiry", () => {
    const sel = selectionOverlay(point("p2", { created_at: "2026-11-21T02:00:00Z" }), "dark") as unknown as {
      series: { id: string; data: number[][]; markLine: { data: { coord: number[] }[][] } }[];
    };
    expect(sel.series[0]!.data).toEqual([[Date.parse("2026-11-21T02:00:00Z"), 0]]);
    expect(sel.series[0]!.markLine.data[0]![1]!.coord).toEqual([Date.parse("2026-11-27T02:00:00Z"), 0]);
  });
});

describe("Timeline", () => {
  it("clicking a point on the chart selects it and Restore… opens the pre-flight of that backup", async () => {
    const e = recordingEngine({ plan_restore: () => PLAN }, {});
    wrap(<Timeline timeline={timeline()} />);
    expect(screen.getByTestId("timeline-chart")).toBeTruthy();
    const events = chart.last!.events as ChartEvents;
    // A click on the second primary backup (its series' value carries its index).
    act(() => events.click!({ seriesId: "primary", value: [Date.parse("2026-11-21T02:00:00Z"), 0, 1] } as never));
    const sel = screen.getByTestId("timeline-selection");
    expect(within(sel).getByTestId("timeline-selection-text").textContent).toContain("«before update»");
    fireEvent.click(within(sel).getByRole("button", { name: "Restore…" }));
    await waitFor(() => expect(e.of("plan_restore")).toHaveLength(1));
    expect(e.args("plan_restore")).toEqual({ backupId: "p2" });
    expect(await screen.findByRole("dialog", { name: /Restore «before update»/ })).toBeTruthy();
  });

  it("a replicating replica can be selected but not restored", () => {
    recordingEngine({}, {});
    wrap(<Timeline timeline={timeline()} />);
    const events = chart.last!.events as ChartEvents;
    act(() => events.click!({ seriesId: "replica-copying", value: [0, 1, 4] } as never));
    const sel = screen.getByTestId("timeline-selection");
    expect(sel.textContent).toContain("42% copied");
    expect((within(sel).getByRole("button", { name: "Restore…" }) as HTMLButtonElement).disabled).toBe(true);
  });

  it("the list of visible points is keyboard-selectable for a restore", async () => {
    const e = recordingEngine({ plan_restore: () => PLAN }, {});
    wrap(<Timeline timeline={timeline()} />);
    const list = screen.getByRole("listbox", { name: /Backups in the visible window: 5/ });
    // Newest first: the failed p3, then r2, then p2.
    const options = within(list).getAllByRole("option");
    expect(options[0]!.getAttribute("data-backup-id")).toBe("p3");
    list.focus();
    fireEvent.keyDown(list, { key: "ArrowDown" });
    fireEvent.keyDown(list, { key: "ArrowDown" });
    expect(list.getAttribute("aria-activedescendant")).toBe(options[2]!.id);
    fireEvent.keyDown(list, { key: "Enter" });
    expect(options[2]!.getAttribute("aria-selected")).toBe("true");
    fireEvent.click(within(screen.getByTestId("timeline-selection")).getByRole("button", { name: "Restore…" }));
    await waitFor(() => expect(e.of("plan_restore")).toHaveLength(1));
    expect(e.args("plan_restore")).toEqual({ backupId: "p2" });
  });

  it("the zoom buttons narrow the list to the visible window", async () => {
    recordingEngine({}, {});
    wrap(<Timeline timeline={timeline()} />);
    for (const name of ["Zoom in", "Zoom out", "Pan left", "Pan right", "Fit"]) expect(screen.getByRole("button", { name })).toBeTruthy();
    // The whole window shows five backups; zoomed in on its middle (Nov 19 to Nov 26) three.
    fireEvent.click(screen.getByRole("button", { name: "Zoom in" }));
    expect(screen.getByRole("listbox", { name: /visible window: 3$/ })).toBeTruthy();
    // Narrower (Nov 20 18:00 to Nov 24 06:00), then earlier by a quarter of that four times:
    // Nov 17 06:00 to Nov 20 18:00 holds Nov 18's two.
    fireEvent.click(screen.getByRole("button", { name: "Zoom in" }));
    expect(screen.getByRole("listbox", { name: /visible window: 3$/ })).toBeTruthy();
    for (let i = 0; i < 4; i++) fireEvent.click(screen.getByRole("button", { name: "Pan left" }));
    expect(screen.getByRole("listbox", { name: /visible window: 2$/ })).toBeTruthy();
    fireEvent.click(screen.getByRole("button", { name: "Fit" }));
    expect(screen.getByRole("listbox", { name: /visible window: 5$/ })).toBeTruthy();
    // At a bound a button says it does nothing but keeps the keyboard focus (never `disabled`).
    const fit = screen.getByRole("button", { name: "Fit" }) as HTMLButtonElement;
    expect(fit.getAttribute("aria-disabled")).toBe("true");
    expect(fit.disabled).toBe(false);
    // The chart's own zoom (wheel, slider) comes in steps: the span shown follows each step at
    // once, the list once the chart has been still for a moment (a pan re-renders the toolbar
    // only), and then the same way as the buttons.
    const shown = screen.getByTestId("timeline-visible");
    const before = shown.textContent;
    act(() => (chart.last!.events as ChartEvents).zoom!(30, 90));
    act(() => (chart.last!.events as ChartEvents).zoom!(40, 100));
    expect(shown.textContent).not.toBe(before);
    expect(screen.getByRole("listbox", { name: /visible window: 5$/ })).toBeTruthy();
    await waitFor(() => expect(screen.getByRole("listbox", { name: /visible window: 1$/ })).toBeTruthy());
  });
});

describe("Timeline of a crowded window", () => {
  it("lists the buckets with their counts; Enter on one zooms in and reads that part again, backup by backup", async () => {
    const e = recordingEngine({ plan_restore: () => PLAN }, {});
    const asks: [string, string, number][] = [];
    const detail = timeline({
      primary: [point("d1", { created_at: "2026-11-21T02:05:00Z" }), point("d2", { created_at: "2026-11-21T02:40:00Z", name: "the one" })],
      replicas: [],
      buckets: [],
    });
    const readDetail: ReadDetail = (from, to, columns) => {
      asks.push([from, to, columns]);
      return Promise.resolve({ ok: { ...detail, from, to } });
    };
    wrap(<Timeline timeline={crowded()} readDetail={readDetail} />);
    // 400 + 300 primary backups and 250 replicas: every one counted, none listed one by one.
    const list = screen.getByRole("listbox", { name: /Backups in the visible window: 950$/ });
    const rows = within(list).getAllByRole("option");
    expect(rows).toHaveLength(3);
    expect(rows[2]!.getAttribute("aria-label")).toContain("400 primary backups");
    expect(rows[2]!.textContent).toContain("10 failed");
    expect(asks).toHaveLength(0);
    // The newest bucket of primaries (second row, Nov 21 02:00-03:00): Enter zooms in to it.
    list.focus();
    fireEvent.keyDown(list, { key: "ArrowDown" });
    fireEvent.keyDown(list, { key: "Enter" });
    await waitFor(() => expect(asks).toHaveLength(1));
    const [from, to, columns] = asks[0]!;
    // The part in view and as much on each side, at about a column per pixel (800 - 174 px, x3).
    expect(Date.parse(from)).toBeLessThan(Date.parse("2026-11-21T02:01:00Z"));
    expect(Date.parse(to)).toBeGreaterThan(Date.parse("2026-11-21T02:50:00Z"));
    expect(columns).toBeGreaterThan(1500);
    // Now the backups themselves: selectable for a restore.
    const zoomed = await screen.findByRole("listbox", { name: /Backups in the visible window: 2$/ });
    const options = within(zoomed).getAllByRole("option");
    expect(options[0]!.getAttribute("data-backup-id")).toBe("d2");
    fireEvent.click(options[0]!);
    fireEvent.click(within(screen.getByTestId("timeline-selection")).getByRole("button", { name: "Restore…" }));
    await waitFor(() => expect(e.of("plan_restore")).toHaveLength(1));
    expect(e.args("plan_restore")).toEqual({ backupId: "d2" });
    // Fit: the whole window again, from the first answer, with no re-read.
    fireEvent.click(screen.getByRole("button", { name: "Fit" }));
    expect(screen.getByRole("listbox", { name: /visible window: 950$/ })).toBeTruthy();
    await new Promise((r) => setTimeout(r, 300));
    expect(asks).toHaveLength(1);
  });

  it("a click on a bucket on the chart zooms in to it; a failed re-read is shown with the engine's words", async () => {
    recordingEngine({}, {});
    const readDetail: ReadDetail = () => Promise.resolve({ error: { code: "internal", message: "the catalog is locked" } });
    wrap(<Timeline timeline={crowded()} readDetail={readDetail} />);
    act(() => (chart.last!.events as ChartEvents).click!({ seriesId: "bucket-primary-failed", value: [0, 0, 0] } as never));
    expect(screen.getByTestId("timeline-selection-text").textContent).toContain("400 primary backups");
    expect(screen.getByRole("listbox", { name: /visible window: 400$/ })).toBeTruthy();
    expect(await screen.findByText(/the catalog is locked/)).toBeTruthy();
  });

  it("a small window is never read again on zoom: it has every backup already", async () => {
    recordingEngine({}, {});
    const readDetail = vi.fn<ReadDetail>();
    wrap(<Timeline timeline={timeline()} readDetail={readDetail} />);
    fireEvent.click(screen.getByRole("button", { name: "Zoom in" }));
    await new Promise((r) => setTimeout(r, 300));
    expect(readDetail).not.toHaveBeenCalled();
  });
});

const tabEngine = (t: () => Timeline_Serialize, extra = {}) =>
  recordingEngine(
    {
      dr_configs: () => [],
      timeline: () => t(),
      target_rpo: () => ({ account_id: "z1", hours: 24, source: "schedule" }),
      ...extra,
    },
    {},
  );

describe("Timeline tab", () => {
  it("asks for the account's window and says plainly how many points the engine left out", async () => {
    const e = tabEngine(() => timeline({ points_left_out: 2500, gaps_left_out: 3, gaps: timeline().gaps }));
    wrap(<TimelineTab accounts={ACCOUNTS} />);
    await waitFor(() => expect(e.of("timeline")).toHaveLength(1), { timeout: 2000 });
    const q = e.args("timeline").query as Record<string, unknown>;
    expect(q.account_id).toBe("z1");
    expect(q.volume).toBeNull();
    // A few thousand backups one by one at most; beyond, counted per pixel column.
    expect(q.max_points).toBe(5_000);
    expect(q.columns).toBeGreaterThanOrEqual(300);
    expect(q.backups_only).toBeUndefined();
    // Last 7 days and the next 7.
    expect(Date.parse(q.to as string) - Date.parse(q.from as string)).toBe(14 * 86_400_000);
    const notice = await screen.findByTestId("timeline-left-out");
    expect(notice.textContent).toContain("2,500 older backups in this window are not drawn");
    expect(notice.textContent).toContain("3 shorter gaps are not shaded");
  });

  it("no notice when nothing was left out", async () => {
    const e = tabEngine(() => timeline());
    wrap(<TimelineTab accounts={ACCOUNTS} />);
    await waitFor(() => expect(e.of("timeline")).toHaveLength(1), { timeout: 2000 });
    await screen.findByTestId("timeline-chart");
    expect(screen.queryByTestId("timeline-left-out")).toBeNull();
  });

  it("saves the target RPO in hours and reads the timeline again", async () => {
    const e = tabEngine(() => timeline(), {
      set_target_rpo: (a: Record<string, unknown>) => ({ account_id: "z1", hours: a.hours, source: "set" }),
    });
    wrap(<TimelineTab accounts={ACCOUNTS} />);
    const field = (await screen.findByLabelText("Target RPO (hours)")) as HTMLInputElement;
    await waitFor(() => expect(field.value).toBe("24"));
    await waitFor(() => expect(e.of("timeline")).toHaveLength(1), { timeout: 2000 });
    fireEvent.change(field, { target: { value: "12" } });
    fireEvent.click(screen.getByRole("button", { name: "Save target RPO" }));
    await waitFor(() => expect(e.of("set_target_rpo")).toHaveLength(1));
    expect(e.args("set_target_rpo")).toEqual({ account: "z1", hours: 12 });
    expect(await screen.findByText("Saved: 12 hours.")).toBeTruthy();
    await waitFor(() => expect(e.of("timeline")).toHaveLength(2));
  });

  it("refuses an RPO out of bounds before asking the engine", async () => {
    const e = tabEngine(() => timeline(), { set_target_rpo: () => ({}) });
    wrap(<TimelineTab accounts={ACCOUNTS} />);
    const field = (await screen.findByLabelText("Target RPO (hours)")) as HTMLInputElement;
    await waitFor(() => expect(field.value).toBe("24"));
    fireEvent.change(field, { target: { value: "9000" } });
    expect(await screen.findByText("Enter whole hours from 1 to 8784.")).toBeTruthy();
    expect((screen.getByRole("button", { name: "Save target RPO" }) as HTMLButtonElement).disabled).toBe(true);
    expect(e.of("set_target_rpo")).toHaveLength(0);
  });
});

const CONFIG: DrConfig = {
  account_id: "z1",
  account_name: "lab-azure",
  frame_account: "acme-pd",
  target: { kind: "azure", secondary_region: "northeurope", secondary_resource_group: "frame-acme-pd-dr" },
  enabled_at: "2026-11-20T10:00:00Z",
};

describe("Export and import", () => {
  it("shows the path written; a cancelled dialog shows nothing", async () => {
    let answer: string | null = null;
    const e = recordingEngine({ export_dr_config: () => answer }, {});
    wrap(<DrExports config={CONFIG} onEnableDr={() => {}} />);
    const button = screen.getByRole("button", { name: "Export DR configuration" });
    fireEvent.click(button);
    await waitFor(() => expect(e.of("export_dr_config")).toHaveLength(1));
    await waitFor(() => expect((button as HTMLButtonElement).disabled).toBe(false));
    expect(e.args("export_dr_config")).toEqual({ account: "z1" });
    expect(screen.queryByTestId("written-path")).toBeNull();
    expect(screen.queryByRole("alert")).toBeNull();
    answer = "/home/admin/lab-azure-dr-config.json";
    fireEvent.click(button);
    expect((await screen.findByTestId("written-path")).textContent).toBe("/home/admin/lab-azure-dr-config.json");
  });

  it("writes the backup report and says how many rows; an error is shown in place", async () => {
    let fail = true;
    recordingEngine(
      {
        export_backup_report: (a) => {
          if (fail) throw { code: "io", message: "cannot write /root/x.csv: permission denied" };
          expect(a).toEqual({ account: "z1", volume: null });
          return { path: "/tmp/lab-azure-backups.csv", rows: 1234 };
        },
      },
      {},
    );
    wrap(<DrExports config={CONFIG} onEnableDr={() => {}} />);
    fireEvent.click(screen.getByRole("button", { name: "Export backup report (CSV)" }));
    expect((await screen.findByRole("alert")).textContent).toContain("permission denied");
    fail = false;
    fireEvent.click(screen.getByRole("button", { name: "Export backup report (CSV)" }));
    expect((await screen.findByTestId("written-path")).textContent).toBe("/tmp/lab-azure-backups.csv");
    expect(screen.getByText(/1,234 backups, one row each/)).toBeTruthy();
    expect(screen.queryByText("The backup report was not written")).toBeNull();
  });

  it("shows what an import applied and, when DR differs, offers the Enable DR wizard", async () => {
    recordingEngine(
      {
        import_dr_config: () => ({
          path: "/tmp/dr.json",
          outcome: {
            account_id: "z1",
            account_name: "lab-azure",
            applied: ["Schedule: every day at 02:00 Europe/Paris, 7 kept"],
            not_applied: ["Autogrow: the file has none"],
            disaster_recovery: {
              state: "different",
              wanted: { frame_account: "acme-pd", target: { kind: "azure", secondary_region: "swedencentral", secondary_resource_group: "dr" } },
              current: { frame_account: "acme-pd", target: CONFIG.target },
              differences: ["secondary region: northeurope here, swedencentral in the file"],
            },
          },
        }),
      },
      {},
    );
    const onEnableDr = vi.fn();
    wrap(<DrExports config={CONFIG} onEnableDr={onEnableDr} />);
    fireEvent.click(screen.getByRole("button", { name: "Import DR configuration" }));
    const result = await screen.findByTestId("dr-import-result");
    expect(result.textContent).toContain("Schedule: every day at 02:00 Europe/Paris, 7 kept");
    expect(result.textContent).toContain("Autogrow: the file has none");
    const differs = within(result).getByTestId("dr-differs");
    expect(differs.textContent).toContain("secondary region: northeurope here, swedencentral in the file");
    fireEvent.click(within(differs).getByRole("button", { name: "Open the Enable DR wizard" }));
    expect(onEnableDr).toHaveBeenCalledTimes(1);
    // The wizard starts from what the file wants, for the account it was imported onto.
    expect(onEnableDr).toHaveBeenCalledWith({
      accountId: "z1",
      dr: { frame_account: "acme-pd", target: { kind: "azure", secondary_region: "swedencentral", secondary_resource_group: "dr" } },
    });
  });

  it("says nothing about the wizard when the DR configuration is the same", async () => {
    recordingEngine(
      {
        import_dr_config: () => ({
          path: "/tmp/dr.json",
          outcome: { account_id: "z1", account_name: "lab-azure", applied: [], not_applied: [], disaster_recovery: { state: "same" } },
        }),
      },
      {},
    );
    wrap(<DrExports config={CONFIG} onEnableDr={() => {}} />);
    fireEvent.click(screen.getByRole("button", { name: "Import DR configuration" }));
    const result = await screen.findByTestId("dr-import-result");
    expect(result.textContent).toContain("the same as the file's");
    expect(screen.queryByTestId("dr-differs")).toBeNull();
  });
});

// The backups of a timeline in time order, for the list under the chart: the points merged once
// (both lanes come oldest first, so a merge is O(n)), the buckets (when the engine counted the
// backups instead of sending each) put among them, then each zoom finds its slice by binary search.
import type { Timeline_Serialize, TimelineBucket, TimelinePoint_Serialize } from "../bindings";

/** A row of the list: one backup, or a bucket of backups too close together to draw apart. */
export type Item = { kind: "point"; point: TimelinePoint_Serialize } | { kind: "bucket"; bucket: TimelineBucket };

/** `points` alone (for finding a backup by id) and every item with its instant, in time order. */
export type Ordered = { points: TimelinePoint_Serialize[]; items: Item[]; at: Float64Array };

function mergedPoints(t: Timeline_Serialize): { points: TimelinePoint_Serialize[]; at: Float64Array } {
  const a = t.primary;
  const b = t.replicas;
  const points: TimelinePoint_Serialize[] = new Array(a.length + b.length);
  const at = new Float64Array(a.length + b.length);
  let i = 0;
  let j = 0;
  let k = 0;
  let ai = a.length > 0 ? Date.parse(a[0]!.created_at) : 0;
  let bj = b.length > 0 ? Date.parse(b[0]!.created_at) : 0;
  while (i < a.length || j < b.length) {
    if (j >= b.length || (i < a.length && ai <= bj)) {
      points[k] = a[i]!;
      at[k++] = ai;
      i++;
      if (i < a.length) ai = Date.parse(a[i]!.created_at);
    } else {
      points[k] = b[j]!;
      at[k++] = bj;
      j++;
      if (j < b.length) bj = Date.parse(b[j]!.created_at);
    }
  }
  return { points, at };
}

/** Where a bucket sits on the axis (and in the list): the middle of its column. */
export function bucketAt(b: TimelineBucket): number {
  return (Date.parse(b.start) + Date.parse(b.end)) / 2;
}

export function ordered(t: Timeline_Serialize): Ordered {
  const { points, at } = mergedPoints(t);
  // The expiry lane's buckets are not backups taken then: the list has the backups themselves.
  const buckets = t.buckets.filter((b) => b.lane !== "expiry");
  if (buckets.length === 0) return { points, items: points.map((point) => ({ kind: "point", point })), at };
  const all: [number, Item][] = points.map((point, i) => [at[i]!, { kind: "point", point }]);
  for (const bucket of buckets) all.push([bucketAt(bucket), { kind: "bucket", bucket }]);
  all.sort((x, y) => x[0] - y[0]);
  return { points, items: all.map((x) => x[1]), at: Float64Array.from(all, (x) => x[0]) };
}

/** The first index whose instant is at least `t`. */
function lowerBound(at: Float64Array, t: number): number {
  let lo = 0;
  let hi = at.length;
  while (lo < hi) {
    const mid = (lo + hi) >>> 1;
    if (at[mid]! < t) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}

/** The half-open index range of the items within [from, to]. */
export function visibleRange(o: Ordered, from: number, to: number): [number, number] {
  return [lowerBound(o.at, from), lowerBound(o.at, to + 1)];
}

/**
 * The timeline as shown: the whole window's answer (`overview`) with a re-read of a zoomed part
 * (`detail`, finer buckets or the backups one by one) over it. Inside the detail's window its
 * backups replace the overview's; outside it the overview's buckets stay (those whose column's
 * middle is outside), so a pan shows the rest at once while the next re-read comes. The expiry
 * lane stays the overview's: it counts the expiries of the whole window's backups. Runs, gaps and
 * the rest are the overview's. Nothing here is invented: every mark is one of the engine's.
 */
export function withDetail(overview: Timeline_Serialize, detail: Timeline_Serialize | null): Timeline_Serialize {
  if (!detail) return overview;
  const lo = Date.parse(detail.from);
  const hi = Date.parse(detail.to);
  const outside = (b: TimelineBucket) => {
    const x = bucketAt(b);
    return x < lo || x > hi;
  };
  return {
    ...overview,
    primary: detail.primary,
    replicas: detail.replicas,
    buckets: [
      ...overview.buckets.filter((b) => b.lane === "expiry" || outside(b)),
      ...detail.buckets.filter((b) => b.lane !== "expiry"),
    ],
  };
}

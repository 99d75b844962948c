// The backups of a timeline in time order, for the list under the chart: merged once (both lanes
// come oldest first, so a merge is O(n)), then each zoom finds its slice by binary search.
import type { Timeline_Serialize, TimelinePoint_Serialize } from "../bindings";

export type Ordered = { points: TimelinePoint_Serialize[]; at: Float64Array };

export function ordered(t: Timeline_Serialize): Ordered {
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

/** The half-open index range of the points taken within [from, to]. */
export function visibleRange(o: Ordered, from: number, to: number): [number, number] {
  return [lowerBound(o.at, from), lowerBound(o.at, to + 1)];
}

// The chart's zoom window (start and end in percent of the x axis) while it moves. A pan or a
// wheel zoom changes it on every step; re-rendering the whole timeline (its list, selection and
// legend) that often cost each step 10-15 ms, a third of a frame here. So the steps go to this
// small store, which only the toolbar and its "from ... to ..." text read, and the page takes
// the window once the chart has been still for a moment (`Timeline`).
export type Zoom = readonly [number, number];

/** The narrowest window the buttons zoom to, in percent of the axis. */
export const MIN_SPAN = 0.05;

export function clampZoom(start: number, end: number): Zoom {
  const span = Math.min(100, Math.max(MIN_SPAN, end - start));
  const s = Math.min(100 - span, Math.max(0, start));
  return [s, s + span];
}

export function sameZoom(a: Zoom, b: Zoom): boolean {
  return a[0] === b[0] && a[1] === b[1];
}

/** A value with subscribers, in the shape `useSyncExternalStore` takes. */
export class LiveZoom {
  private value: Zoom = [0, 100];
  private readonly listeners = new Set<() => void>();

  readonly get = (): Zoom => this.value;

  readonly subscribe = (listener: () => void): (() => void) => {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  };

  set(next: Zoom): void {
    if (sameZoom(next, this.value)) return;
    this.value = next;
    for (const l of this.listeners) l();
  }
}

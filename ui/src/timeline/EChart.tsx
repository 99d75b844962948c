// A small React wrapper around one ECharts instance: created on its div, given the option, resized
// with its container, disposed on unmount. `overlay` is merged over the option (by series id) so
// that a change of selection does not hand the chart its 100,000 points again.
import { forwardRef, useEffect, useImperativeHandle, useRef, type CSSProperties } from "react";

import { echarts, type ECElementEvent, type EChartsCoreOption, type EChartsType } from "./echarts";

export type ChartEvents = {
  click?: (e: ECElementEvent) => void;
  /** The zoom window changed: start and end in percent of the x axis. */
  zoom?: (start: number, end: number) => void;
};

export type EChartHandle = {
  zoomTo: (start: number, end: number) => void;
  /** The chart's width in CSS pixels (0 before it is drawn). */
  width: () => number;
};

type Props = {
  option: EChartsCoreOption;
  overlay?: EChartsCoreOption;
  events?: ChartEvents;
  style?: CSSProperties;
  "data-testid"?: string;
  "aria-label"?: string;
};

type ZoomEvent = { start?: number; end?: number; batch?: { start?: number; end?: number }[] };

export const EChart = forwardRef<EChartHandle, Props>(function EChart(props, ref) {
  const div = useRef<HTMLDivElement>(null);
  const chart = useRef<EChartsType | null>(null);
  // Whether this chart instance has had its first (whole) option.
  const given = useRef(false);
  // Handlers change on each render; the chart calls whatever is current.
  const events = useRef<ChartEvents | undefined>(props.events);
  useEffect(() => {
    events.current = props.events;
  });

  useEffect(() => {
    const el = div.current;
    if (!el) return;
    const c = echarts.init(el, undefined, { renderer: "canvas" });
    chart.current = c;
    given.current = false;
    c.on("click", (e) => events.current?.click?.(e as ECElementEvent));
    c.on("datazoom", (e) => {
      const z = e as ZoomEvent;
      const b = z.batch?.[0] ?? z;
      if (typeof b.start === "number" && typeof b.end === "number") events.current?.zoom?.(b.start, b.end);
    });
    const resize = new ResizeObserver(() => c.resize());
    resize.observe(el);
    return () => {
      resize.disconnect();
      c.dispose();
      chart.current = null;
    };
  }, []);

  useEffect(() => {
    const c = chart.current;
    if (!c) return;
    if (!given.current) {
      c.setOption(props.option, { notMerge: true });
      given.current = true;
      return;
    }
    // Later options (a re-read of the zoomed part, a reload, a change of theme) replace the
    // series by id and leave the zoom where the administrator has it: the dataZoom components
    // are merged without their start and end, and are never rebuilt, so a drag in progress
    // goes on. A new query remounts.
    const o = props.option as { dataZoom?: Record<string, unknown>[] };
    const dataZoom = o.dataZoom?.map((z) => Object.fromEntries(Object.entries(z).filter(([k]) => k !== "start" && k !== "end")));
    c.setOption({ ...props.option, dataZoom }, { replaceMerge: ["series"] });
  }, [props.option]);

  useEffect(() => {
    if (props.overlay) chart.current?.setOption(props.overlay);
  }, [props.overlay, props.option]);

  useImperativeHandle(ref, () => ({
    zoomTo(start, end) {
      chart.current?.dispatchAction({ type: "dataZoom", start, end });
    },
    width() {
      return chart.current?.getWidth() ?? 0;
    },
  }));

  return <div ref={div} style={props.style} data-testid={props["data-testid"]} aria-label={props["aria-label"]} role="img" />;
});

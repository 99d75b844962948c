// The timeline of backups: the chart (zoom and pan with the mouse, the slider or the buttons), the
// selected point with its Restore button, and the same points as a keyboard-selectable list for
// those who do not use the chart. When the engine counted the window's backups in buckets (too
// many to draw one by one), a zoom re-reads the part in view, finer, once the zoom settles.
import { Badge, Box, Button, Card, Group, Stack, Text, Title, useComputedColorScheme } from "@mantine/core";
import { IconRestore } from "@tabler/icons-react";
import { useVirtualizer } from "@tanstack/react-virtual";
import { memo, useCallback, useEffect, useMemo, useRef, useState, type KeyboardEvent } from "react";

import type { ApiError, Timeline_Serialize, TimelineBucket, TimelinePoint_Serialize } from "../bindings";
import { ErrorNotice } from "../components/ErrorNotice";
import { RestoreDialog, type RestoreOutcome } from "../backups/RestoreDialog";
import { KIND, SITE, stateText, STATE_COLOR, when } from "../backups/words";
import { EChart, type EChartHandle } from "./EChart";
import { describe, describeBucket, palette, refOf, selectionOverlay, timelineOption, xRange, type Ref, type Scheme } from "./option";
import { ordered, visibleRange, withDetail, type Item } from "./points";
import { num } from "../numbers";
import { ZoomBar } from "./ZoomBar";
import { clampZoom, LiveZoom, sameZoom, type Zoom } from "./zoom";

export { timelineOption } from "./option";

const ROW_HEIGHT = 36;
/** The page (list, selection, re-read) takes the chart's zoom once it has been still this long. */
const COMMIT_MS = 100;
/** A zoom the page took re-reads the part in view once it has been still this long again. */
const SETTLE_MS = 150;
/** The chart's grid leaves this much of its width to the lane names and the right margin. */
const GRID_MARGIN_PX = 174;

/** A re-read of part of the window: backups only, counted in `columns` columns when many. */
export type ReadDetail = (from: string, to: string, columns: number) => Promise<{ ok: Timeline_Serialize } | { error: ApiError }>;

export function Timeline(props: { timeline: Timeline_Serialize; readDetail?: ReadDetail; onRestored?: (o: RestoreOutcome) => void }) {
  const overview = props.timeline;
  const scheme: Scheme = useComputedColorScheme("light");
  const chart = useRef<EChartHandle>(null);
  // The page's zoom lags the chart's by COMMIT_MS during a pan; the toolbar follows `live`.
  const [zoom, setZoom] = useState<Zoom>([0, 100]);
  const live = useMemo(() => new LiveZoom(), []);
  const commitTimer = useRef<number | undefined>(undefined);
  useEffect(() => () => window.clearTimeout(commitTimer.current), []);
  const commit = useCallback((z: Zoom) => {
    window.clearTimeout(commitTimer.current);
    setZoom((prev) => (sameZoom(prev, z) ? prev : z));
  }, []);
  const [selected, setSelected] = useState<Ref | null>(null);
  const [restoring, setRestoring] = useState<string | null>(null);
  const [detail, setDetail] = useState<{ of: Timeline_Serialize; t: Timeline_Serialize } | null>(null);
  const [detailError, setDetailError] = useState<ApiError | null>(null);

  // A detail read for an older overview is dropped with it; the whole window needs none.
  const whole = zoom[0] <= 0 && zoom[1] >= 100;
  const shownDetail = detail && detail.of === overview && !whole ? detail.t : null;
  const t = useMemo(() => withDetail(overview, shownDetail), [overview, shownDetail]);
  const option = useMemo(() => timelineOption(t, scheme), [t, scheme]);
  const ord = useMemo(() => ordered(t), [t]);
  // A reload keeps the selection when the backup is still there (its state may have moved on);
  // a backup now counted in a bucket (zoomed out) stays selected as it was read.
  const selectedPoint = useMemo(() => {
    if (selected?.kind !== "point") return null;
    const id = selected.point.backup_id;
    return ord.points.find((p) => p.backup_id === id) ?? (t.buckets.length > 0 ? selected.point : null);
  }, [selected, ord, t]);
  const overlay = useMemo(() => selectionOverlay(selectedPoint, scheme), [selectedPoint, scheme]);

  const [min, max] = xRange(t);
  const from = min + ((max - min) * zoom[0]) / 100;
  const to = min + ((max - min) * zoom[1]) / 100;
  const [lo, hi] = visibleRange(ord, from, to);

  // Zoomed into a window the engine counted in buckets: once the zoom settles, read the part in
  // view and as much again on each side (so that a pan shows it at once) at the screen's
  // resolution. The whole window needs no re-read.
  const bucketed = overview.buckets.length > 0;
  const readDetail = props.readDetail;
  const asked = useRef(0);
  useEffect(() => {
    if (!bucketed || !readDetail) return;
    const ask = ++asked.current;
    if (whole) return;
    const timer = setTimeout(() => {
      const span = ((max - min) * (zoom[1] - zoom[0])) / 100;
      const start = Math.max(min, min + ((max - min) * zoom[0]) / 100 - span);
      const end = Math.min(max, min + ((max - min) * zoom[1]) / 100 + span);
      const plot = Math.max(100, (chart.current?.width() || 800) - GRID_MARGIN_PX);
      const columns = Math.max(1, Math.round((plot * (end - start)) / span));
      void readDetail(new Date(start).toISOString(), new Date(end).toISOString(), columns).then((out) => {
        if (ask !== asked.current) return;
        if ("ok" in out) {
          setDetail({ of: overview, t: out.ok });
          setDetailError(null);
        } else setDetailError(out.error);
      });
    }, SETTLE_MS);
    return () => clearTimeout(timer);
  }, [bucketed, readDetail, overview, zoom, whole, min, max]);

  // A button's zoom is taken at once: it is one step, not a stream of them.
  const zoomTo = useCallback(
    (start: number, end: number) => {
      const z = clampZoom(start, end);
      if (sameZoom(z, live.get())) return;
      live.set(z);
      commit(z);
      chart.current?.zoomTo(z[0], z[1]);
    },
    [live, commit],
  );
  const chartZoomed = (start: number, end: number) => {
    live.set([start, end]);
    window.clearTimeout(commitTimer.current);
    commitTimer.current = window.setTimeout(() => commit(live.get()), COMMIT_MS);
  };

  const select = (p: TimelinePoint_Serialize) => setSelected({ kind: "point", point: p });
  // A bucket is reached by zooming in to its backups (first to last, with a little room).
  const zoomToBucket = (b: TimelineBucket) => {
    const first = Date.parse(b.first);
    const last = Date.parse(b.last);
    const pad = Math.max((last - first) * 0.1, 60_000);
    const pct = (x: number) => ((x - min) * 100) / (max - min);
    zoomTo(pct(first - pad), pct(last + pad));
  };
  const pick = (item: Item) => {
    if (item.kind === "point") select(item.point);
    else {
      setSelected({ kind: "bucket", bucket: item.bucket });
      zoomToBucket(item.bucket);
    }
  };

  return (
    <Stack gap="sm">
      <Group justify="space-between" wrap="wrap" gap="xs">
        <ZoomBar live={live} min={min} max={max} zoomTo={zoomTo} />
        <Legend scheme={scheme} />
      </Group>
      <EChart
        ref={chart}
        option={option}
        overlay={overlay}
        events={{
          click: (e) => {
            const ref = refOf(t, e.seriesId, e.value);
            if (ref) setSelected(ref);
            if (ref?.kind === "bucket") zoomToBucket(ref.bucket);
          },
          zoom: chartZoomed,
        }}
        style={{ width: "100%", height: 360 }}
        data-testid="timeline-chart"
        aria-label="Backup timeline chart. The same backups are listed below the chart, where they can be selected with the keyboard."
      />
      {detailError && !whole && <ErrorNotice title="The zoomed part of the timeline could not be read" error={detailError} />}
      <Selection selected={selected} point={selectedPoint} onRestore={(id) => setRestoring(id)} />
      <PointList
        ord={ord}
        lo={lo}
        hi={hi}
        selectedId={selectedPoint?.backup_id ?? null}
        onSelect={pick}
      />
      {restoring && (
        <RestoreDialog
          backupId={restoring}
          onClose={() => setRestoring(null)}
          onRestored={(o) => props.onRestored?.(o)}
        />
      )}
    </Stack>
  );
}

/** Memoised: a zoom or pan re-renders the timeline, and the legend only changes with the theme. */
const Legend = memo(function Legend(props: { scheme: Scheme }) {
  const p = palette(props.scheme);
  const items: [string, string, "dot" | "ring" | "bar" | "area" | "line"][] = [
    ["Primary", p.primary, "dot"],
    ["Replica", p.replica, "dot"],
    ["Copying / being taken", p.replica, "ring"],
    ["Failed", p.failed, "dot"],
    ["Expiry", p.expiry, "bar"],
    ["Many (zoom in)", p.primary, "bar"],
    ["Run to come", p.upcoming, "ring"],
    ["Skipped", p.skipped, "dot"],
    ["Gap > target RPO", p.gap, "area"],
    ["Now", p.now, "line"],
  ];
  return (
    <Group gap="sm" aria-hidden>
      {items.map(([label, color, shape]) => (
        <Group key={label} gap={4} wrap="nowrap">
          <Box
            w={shape === "bar" || shape === "line" ? 3 : 10}
            h={shape === "bar" || shape === "line" ? 12 : 10}
            style={{
              borderRadius: shape === "dot" || shape === "ring" ? "50%" : 2,
              background: shape === "ring" ? "transparent" : color,
              border: shape === "ring" ? `2px solid ${color}` : undefined,
              opacity: shape === "area" ? 0.6 : 1,
            }}
          />
          <Text size="xs" c="dimmed" style={{ whiteSpace: "nowrap" }}>
            {label}
          </Text>
        </Group>
      ))}
    </Group>
  );
});

function Selection(props: { selected: Ref | null; point: TimelinePoint_Serialize | null; onRestore: (id: string) => void }) {
  const p = props.point;
  let body;
  if (!props.selected) {
    body = (
      <Text size="sm" c="dimmed">
        Click a backup or a replica on the chart, or pick one in the list below, to restore it.
      </Text>
    );
  } else if (props.selected.kind !== "point") {
    body = (
      <Text size="sm" style={{ whiteSpace: "pre-line" }} data-testid="timeline-selection-text">
        {describe(props.selected)}
      </Text>
    );
  } else if (!p) {
    body = (
      <Text size="sm" c="dimmed">
        The selected backup is no longer in this window (retention may have deleted it).
      </Text>
    );
  } else {
    const usable = p.state === "available";
    body = (
      <Group justify="space-between" align="flex-start" wrap="nowrap" gap="md">
        <Text size="sm" data-testid="timeline-selection-text">
          {describe({ kind: "point", point: p })}
        </Text>
        <Stack gap={4} align="flex-end">
          <Button leftSection={<IconRestore size={16} />} onClick={() => props.onRestore(p.backup_id)} disabled={!usable}>
            Restore…
          </Button>
          {!usable && (
            <Text size="xs" c="dimmed" ta="right">
              Only an available backup can be restored.
            </Text>
          )}
        </Stack>
      </Group>
    );
  }
  return (
    <Card withBorder padding="sm" data-testid="timeline-selection" aria-live="polite" aria-label="Selected point">
      {body}
    </Card>
  );
}

function PointList(props: {
  ord: ReturnType<typeof ordered>;
  lo: number;
  hi: number;
  selectedId: string | null;
  onSelect: (item: Item) => void;
}) {
  const n = props.hi - props.lo;
  // Newest first: row r is the (r+1)-th newest item in view.
  const at = (r: number) => props.ord.items[props.hi - 1 - r]!;
  // Counted: the backups in view, a bucket counting for all of its own.
  let backups = 0;
  for (let r = props.lo; r < props.hi; r++) {
    const item = props.ord.items[r]!;
    backups += item.kind === "point" ? 1 : item.bucket.count;
  }
  const [active, setActive] = useState(0);
  // The active row is outlined only while the list has the keyboard focus.
  const [focused, setFocused] = useState(false);
  const current = Math.min(active, Math.max(0, n - 1));
  const scroller = useRef<HTMLDivElement>(null);
  // TanStack Virtual keeps its state outside React; the compiler is told not to memoise around it.
  // eslint-disable-next-line react-hooks/incompatible-library
  const virtual = useVirtualizer({
    count: n,
    getScrollElement: () => scroller.current,
    estimateSize: () => ROW_HEIGHT,
    overscan: 8,
  });
  const move = (r: number) => {
    const next = Math.min(n - 1, Math.max(0, r));
    setActive(next);
    virtual.scrollToIndex(next);
  };
  const onKey = (e: KeyboardEvent) => {
    if (n === 0) return;
    const page = Math.max(1, Math.floor((scroller.current?.clientHeight ?? 320) / ROW_HEIGHT) - 1);
    const keys: Record<string, () => void> = {
      ArrowDown: () => move(current + 1),
      ArrowUp: () => move(current - 1),
      PageDown: () => move(current + page),
      PageUp: () => move(current - page),
      Home: () => move(0),
      End: () => move(n - 1),
      Enter: () => props.onSelect(at(current)),
      " ": () => props.onSelect(at(current)),
    };
    const act = keys[e.key];
    if (act) {
      e.preventDefault();
      act();
    }
  };
  const optionId = (r: number) => `timeline-point-${props.lo}-${props.hi}-${r}`;
  return (
    <Stack gap={6}>
      <Title order={3} size="h6" id="timeline-list-title">
        Backups in the visible window: {num(backups)}
      </Title>
      {n === 0 ? (
        <Text size="sm" c="dimmed">
          No backup or replica was taken in this part of the window. Zoom out or press Fit to see the whole window.
        </Text>
      ) : (
        <>
          <Text size="xs" c="dimmed">
            Newest first. Arrow keys move, Enter selects the backup for a restore
            {n < backups ? " (or zooms in to a group of backups too close together to list one by one)" : ""}.
          </Text>
          <Box
            ref={scroller}
            role="listbox"
            aria-labelledby="timeline-list-title"
            aria-activedescendant={optionId(current)}
            tabIndex={0}
            onKeyDown={onKey}
            onFocus={() => setFocused(true)}
            onBlur={() => setFocused(false)}
            h={Math.min(320, n * ROW_HEIGHT + 2)}
            data-testid="timeline-list"
            className="mantine-focus-auto"
            style={{
              overflowY: "auto",
              border: "1px solid var(--mantine-color-default-border)",
              borderRadius: "var(--mantine-radius-sm)",
            }}
          >
            <div style={{ height: virtual.getTotalSize(), position: "relative" }}>
              {virtual.getVirtualItems().map((item) => {
                const it = at(item.index);
                const isActive = focused && item.index === current;
                const place = {
                  position: "absolute",
                  top: 0,
                  left: 0,
                  right: 0,
                  height: ROW_HEIGHT,
                  transform: `translateY(${item.start}px)`,
                  cursor: "pointer",
                  borderTop: item.index === 0 ? undefined : "1px solid var(--mantine-color-default-border)",
                  outline: isActive ? "2px solid var(--mantine-primary-color-filled)" : undefined,
                  outlineOffset: -2,
                } as const;
                // What a row is, bucket or backup: an option of the list, clicked as Enter selects it.
                const option = {
                  role: "option",
                  "aria-setsize": n,
                  "aria-posinset": item.index + 1,
                  "data-active": isActive || undefined,
                  onClick: () => {
                    setActive(item.index);
                    props.onSelect(it);
                  },
                  gap: "sm",
                  wrap: "nowrap",
                  px: "sm",
                } as const;
                if (it.kind === "bucket") {
                  const b = it.bucket;
                  return (
                    <Group
                      key={`${b.lane}-${b.start}`}
                      id={optionId(item.index)}
                      {...option}
                      aria-selected={false}
                      aria-label={describeBucket(b)}
                      data-bucket={b.lane}
                      style={place}
                    >
                      <Text size="sm" style={{ whiteSpace: "nowrap" }} miw={150}>
                        {when(b.first)}
                      </Text>
                      <Badge variant="outline" color={b.lane === "primary" ? "blue" : "grape"} tt="none" miw={70}>
                        {b.lane === "primary" ? "Primary" : "Replica"} ×{num(b.count)}
                      </Badge>
                      <Text size="sm" c="dimmed" style={{ flex: 1, whiteSpace: "nowrap", overflow: "hidden", textOverflow: "ellipsis" }}>
                        {num(b.count)} {b.lane === "primary" ? "primary backups" : "replicas"} to {when(b.last)}: Enter zooms in
                      </Text>
                      <Badge variant="light" color={STATE_COLOR[b.worst]} tt="none">
                        {b.failed > 0 ? `${num(b.failed)} failed` : b.in_progress > 0 ? `${num(b.in_progress)} in progress` : "all available"}
                      </Badge>
                    </Group>
                  );
                }
                const p = it.point;
                const isSelected = p.backup_id === props.selectedId;
                return (
                  <Group
                    key={p.backup_id}
                    id={optionId(item.index)}
                    {...option}
                    aria-selected={isSelected}
                    aria-label={`${SITE[p.site]} ${p.name}, ${p.volume_name}, ${when(p.created_at)}, ${stateText(p)}`}
                    data-backup-id={p.backup_id}
                    style={{ ...place, background: isSelected ? "var(--mantine-primary-color-light)" : undefined }}
                  >
                    <Text size="sm" style={{ whiteSpace: "nowrap" }} miw={150}>
                      {when(p.created_at)}
                    </Text>
                    <Badge variant="light" color={p.site === "primary" ? "blue" : "grape"} tt="none" miw={70}>
                      {SITE[p.site]}
                    </Badge>
                    <Text size="sm" fw={600} style={{ whiteSpace: "nowrap", overflow: "hidden", textOverflow: "ellipsis" }} miw={120} maw={220}>
                      {p.name}
                    </Text>
                    <Text size="sm" c="dimmed" style={{ flex: 1, whiteSpace: "nowrap", overflow: "hidden", textOverflow: "ellipsis" }}>
                      {p.volume_name} · {KIND[p.kind]}
                    </Text>
                    <Badge variant="light" color={STATE_COLOR[p.state]} tt="none">
                      {stateText(p)}
                    </Badge>
                    <Text size="xs" c="dimmed" style={{ whiteSpace: "nowrap" }} miw={140}>
                      {p.expires_at ? `expires ${when(p.expires_at)}` : "no expiry known"}
                    </Text>
                  </Group>
                );
              })}
            </div>
          </Box>
        </>
      )}
    </Stack>
  );
}

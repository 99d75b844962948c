// The timeline's zoom and pan buttons and the span in view. It follows the chart on every step of
// a pan (through `LiveZoom`) without re-rendering the page around it.
import { ActionIcon, Group, Text, Tooltip } from "@mantine/core";
import { IconArrowsHorizontal, IconChevronLeft, IconChevronRight, IconZoomIn, IconZoomOut } from "@tabler/icons-react";
import { memo, useMemo, useSyncExternalStore } from "react";

import { when } from "../backups/words";
import { MIN_SPAN, type LiveZoom } from "./zoom";

type Props = {
  live: LiveZoom;
  /** The x axis' bounds (epoch milliseconds). */
  min: number;
  max: number;
  zoomTo: (start: number, end: number) => void;
};

export const ZoomBar = memo(function ZoomBar({ live, min, max, zoomTo }: Props) {
  const zoom = useSyncExternalStore(live.subscribe, live.get);
  const span = zoom[1] - zoom[0];
  // The buttons read the window when pressed; during a pan only their look can change.
  const buttons = useMemo(() => {
    const now = () => {
      const [s, e] = live.get();
      return { s, e, span: e - s, centre: (s + e) / 2 };
    };
    return {
      zoomIn: () => {
        const z = now();
        zoomTo(z.centre - z.span / 4, z.centre + z.span / 4);
      },
      zoomOut: () => {
        const z = now();
        zoomTo(z.centre - z.span, z.centre + z.span);
      },
      panLeft: () => {
        const z = now();
        zoomTo(z.s - z.span / 4, z.e - z.span / 4);
      },
      panRight: () => {
        const z = now();
        zoomTo(z.s + z.span / 4, z.e + z.span / 4);
      },
      fit: () => zoomTo(0, 100),
    };
  }, [live, zoomTo]);
  const from = min + ((max - min) * zoom[0]) / 100;
  const to = min + ((max - min) * zoom[1]) / 100;
  return (
    <Group gap={4} role="toolbar" aria-label="Zoom and pan the timeline">
      <Buttons {...buttons} narrowest={span <= MIN_SPAN} whole={span >= 100} first={zoom[0] <= 0} last={zoom[1] >= 100} />
      <Text size="sm" c="dimmed" ml="xs" data-testid="timeline-visible" aria-live="polite">
        {when(new Date(from).toISOString())} to {when(new Date(to).toISOString())}
      </Text>
    </Group>
  );
});

type ButtonProps = {
  zoomIn: () => void;
  zoomOut: () => void;
  panLeft: () => void;
  panRight: () => void;
  fit: () => void;
  /** At a bound: the window is the narrowest, the whole axis, at its start or at its end. */
  narrowest: boolean;
  whole: boolean;
  first: boolean;
  last: boolean;
};

/**
 * At a bound a button does nothing; it stays focusable (a disabled button would drop the
 * keyboard focus) and looks disabled. Memoised on those flags: a pan step re-renders the span's
 * text, not five tooltips.
 */
const Buttons = memo(function Buttons(p: ButtonProps) {
  const buttons = [
    { label: "Zoom in", tip: "Zoom in", icon: IconZoomIn, onClick: p.zoomIn, off: p.narrowest },
    { label: "Zoom out", tip: "Zoom out", icon: IconZoomOut, onClick: p.zoomOut, off: p.whole },
    { label: "Pan left", tip: "Pan left (earlier)", icon: IconChevronLeft, onClick: p.panLeft, off: p.first },
    { label: "Pan right", tip: "Pan right (later)", icon: IconChevronRight, onClick: p.panRight, off: p.last },
    { label: "Fit", tip: "Fit the whole window", icon: IconArrowsHorizontal, onClick: p.fit, off: p.whole },
  ];
  return (
    <>
      {buttons.map(({ label, tip, icon: Icon, onClick, off }) => (
        <Tooltip key={label} label={tip}>
          <ActionIcon variant="default" size="lg" aria-label={label} onClick={onClick} data-disabled={off || undefined} aria-disabled={off}>
            <Icon size={18} />
          </ActionIcon>
        </Tooltip>
      ))}
    </>
  );
});

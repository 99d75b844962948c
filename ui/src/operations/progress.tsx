// Following a long operation the window started: each start command takes a ticket the window
// chooses, and the engine's progress events carry it back, so a dialog follows its own job.
import { Group, Progress, Text } from "@mantine/core";
import { useEffect, useRef, useState } from "react";

import { events, type JobProgress } from "../bindings";

/** A ticket for one start of an operation (`createBackup`, `restoreBackup`, ...). */
export function newTicket(): string {
  return globalThis.crypto?.randomUUID?.() ?? `t-${Date.now()}-${Math.random().toString(36).slice(2)}`;
}

/** Calls `onProgress` for every progress report of every running job (ticket or not). */
export function useJobProgressEvents(onProgress: (ticket: string | null, p: JobProgress) => void) {
  const latest = useRef(onProgress);
  useEffect(() => {
    latest.current = onProgress;
  });
  useEffect(() => {
    let live = true;
    let unlisten: (() => void) | undefined;
    events.jobProgressEvent
      .listen((e) => latest.current(e.payload.ticket, e.payload.progress))
      .then((u) => {
        if (live) unlisten = u;
        else u();
      })
      // Without the event channel the job still runs and its outcome still arrives.
      .catch(() => {});
    return () => {
      live = false;
      unlisten?.();
    };
  }, []);
}

/** The latest progress of the operation started with `ticket` (`null` until it reports). */
export function useTicketProgress(ticket: string | null): JobProgress | null {
  const [progress, setProgress] = useState<{ ticket: string; p: JobProgress } | null>(null);
  useJobProgressEvents((t, p) => {
    if (ticket !== null && t === ticket) setProgress({ ticket, p });
  });
  return progress && progress.ticket === ticket ? progress.p : null;
}

const MIB = 1024 ** 2;

/** A progress bar with the job's current step, and bytes when the provider says them. */
export function JobProgressBar(props: { progress: JobProgress | null; label: string }) {
  const p = props.progress;
  // f64s arrive as `number | null` (a NaN serialises as null): no figure reads as 0%.
  const percent = Math.max(0, Math.min(100, p?.percent ?? 0));
  const [done, all] = p?.bytes ?? [null, null];
  return (
    <div>
      <Group justify="space-between" mb={4}>
        <Text size="sm">{p?.step ?? "Starting…"}</Text>
        <Text size="sm" c="dimmed">
          {done !== null && all !== null ? `${(done / MIB).toFixed(0)} / ${(all / MIB).toFixed(0)} MiB · ` : ""}
          {percent.toFixed(0)}%
        </Text>
      </Group>
      <Progress value={percent} animated={percent < 100} aria-label={props.label} />
    </div>
  );
}

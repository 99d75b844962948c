// The scheduled-backup form both the Settings dialog (Backups tab) and the Enable DR wizard use:
// its fields, their checks, and the next five runs as the engine computes them for what is on
// screen (never computed here: daylight saving, the next-day rule and the interval are the
// engine's rules).
import { Alert, Group, List, Loader, NumberInput, Select, Stack, Switch, Text, TextInput } from "@mantine/core";
import { IconCalendarTime, IconInfoCircle } from "@tabler/icons-react";
import { useEffect, useMemo, useState } from "react";

import { commands, type ApiError, type SchedulePolicy, type SchedulePreview_Serialize } from "../bindings";
import { call, StepError } from "../wizards/parts";

/** The engine's bounds (`schedule::MAX_EVERY_DAYS`, `MAX_KEEP`). */
export const MAX_EVERY_DAYS = 366;
export const MAX_KEEP = 400;

export type ScheduleForm = {
  enabled: boolean;
  firstDate: string;
  firstTime: string;
  timeZone: string;
  everyDays: number | string;
  keep: number | string;
};
export type Errors = Record<string, string | undefined>;

/** The machine's IANA zone, the default of a new schedule. */
export function machineZone(): string {
  return Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
}

/** Today's date in `zone` (YYYY-MM-DD); the machine's date when the zone is unknown. Built from
 * parts: a locale's own order (WebKitGTK's en-CA gives MM/DD/YYYY) cannot be relied on. */
export function todayIn(zone: string): string {
  const opts = { year: "numeric", month: "2-digit", day: "2-digit" } as const;
  let fmt: Intl.DateTimeFormat;
  try {
    fmt = new Intl.DateTimeFormat("en-US", { ...opts, timeZone: zone });
  } catch {
    fmt = new Intl.DateTimeFormat("en-US", opts);
  }
  const part = (t: string) => fmt.formatToParts(new Date()).find((p) => p.type === t)?.value ?? "";
  return `${part("year")}-${part("month")}-${part("day")}`;
}

/** Every IANA zone the platform knows, with UTC and the machine's zone always offered. */
export function timeZones(): string[] {
  const all = new Set<string>(typeof Intl.supportedValuesOf === "function" ? Intl.supportedValuesOf("timeZone") : []);
  all.add("UTC");
  all.add(machineZone());
  return [...all].sort();
}

export function newSchedule(): ScheduleForm {
  const zone = machineZone();
  return { enabled: true, firstDate: todayIn(zone), firstTime: "02:00", timeZone: zone, everyDays: 1, keep: 7 };
}

export function formOf(p: SchedulePolicy): ScheduleForm {
  return {
    enabled: p.enabled,
    firstDate: p.first_date,
    firstTime: p.first_time,
    timeZone: p.time_zone,
    everyDays: p.every_days,
    keep: p.keep,
  };
}

const TIME = /^([01]?\d|2[0-3]):[0-5]\d$/;
const DATE = /^\d{4}-\d{2}-\d{2}$/;

function wholeIn(v: number | string, min: number, max: number) {
  const n = Number(v);
  return v !== "" && Number.isInteger(n) && n >= min && n <= max;
}

/** The checks the engine makes, done first so that each message sits next to its field. */
export function validateSchedule(f: ScheduleForm, frameAccount: string): Errors {
  const e: Errors = {};
  if (!frameAccount.trim()) e.frameAccount = "Enter the Frame account whose volumes are backed up, e.g. acme-pd.";
  if (!TIME.test(f.firstTime.trim())) e.firstTime = "Enter the time of day as HH:MM (24-hour), e.g. 02:00.";
  if (!DATE.test(f.firstDate.trim()) || Number.isNaN(Date.parse(f.firstDate.trim())))
    e.firstDate = "Enter the date of the first backup as YYYY-MM-DD, e.g. 2026-12-01.";
  if (!f.timeZone) e.timeZone = "Choose the time zone the backup time is in.";
  if (!wholeIn(f.everyDays, 1, MAX_EVERY_DAYS))
    e.everyDays = `Enter a whole number of days from 1 (daily) to ${MAX_EVERY_DAYS}.`;
  if (!wholeIn(f.keep, 1, MAX_KEEP))
    e.keep = `Enter how many scheduled backups to keep per volume, from 1 to ${MAX_KEEP}; the newest is always kept.`;
  return e;
}

export function toPolicy(f: ScheduleForm, frameAccount: string): SchedulePolicy {
  const time = f.firstTime.trim();
  return {
    frame_account: frameAccount.trim(),
    enabled: f.enabled,
    first_date: f.firstDate.trim(),
    first_time: time.length === 4 ? `0${time}` : time,
    time_zone: f.timeZone,
    every_days: Number(f.everyDays),
    keep: Number(f.keep),
  };
}

/** "Every day at 02:00 (Europe/Amsterdam) from 2026-12-01, 7 kept" */
export function describeSchedule(p: SchedulePolicy): string {
  if (!p.enabled) return "Off";
  const every = p.every_days === 1 ? "Every day" : `Every ${p.every_days} days`;
  return `${every} at ${p.first_time} (${p.time_zone}) from ${p.first_date}, ${p.keep} kept per volume`;
}

/** The schedule's fields. `errors` keys: firstDate, firstTime, timeZone, everyDays, keep. */
export function ScheduleFields(props: {
  form: ScheduleForm;
  errors: Errors;
  onChange: (f: ScheduleForm) => void;
  /** The switch's label (the wizard says "Schedule backups"). */
  toggleLabel?: string;
}) {
  const f = props.form;
  const zones = useMemo(() => timeZones(), []);
  // Inputs may report their value again without a change (NumberInput on re-render): that must
  // not clear the errors shown.
  const set = (patch: Partial<ScheduleForm>) => {
    if ((Object.keys(patch) as (keyof ScheduleForm)[]).every((k) => f[k] === patch[k])) return;
    props.onChange({ ...f, ...patch });
  };
  return (
    <Stack gap="sm">
      <Switch
        label={props.toggleLabel ?? "Scheduled backups"}
        description={
          f.enabled
            ? "Every persistent volume of the Frame account is backed up on this schedule."
            : "No scheduled backup runs. Switching off takes effect at once."
        }
        checked={f.enabled}
        onChange={(e) => set({ enabled: e.currentTarget.checked })}
        data-testid="schedule-enabled"
      />
      <Group grow align="flex-start">
        <TextInput
          label="First backup time"
          description="Local time in the zone below, 24-hour"
          placeholder="02:00"
          value={f.firstTime}
          onChange={(e) => set({ firstTime: e.currentTarget.value })}
          error={props.errors.firstTime}
          disabled={!f.enabled}
          inputMode="numeric"
        />
        <TextInput
          label="First backup date"
          description="YYYY-MM-DD"
          placeholder="2026-12-01"
          value={f.firstDate}
          onChange={(e) => set({ firstDate: e.currentTarget.value })}
          error={props.errors.firstDate}
          disabled={!f.enabled}
        />
      </Group>
      <Select
        label="Time zone"
        description="Type to search IANA time zones, e.g. Amsterdam or New_York"
        data={zones}
        value={f.timeZone}
        onChange={(v) => v && set({ timeZone: v })}
        searchable
        allowDeselect={false}
        nothingFoundMessage="No IANA time zone matches"
        error={props.errors.timeZone}
        disabled={!f.enabled}
        maxDropdownHeight={260}
        comboboxProps={{ withinPortal: true }}
        data-testid="time-zone"
      />
      <Group grow align="flex-start">
        <NumberInput
          label="Interval in days"
          description="1 backs up every day"
          min={1}
          max={MAX_EVERY_DAYS}
          allowDecimal={false}
          allowNegative={false}
          value={f.everyDays}
          onChange={(v) => set({ everyDays: v })}
          error={props.errors.everyDays}
          disabled={!f.enabled}
        />
        <NumberInput
          label="Number retained"
          description="Scheduled backups kept per volume and site"
          min={1}
          max={MAX_KEEP}
          allowDecimal={false}
          allowNegative={false}
          value={f.keep}
          onChange={(v) => set({ keep: v })}
          error={props.errors.keep}
          disabled={!f.enabled}
        />
      </Group>
    </Stack>
  );
}

/**
 * The next five runs of the schedule on screen, asked of the engine (`preview_schedule`) a
 * moment after the last change, with the next-day rule spelled out when it applies.
 */
export function NextRuns(props: { account: string; policy: SchedulePolicy | null }) {
  const key = props.policy ? JSON.stringify([props.account, props.policy]) : "";
  const [result, setResult] = useState<{ key: string; data?: SchedulePreview_Serialize; error?: ApiError } | null>(
    null,
  );
  useEffect(() => {
    if (!key || !props.policy) return;
    const policy = props.policy;
    let live = true;
    const t = setTimeout(() => {
      void call(() => commands.previewSchedule(props.account, policy)).then((out) => {
        if (!live) return;
        setResult(out.status === "ok" ? { key, data: out.data } : { key, error: out.error });
      });
    }, 250);
    return () => {
      live = false;
      clearTimeout(t);
    };
    // The key holds the account and the policy.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [key]);

  if (!props.policy) {
    return (
      <Text size="sm" c="dimmed" data-testid="next-runs">
        The next runs appear once the schedule's fields are valid.
      </Text>
    );
  }
  const current = result?.key === key ? result : null;
  if (!current) return <Loader size="sm" aria-label="Computing the next runs" />;
  if (current.error) return <StepError title="The next runs could not be computed" error={current.error} />;
  const p = current.data;
  if (!p) return null;
  const pending = p.schedule.pending;
  return (
    <Stack gap={6} aria-live="polite" data-testid="next-runs">
      <Group gap={6}>
        <IconCalendarTime size={18} aria-hidden />
        <Text size="sm" fw={600}>
          Next five runs
        </Text>
      </Group>
      {p.next_local.length === 0 ? (
        <Text size="sm" c="dimmed">
          None: scheduled backups are off.
        </Text>
      ) : (
        <List size="sm" spacing={2} aria-label="Next five runs">
          {p.next_local.map((t, i) => (
            <List.Item key={p.next[i] ?? t} data-run={p.next[i]}>
              {t}
            </List.Item>
          ))}
        </List>
      )}
      {pending && (
        <Alert variant="light" color="blue" icon={<IconInfoCircle />} p="xs" data-testid="next-day">
          <Text size="sm">
            This change takes effect on {pending.effective_date}: a changed schedule takes effect the next day, so the
            schedule in force still runs until the end of today.
          </Text>
        </Alert>
      )}
    </Stack>
  );
}

// Running and recent jobs with live progress bars (the notification center's top), and the
// header's count of running jobs, so a long job is visible from any page. The jobs are the
// engine's (`recentJobs`); bars move with its progress events; a notification (every job posts
// its start and its outcome) makes both read the jobs again.
import { Badge, Box, Button, Card, Group, Loader, Progress, Text, Title, Tooltip } from "@mantine/core";
import { useCallback, useEffect, useRef, useState } from "react";

import { commands, type ApiError, type JobProgress, type JobState, type JobSummary_Serialize } from "../bindings";
import { ErrorNotice } from "../components/ErrorNotice";
import { toApiError, useCommand } from "../ipc";
import { useNotificationAdded } from "../notifications/live";
import { absoluteTime, relativeTime } from "../notifications/time";
import { useJobProgressEvents } from "./progress";

export const JOBS_SHOWN = 20;
const RELOAD_DELAY_MS = 300;

const KIND: Record<string, string> = {
  backup: "Backup",
  backup_all: "Backup of all volumes",
  restore: "Restore",
  clone: "Clone",
  autogrow: "Autogrow",
};

const STATE: Record<JobState, { label: string; color: string }> = {
  queued: { label: "Queued", color: "gray" },
  running: { label: "Running", color: "blue" },
  succeeded: { label: "Succeeded", color: "green" },
  failed: { label: "Failed", color: "red" },
  cancelled: { label: "Cancelled", color: "orange" },
};

const active = (s: JobState) => s === "running" || s === "queued";

type Jobs =
  | { state: "loading" }
  | { state: "ready"; jobs: JobSummary_Serialize[] }
  | { state: "failed"; error: ApiError };

/**
 * The engine's recent jobs, read again when a notification arrives or a job the list does not
 * know reports progress; `live` holds the latest progress event of each job.
 */
export function useJobs() {
  const [jobs, setJobs] = useState<Jobs>({ state: "loading" });
  const [live, setLive] = useState<Record<string, JobProgress>>({});
  const asked = useRef(0);
  const known = useRef(new Set<string>());
  const reload = useCallback(() => {
    const ask = ++asked.current;
    commands
      .recentJobs(JOBS_SHOWN)
      .then((out) => {
        // Answers can cross: only the newest ask's is shown.
        if (ask !== asked.current) return;
        if (out.status === "ok") {
          known.current = new Set(out.data.map((j) => j.id));
          setJobs({ state: "ready", jobs: out.data });
        } else setJobs({ state: "failed", error: out.error });
      })
      .catch((e: unknown) => ask === asked.current && setJobs({ state: "failed", error: toApiError(e) }));
  }, []);
  useEffect(() => reload(), [reload]);
  // A notification comes in bursts (a job's milestone and outcome) and while the engine is still
  // posting it: read the jobs once, a moment after the burst, instead of once per event.
  const pending = useRef<ReturnType<typeof setTimeout> | null>(null);
  const reloadSoon = useCallback(() => {
    if (pending.current) clearTimeout(pending.current);
    pending.current = setTimeout(() => {
      pending.current = null;
      reload();
    }, RELOAD_DELAY_MS);
  }, [reload]);
  useEffect(() => () => void (pending.current && clearTimeout(pending.current)), []);
  useNotificationAdded(reloadSoon);
  useJobProgressEvents((_ticket, p) => {
    setLive((l) => ({ ...l, [p.job_id]: p }));
    // A job started since the last read (children of a backup of all volumes are not listed:
    // their progress is their parent's).
    if (jobs.state === "ready" && !known.current.has(p.job_id)) {
      known.current.add(p.job_id);
      reloadSoon();
    }
  });
  return { jobs, live, reload };
}

/** The notification center's list of running and recent jobs. */
export function JobsPanel() {
  const { jobs, live, reload } = useJobs();
  // Names for the jobs' account ids; without them the panel still lists the jobs.
  const accounts = useCommand(() => commands.listCloudAccounts());
  const names = new Map(accounts.state === "ready" ? accounts.data.map((a) => [a.id, a.name]) : []);
  const [now, setNow] = useState(() => Date.now());
  useEffect(() => {
    const timer = setInterval(() => setNow(Date.now()), 30_000);
    return () => clearInterval(timer);
  }, []);
  const running = jobs.state === "ready" ? jobs.jobs.filter((j) => active(j.state)).length : 0;
  return (
    <Card withBorder padding="md" component="section" aria-labelledby="jobs-title" data-testid="jobs-panel">
      <Group justify="space-between" mb="xs">
        <Title order={2} size="h4" id="jobs-title">
          Jobs
        </Title>
        <Group gap="xs">
          {jobs.state === "ready" && (
            <Text size="sm" c="dimmed" data-testid="jobs-running-count">
              {running === 0 ? "None running" : `${running} running`}
            </Text>
          )}
          <Button variant="subtle" size="compact-sm" onClick={reload}>
            Refresh
          </Button>
        </Group>
      </Group>
      {jobs.state === "loading" && <Loader size="sm" aria-label="Loading jobs" />}
      {jobs.state === "failed" && <ErrorNotice title="Jobs could not be read" error={jobs.error} />}
      {jobs.state === "ready" && jobs.jobs.length === 0 && (
        <Text size="sm" c="dimmed">
          No jobs yet. Backups, restores and clones are listed here while they run and after.
        </Text>
      )}
      {jobs.state === "ready" && jobs.jobs.length > 0 && (
        <Box
          component="ul"
          aria-label="Jobs, running first"
          m={0}
          p={0}
          style={{ listStyle: "none", maxHeight: 340, overflowY: "auto" }}
        >
          {jobs.jobs.map((j, i) => (
            <JobRow
              key={j.id}
              job={j}
              account={j.account_id ? names.get(j.account_id) : undefined}
              live={live[j.id]}
              now={now}
              first={i === 0}
            />
          ))}
        </Box>
      )}
    </Card>
  );
}

function JobRow(props: {
  job: JobSummary_Serialize;
  account: string | undefined;
  live: JobProgress | undefined;
  now: number;
  first: boolean;
}) {
  const j = props.job;
  const running = active(j.state);
  // A finished job's catalog row is the truth; a running one's bar follows its events.
  const percent = Math.max(0, Math.min(100, (running ? props.live?.percent : null) ?? j.progress ?? 0));
  const step = running ? (props.live?.step ?? j.message) : j.message;
  const state = STATE[j.state];
  const at = new Date(j.created_at);
  const kind = KIND[j.kind] ?? j.kind;
  return (
    <Box
      component="li"
      py="xs"
      data-job-id={j.id}
      data-state={j.state}
      style={{ borderTop: props.first ? undefined : "1px solid var(--mantine-color-default-border)" }}
    >
      <Group justify="space-between" wrap="nowrap" gap="sm" mb={4}>
        <Group gap="xs" wrap="nowrap" style={{ minWidth: 0 }}>
          <Badge color={state.color} variant="light" tt="none" data-testid="job-state">
            {state.label}
          </Badge>
          <Text size="sm" fw={600} truncate>
            {kind}
            {props.account && (
              <Text span fw={400} c="dimmed">
                {` · ${props.account}`}
              </Text>
            )}
          </Text>
          <Text size="xs" c="dimmed" style={{ whiteSpace: "nowrap" }}>
            <time dateTime={j.created_at} title={absoluteTime(at)}>
              {relativeTime(at, props.now)}
            </time>
            {" · "}
            <span title={j.id}>job {j.id.slice(0, 8)}</span>
          </Text>
        </Group>
        <Text size="sm" c="dimmed" style={{ whiteSpace: "nowrap" }}>
          {percent.toFixed(0)}%
        </Text>
      </Group>
      <Progress
        value={percent}
        color={state.color}
        animated={running}
        striped={running}
        aria-label={`${kind}: ${percent.toFixed(0)}%`}
        data-testid="job-progress"
        data-value={percent.toFixed(0)}
      />
      {(step || j.error) && (
        <Text size="xs" mt={4} c={j.error ? "red" : "dimmed"} style={{ overflowWrap: "anywhere" }}>
          {j.error ?? step}
        </Text>
      )}
    </Box>
  );
}

/** The header's "n jobs running": nothing when none runs; opens the notification center. */
export function RunningJobsIndicator(props: { onOpen: () => void }) {
  const { jobs } = useJobs();
  const running = jobs.state === "ready" ? jobs.jobs.filter((j) => active(j.state)).length : 0;
  if (running === 0) return null;
  const label = `${running} ${running === 1 ? "job" : "jobs"} running`;
  return (
    <Tooltip label="Follow them in the notification center">
      <Button
        variant="light"
        size="compact-sm"
        leftSection={<Loader size={12} aria-hidden />}
        onClick={props.onOpen}
        aria-label={`${label}: open the notification center`}
        data-testid="running-jobs"
      >
        {label}
      </Button>
    </Tooltip>
  );
}
